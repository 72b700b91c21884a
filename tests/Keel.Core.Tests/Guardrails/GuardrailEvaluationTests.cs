using Xunit.Abstractions;
using Keel.Core.Guardrails;
using Keel.Core.Guardrails.Learning;

namespace Keel.Core.Tests.Guardrails;

/// <summary>
/// Accuracy of the guardrail scanners on the shared labelled data (learned parts: held-out split only) and on
/// the hand-written examples in Guardrails/Data. Each test prints its table (run with
/// <c>--logger "console;verbosity=detailed"</c>; also written to bin/.../guardrail-eval/*.md) and asserts the
/// figures measured when the scanners were last tuned, minus a small margin, so regressions fail.
/// </summary>
public sealed class GuardrailEvaluationTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> s_piiTypes = new(StringComparer.Ordinal)
    {
        ["CREDIT_CARD"] = "pii.credit_card",
        ["EMAIL_ADDRESS"] = "pii.email",
        ["IBAN_CODE"] = "pii.iban",
        ["IP_ADDRESS"] = "pii.ip_address",
        ["PHONE_NUMBER"] = "pii.phone",
        ["US_SSN"] = "pii.us_ssn",
    };

    [Fact]
    public void PiiIdentifiers_SharedData_ValidValuesFoundAndLookAlikesLeftAlone()
    {
        var pii = GuardrailScanners.Get(GuardrailScanners.Pii)!;
        var byType = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var all = new Counts();
        var lookAlikesFlaggedAnyhow = 0;
        var misses = new List<string>();
        foreach (var row in GuardrailData.Rows("pii_identifiers.jsonl"))
        {
            var type = row.GetProperty("type").GetString()!;
            var text = row.GetProperty("text").GetString()!;
            var label = row.GetProperty("label").GetInt32() == 1;
            var findings = pii.Scan(text).Findings;
            // The value is recognised when a finding of its type covers exactly the whole value.
            var predicted = findings.Any(f => f.Scanner == s_piiTypes[type] && f.Start == 0 && f.End == text.Length);
            if (!label && type is "CREDIT_CARD" or "IBAN_CODE" or "US_SSN" && findings.Count > 0)
            {
                lookAlikesFlaggedAnyhow++;
            }
            if (label != predicted)
            {
                misses.Add($"{type} label={label} '{text}' → [{string.Join(", ", findings.Select(f => $"{f.Scanner}@{f.Start}-{f.End}"))}]");
            }
            (byType.TryGetValue(type, out var c) ? c : byType[type] = new Counts()).Add(label, predicted);
            all.Add(label, predicted);
        }
        var report = new Report(output, "pii-identifiers");
        report.Table("pii_identifiers.jsonl (whole value must be found with its type)", [.. byType.Select(kv => (kv.Key, kv.Value)), ("all", all)]);
        report.Line("");
        report.Line($"checksum-failing card/IBAN/SSN look-alikes with any finding at all: {lookAlikesFlaggedAnyhow}");
        report.Line("misses:");
        foreach (var m in misses)
        {
            report.Line("  " + m);
        }
        report.Flush();

        Assert.Equal(0, lookAlikesFlaggedAnyhow);
        Assert.Equal(0, byType["CREDIT_CARD"].Fp);
        Assert.Equal(0, byType["IBAN_CODE"].Fp);
        // Measured 0.992 (recall 0.985: phone numbers with no country code, trunk prefix or context, like
        // "451 5986", are left alone on purpose).
        Assert.True(all.F1 >= 0.98, $"identifier F1 {all.F1:0.000}");
    }

    [Fact]
    public void PiiSpans_SharedData_StructuredSpansFoundWithExactOffsets()
    {
        var pii = GuardrailScanners.Get(GuardrailScanners.Pii)!;
        var byType = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var all = new Counts();
        var errors = new List<string>();
        foreach (var row in GuardrailData.Rows("pii_spans.jsonl"))
        {
            var text = row.GetProperty("text").GetString()!;
            var gold = row.GetProperty("spans").EnumerateArray()
                .Where(s => s.GetProperty("structured").GetBoolean())
                .Select(s => (Type: s_piiTypes[s.GetProperty("type").GetString()!], Start: s.GetProperty("start").GetInt32(), End: s.GetProperty("end").GetInt32()))
                .ToList();
            var found = pii.Scan(text).Findings;
            foreach (var g in gold)
            {
                var hit = found.Any(f => f.Scanner == g.Type && f.Start == g.Start && f.End == g.End);
                Bump(byType, g.Type, hit ? 1 : 0, 0, hit ? 0 : 1);
                if (!hit)
                {
                    errors.Add($"missed {g.Type} '{text[g.Start..g.End]}' in: {Clip(text)}");
                }
            }
            foreach (var f in found)
            {
                if (!gold.Any(g => g.Type == f.Scanner && g.Start == f.Start && g.End == f.End))
                {
                    Bump(byType, f.Scanner, 0, 1, 0);
                    errors.Add($"extra {f.Scanner} '{text[f.Start..f.End]}' in: {Clip(text)}");
                }
            }
        }
        foreach (var c in byType.Values)
        {
            all.Tp += c.Tp;
            all.Fp += c.Fp;
            all.Fn += c.Fn;
        }
        var report = new Report(output, "pii-spans");
        report.Table("pii_spans.jsonl, structured types (exact start and end)", [.. byType.Select(kv => (kv.Key, kv.Value)), ("all", all)]);
        report.Line("");
        foreach (var e in errors)
        {
            report.Line("  " + e);
        }
        report.Flush();

        // Measured 1.000.
        Assert.True(all.F1 >= 0.98, $"span F1 {all.F1:0.000}");
    }

    [Fact]
    public void Secrets_HandWrittenExamples_MeetTarget()
    {
        var secrets = GuardrailScanners.Get(GuardrailScanners.Secrets)!;
        var all = new Counts();
        var byKind = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var errors = new List<string>();
        foreach (var row in GuardrailData.Local("secrets.jsonl"))
        {
            var text = row.GetProperty("text").GetString()!;
            var kind = row.GetProperty("kind").GetString()!;
            var label = row.GetProperty("label").GetInt32() == 1;
            var findings = secrets.Scan(text).Findings;
            var predicted = findings.Count > 0;
            all.Add(label, predicted);
            (byKind.TryGetValue(kind, out var c) ? c : byKind[kind] = new Counts()).Add(label, predicted);
            if (predicted != label)
            {
                errors.Add($"{kind} label={label}: {Clip(text)} → [{string.Join(", ", findings.Select(f => f.Scanner))}]");
            }
        }
        var report = new Report(output, "secrets");
        report.Table("tests/Keel.Core.Tests/Guardrails/Data/secrets.jsonl (hand-written)", [.. byKind.Select(kv => (kv.Key, kv.Value)), ("all", all)]);
        foreach (var e in errors)
        {
            report.Line("  " + e);
        }
        report.Flush();

        // Measured 0.991 on the hand-written set (see docs/guardrails.md for its limits).
        Assert.True(all.F1 >= 0.97, $"secrets F1 {all.F1:0.000}");
    }

    [Fact]
    public void Injection_HeldOutSplit_RecallAndFalsePositiveRate()
    {
        var scanner = GuardrailScanners.Get(GuardrailScanners.Injection)!;
        var bySource = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var byBand = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var byBandAndLabel = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var all = new Counts();
        var errors = new List<string>();
        foreach (var row in GuardrailData.Rows("injection.jsonl"))
        {
            var text = row.GetProperty("text").GetString()!;
            if (!DataSplit.IsHeldOut(text))
            {
                continue;
            }
            var label = row.GetProperty("label").GetInt32() == 1;
            var result = scanner.Scan(text);
            var predicted = result.HasFindings;
            all.Add(label, predicted);
            Bump(bySource, row.GetProperty("source").GetString()!, label, predicted);
            Bump(byBand, Band(text.Length), label, predicted);
            if (predicted != label)
            {
                errors.Add($"{(label ? "missed" : "false positive")} [{row.GetProperty("source").GetString()}] len={text.Length} [{string.Join(", ", result.Findings.Select(f => $"{f.Scanner}:{f.Score:0.00}"))}]: {Clip(text)}");
            }
        }
        var extra = new Counts();
        foreach (var row in GuardrailData.Local("injection_extra.jsonl"))
        {
            var text = row.GetProperty("text").GetString()!;
            var label = row.GetProperty("label").GetInt32() == 1;
            var result = scanner.Scan(text);
            var predicted = result.HasFindings;
            extra.Add(label, predicted);
            Bump(bySource, "hand-written: " + row.GetProperty("kind").GetString(), label, predicted);
            if (predicted != label)
            {
                errors.Add($"{(label ? "missed" : "false positive")} [hand-written {row.GetProperty("kind").GetString()}] [{string.Join(", ", result.Findings.Select(f => $"{f.Scanner}:{f.Score:0.00}"))}]: {Clip(text)}");
            }
        }
        var report = new Report(output, "injection");
        report.Table("injection.jsonl held-out split, all", [("all held-out", all)]);
        report.Table("by source (held-out split; hand-written rows from Guardrails/Data/injection_extra.jsonl)", bySource.Select(kv => (kv.Key, kv.Value)));
        report.Table("by length band in characters (held-out split)", byBand.Select(kv => (kv.Key, kv.Value)));
        report.Line("");
        foreach (var e in errors)
        {
            report.Line("  " + e);
        }
        report.Flush();

        // Measured on the held-out split: recall 0.916 at a false-positive rate of 0.046 (7 of 152 benign rows).
        // Out of fold on the training split: recall 0.917 at 0.024.
        Assert.True(all.Recall >= 0.90, $"recall {all.Recall:0.000}");
        Assert.True(all.Fpr <= 0.053, $"false-positive rate {all.Fpr:0.000}");
        // Hand-written: every attack found. The benign side shows the classifier's weak spot, short plain texts
        // unlike the benign rows it was trained on (measured FPR 0.40; see docs/guardrails.md).
        Assert.True(extra.Recall >= 0.95 && extra.Fpr <= 0.45, $"hand-written: recall {extra.Recall:0.000}, FPR {extra.Fpr:0.000}");
    }

    [Fact]
    public void Toxicity_HeldOutSplit_F1()
    {
        var scanner = GuardrailScanners.Get(GuardrailScanners.Toxicity)!;
        var bySource = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var byCategory = new SortedDictionary<string, Counts>(StringComparer.Ordinal);
        var all = new Counts();
        var errors = new List<string>();
        foreach (var row in GuardrailData.Rows("toxicity.jsonl"))
        {
            var text = row.GetProperty("text").GetString()!;
            if (!DataSplit.IsHeldOut(text))
            {
                continue;
            }
            var label = row.GetProperty("label").GetInt32() == 1;
            var predicted = scanner.Scan(text).HasFindings;
            all.Add(label, predicted);
            var source = row.GetProperty("source").GetString()!;
            Bump(bySource, source, label, predicted);
            if (row.TryGetProperty("category", out var cat) && cat.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                Bump(byCategory, source + " / " + cat.GetString(), label, predicted);
            }
            if (predicted != label)
            {
                errors.Add($"{(label ? "missed" : "false positive")} [{source}]: {Clip(text)}");
            }
        }
        var extra = new Counts();
        foreach (var row in GuardrailData.Local("toxicity_extra.jsonl"))
        {
            var text = row.GetProperty("text").GetString()!;
            var label = row.GetProperty("label").GetInt32() == 1;
            var result = scanner.Scan(text);
            var predicted = result.HasFindings;
            extra.Add(label, predicted);
            Bump(bySource, "hand-written: " + row.GetProperty("kind").GetString(), label, predicted);
            if (predicted != label)
            {
                errors.Add($"{(label ? "missed" : "false positive")} [hand-written {row.GetProperty("kind").GetString()}] [{string.Join(", ", result.Findings.Select(f => $"{f.Scanner}:{f.Score:0.00}"))}]: {Clip(text)}");
            }
        }
        var report = new Report(output, "toxicity");
        report.Table("toxicity.jsonl held-out split, all", [("all held-out", all)]);
        report.Table("by source (held-out; hand-written rows from Guardrails/Data/toxicity_extra.jsonl)", bySource.Select(kv => (kv.Key, kv.Value)));
        report.Table("by category (held-out)", byCategory.Select(kv => (kv.Key, kv.Value)));
        report.Line("");
        foreach (var e in errors)
        {
            report.Line("  " + e);
        }
        report.Flush();

        // Measured: held-out F1 0.926; hand-written F1 0.94.
        Assert.True(all.F1 >= 0.90, $"F1 {all.F1:0.000}");
        Assert.True(extra.F1 >= 0.9, $"hand-written F1 {extra.F1:0.000}");
    }

    private static string Band(int length) => length switch
    {
        < 100 => "a: < 100",
        < 300 => "b: 100-299",
        < 1000 => "c: 300-999",
        < 3000 => "d: 1000-2999",
        _ => "e: >= 3000",
    };

    private static void Bump(SortedDictionary<string, Counts> d, string key, bool label, bool predicted)
    {
        if (!d.TryGetValue(key, out var c))
        {
            d[key] = c = new Counts();
        }
        c.Add(label, predicted);
    }

    private static void Bump(SortedDictionary<string, Counts> d, string key, int tp, int fp, int fn)
    {
        if (!d.TryGetValue(key, out var c))
        {
            d[key] = c = new Counts();
        }
        c.Tp += tp;
        c.Fp += fp;
        c.Fn += fn;
    }

    private static string Clip(string text)
    {
        var t = text.ReplaceLineEndings(" ");
        return t.Length <= 160 ? t : t[..160] + "…";
    }


}
