using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Keel.Core.Guardrails;

namespace Keel.Cli.Commands;

/// <summary><c>keel guard scan</c>: run a guardrail policy over text, locally, without a server or a model.</summary>
internal static class GuardCommand
{
    private static readonly JsonWriterOptions LineJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "Config file with the policies (env KEEL_CONFIG; default ./keel.yaml)." };
        var policy = new Option<string?>("--policy", "-p") { Description = "Policy name from keel.yaml (default: guardrails.default, else the built-in policy: pii and secrets redacted, injection and toxicity blocked)." };
        var direction = new Option<string>("--direction", "-d") { Description = "Which side of the policy: input (the request's scanners) or output (the answer's).", DefaultValueFactory = _ => "input" };
        direction.AcceptOnlyFromAmong("input", "output");
        var json = new Option<bool>("--json") { Description = "Print JSON: {\"flagged\",\"blocked\",\"findings\":[...],\"text\"} (one object per line with --lines)." };
        var lines = new Option<bool>("--lines") { Description = "Scan each input line on its own." };
        var file = new Argument<FileInfo?>("file") { Description = "Text to scan (default: standard input).", Arity = ArgumentArity.ZeroOrOne };
        var scan = new Command("scan", """
            Scan text with a guardrail policy and print the findings and the text after redaction. Runs locally: no
            server, no model. Exit code 0 when the scan ran (whatever it found), 2 on a usage or config error.
            """) { config, policy, direction, json, lines, file };
        scan.SetAction(async (parse, cancellationToken) =>
        {
            var keel = ConfigPaths.LoadOrReport(ConfigPaths.Resolve(parse.GetValue(config)), Console.Error);
            if (keel is null)
            {
                return 2;
            }
            var policies = new GuardrailPolicySet(keel.Guardrails);
            var chosen = GuardrailScan.ResolvePolicy(policies, parse.GetValue(policy), out var policyError);
            if (chosen is null)
            {
                await Console.Error.WriteLineAsync($"error: {policyError}");
                return 2;
            }
            var side = parse.GetValue(direction) == "output" ? ScanDirection.Output : ScanDirection.Input;

            string text;
            var input = parse.GetValue(file);
            if (input is not null)
            {
                if (!input.Exists)
                {
                    await Console.Error.WriteLineAsync($"error: file '{input.FullName}' does not exist.");
                    return 2;
                }
                text = await File.ReadAllTextAsync(input.FullName, Encoding.UTF8, cancellationToken);
            }
            else
            {
                using var reader = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
                text = await reader.ReadToEndAsync(cancellationToken);
            }

            var texts = parse.GetValue(lines) ? SplitLines(text) : [text];
            using var stdout = Console.OpenStandardOutput();
            var progress = texts.Count >= 1000 && !Console.IsErrorRedirected ? new Progress(texts.Count) : null;
            var summary = new Summary();
            for (var i = 0; i < texts.Count; i++)
            {
                var verdict = GuardrailScan.Scan(chosen, texts[i], side, out var scanError);
                if (verdict is null)
                {
                    await Console.Error.WriteLineAsync($"error: {scanError}");
                    return 2;
                }
                summary.Add(verdict);
                if (parse.GetValue(json))
                {
                    WriteJsonLine(stdout, verdict);
                }
                else
                {
                    WriteHuman(stdout, verdict, texts.Count > 1 ? i + 1 : null);
                }
                progress?.Report(i + 1);
            }
            progress?.Done();
            if (!parse.GetValue(json) && texts.Count > 1)
            {
                Write(stdout, $"{texts.Count} lines: {summary.Flagged} flagged, {summary.Blocked} blocked (policy '{chosen.Name}', {(side == ScanDirection.Input ? "input" : "output")}).\n");
            }
            return 0;
        });
        return new Command("guard", "Test guardrail policies on text.") { scan };
    }

    private static List<string> SplitLines(string text)
    {
        var result = text.Split('\n').Select(static l => l.TrimEnd('\r')).ToList();
        if (result.Count > 0 && result[^1].Length == 0)
        {
            result.RemoveAt(result.Count - 1); // the newline that ends the last line does not start another
        }
        return result;
    }

    private static void WriteJsonLine(Stream stdout, GuardrailVerdict verdict)
    {
        using (var writer = new Utf8JsonWriter(stdout, LineJson))
        {
            GuardrailScan.Write(writer, verdict);
        }
        stdout.WriteByte((byte)'\n');
    }

    private static void WriteHuman(Stream stdout, GuardrailVerdict verdict, int? line)
    {
        var sb = new StringBuilder();
        var prefix = line is { } n ? $"line {n.ToString(CultureInfo.InvariantCulture)}: " : "";
        var state = verdict.Blocked ? "BLOCKED" : verdict.Flagged ? "flagged" : "clean";
        if (line is not null)
        {
            sb.Append(prefix).Append(state);
            foreach (var f in verdict.Findings)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {f.Scanner}={GuardrailSpans.ActionName(f.Action)}({f.Score:0.00})");
            }
            sb.Append('\n');
            Write(stdout, sb.ToString());
            return;
        }

        sb.Append("verdict: ").Append(state).Append('\n');
        if (verdict.Findings.Count > 0)
        {
            var width = Math.Max("scanner".Length, verdict.Findings.Max(static f => f.Scanner.Length));
            sb.Append("scanner".PadRight(width)).Append("  action             start    end  score\n");
            foreach (var f in verdict.Findings)
            {
                sb.Append(f.Scanner.PadRight(width)).Append("  ")
                  .Append(GuardrailSpans.ActionName(f.Action).PadRight(17)).Append(CultureInfo.InvariantCulture, $" {f.Start,6} {f.End,6}  {f.Score:0.00}\n");
            }
        }
        sb.Append("text:\n").Append(verdict.Text);
        if (!verdict.Text.EndsWith('\n'))
        {
            sb.Append('\n');
        }
        Write(stdout, sb.ToString());
    }

    private static void Write(Stream stdout, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        stdout.Write(bytes);
    }

    private sealed class Summary
    {
        public int Flagged { get; private set; }
        public int Blocked { get; private set; }

        public void Add(GuardrailVerdict verdict)
        {
            Flagged += verdict.Flagged ? 1 : 0;
            Blocked += verdict.Blocked ? 1 : 0;
        }
    }

    /// <summary>A progress bar on standard error for long inputs (only when it is a terminal).</summary>
    private sealed class Progress(int total)
    {
        private int _lastPercent = -1;

        public void Report(int done)
        {
            var percent = (int)(done * 100L / total);
            if (percent == _lastPercent)
            {
                return;
            }
            _lastPercent = percent;
            var filled = percent / 4;
            Console.Error.Write($"\r[{new string('#', filled)}{new string('.', 25 - filled)}] {percent,3}% {done}/{total} lines");
        }

        public void Done() => Console.Error.WriteLine();
    }
}
