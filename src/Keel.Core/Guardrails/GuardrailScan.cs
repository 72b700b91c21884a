using System.Text.Json;

namespace Keel.Core.Guardrails;

/// <summary>Which side of a policy a standalone scan uses.</summary>
public enum ScanDirection
{
    /// <summary>The policy's input scanners (what a request's messages go through).</summary>
    Input,

    /// <summary>The policy's output scanners and length limit (what an answer goes through).</summary>
    Output,
}

/// <summary>
/// Scanning text with a policy outside the request path: the shared core of <c>POST /v1/guardrails/scan</c> and
/// <c>keel guard scan</c>, so both give the same verdict in the same JSON shape.
/// </summary>
public static class GuardrailScan
{
    /// <summary>
    /// The policy named <paramref name="name"/>; without a name, the config's default policy, else the built-in
    /// one (all four scanners, <see cref="GuardrailPolicy.Default"/>). Null with an error message for an unknown name.
    /// </summary>
    public static CompiledGuardrailPolicy? ResolvePolicy(GuardrailPolicySet policies, string? name, out string? error)
    {
        ArgumentNullException.ThrowIfNull(policies);
        error = null;
        if (name is null)
        {
            return policies.Default ?? GuardrailPolicySet.BuiltIn;
        }
        if (name == GuardrailPolicySet.BuiltIn.Name)
        {
            return GuardrailPolicySet.BuiltIn;
        }
        if (policies.Policies.TryGetValue(name, out var policy))
        {
            return policy;
        }
        var known = string.Join(", ", policies.Policies.Keys.Order(StringComparer.Ordinal).Append(GuardrailPolicySet.BuiltIn.Name));
        error = $"Unknown guardrail policy '{name}'. Known policies: {known}.";
        return null;
    }

    /// <summary>Scans <paramref name="text"/> with one side of <paramref name="policy"/>; null with an error when that side scans nothing.</summary>
    public static GuardrailVerdict? Scan(CompiledGuardrailPolicy policy, string text, ScanDirection direction, out string? error)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(text);
        error = null;
        var engine = direction == ScanDirection.Input ? policy.Input : policy.Output;
        var maxLength = direction == ScanDirection.Output ? policy.Config.MaxLength : null;
        if (engine is null && maxLength is null)
        {
            error = $"Guardrail policy '{policy.Name}' has no {(direction == ScanDirection.Input ? "input" : "output")} scanners.";
            return null;
        }
        var verdict = engine?.Evaluate(text) ?? new GuardrailVerdict([], Flagged: false, Blocked: false, text);
        if (maxLength is not null && text.Length > maxLength.Chars)
        {
            var finding = new GuardrailFinding(new Finding("max_length.exceeded", maxLength.Chars, text.Length, 1.0), maxLength.Action);
            verdict = new GuardrailVerdict([.. verdict.Findings, finding], Flagged: true, verdict.Blocked || maxLength.Action == GuardrailAction.Block, verdict.Text);
        }
        return verdict;
    }

    /// <summary>Writes a verdict as <c>{"flagged","blocked","findings":[{"scanner","action","start","end","score"}],"text"}</c>.</summary>
    public static void Write(Utf8JsonWriter writer, GuardrailVerdict verdict)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(verdict);
        writer.WriteStartObject();
        WriteFields(writer, verdict);
        writer.WriteEndObject();
    }

    /// <summary>Writes the verdict's fields into the object being written.</summary>
    public static void WriteFields(Utf8JsonWriter writer, GuardrailVerdict verdict)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(verdict);
        writer.WriteBoolean("flagged", verdict.Flagged);
        writer.WriteBoolean("blocked", verdict.Blocked);
        writer.WriteStartArray("findings");
        foreach (var f in verdict.Findings)
        {
            writer.WriteStartObject();
            writer.WriteString("scanner", f.Scanner);
            writer.WriteString("action", GuardrailSpans.ActionName(f.Action));
            writer.WriteNumber("start", f.Start);
            writer.WriteNumber("end", f.End);
            writer.WriteNumber("score", Math.Round(f.Score, 4));
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteString("text", verdict.Text);
    }
}
