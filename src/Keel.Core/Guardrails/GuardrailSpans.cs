using System.Globalization;
using Keel.Core.Pipeline;

namespace Keel.Core.Guardrails;

/// <summary>How guardrail verdicts show: span attributes, the response header, and the block error.</summary>
public static class GuardrailSpans
{
    /// <summary>Response header listing the findings on the request (names and actions, never the text).</summary>
    public const string Header = "x-keel-guardrails";

    /// <summary>
    /// Writes the verdict of one side onto its span (policy, counts, and each finding's name, action, score and
    /// position) and counts each finding in <c>keel_guardrail_verdicts_total</c>.
    /// </summary>
    public static void Describe(Span? span, CompiledGuardrailPolicy policy, IReadOnlyList<GuardrailFinding> findings, bool blocked, Telemetry.KeelMetrics? metrics = null)
    {
        if (metrics is not null)
        {
            foreach (var f in findings)
            {
                metrics.GuardrailVerdict(f.Scanner, ActionName(f.Action));
            }
        }
        if (span is null)
        {
            return;
        }
        span.Set("keel.guardrails.policy", policy.Name)
            .Set("keel.guardrails.findings", findings.Count)
            .Set("keel.guardrails.blocked", blocked);
        if (findings.Count > 0)
        {
            span.Set("keel.guardrails.verdicts", string.Join(", ", findings.Select(Describe)));
        }
    }

    /// <summary>The header value: <c>pii.email=redact, injection.classifier=flag</c> (each name once, strongest action).</summary>
    public static string HeaderValue(IEnumerable<GuardrailFinding> findings) =>
        string.Join(", ", findings.GroupBy(static f => f.Scanner, StringComparer.Ordinal)
            .Select(static g => $"{g.Key}={ActionName(g.Max(static f => f.Action))}"));

    /// <summary>The action as written in keel.yaml.</summary>
    public static string ActionName(GuardrailAction action) => action switch
    {
        GuardrailAction.Block => "block",
        GuardrailAction.Redact => "redact",
        GuardrailAction.RedactReversible => "redact-reversible",
        _ => "flag",
    };

    /// <summary>The error for a blocked request or answer: names the policy and the finding, never the text.</summary>
    public static GatewayError Blocked(CompiledGuardrailPolicy policy, string finding, string? param, string what) =>
        new(400, "invalid_request_error", "content_policy_violation",
            $"The {what} was blocked by guardrail policy '{policy.Name}': {finding}{(param is null ? "" : $" in {param}")}.", what == "request" ? param : null);

    private static string Describe(GuardrailFinding f) =>
        string.Create(CultureInfo.InvariantCulture, $"{f.Scanner}:{ActionName(f.Action)}:{f.Score:0.###}@{f.Start}-{f.End}");
}
