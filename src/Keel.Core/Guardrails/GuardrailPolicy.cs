namespace Keel.Core.Guardrails;

/// <summary>What the gateway does with a finding.</summary>
public enum GuardrailAction
{
    /// <summary>Report it (trace, response header, scan API) and let the text through unchanged.</summary>
    Flag,

    /// <summary>Replace the span with its mask.</summary>
    Redact,

    /// <summary>
    /// Replace the span with a numbered placeholder (<c>[EMAIL_1]</c>) and put the real value back where the
    /// placeholder appears in the model's answer. Falls back to <see cref="Redact"/> where no answer follows
    /// (the scan API, output text).
    /// </summary>
    RedactReversible,

    /// <summary>Refuse the whole text.</summary>
    Block,
}

/// <summary>
/// Maps finding names to actions by longest dotted prefix (<c>pii.email</c> → the rule for <c>pii.email</c>, else
/// <c>pii</c>, else <see cref="DefaultAction"/>), and drops findings scored below <see cref="MinScore"/>.
/// </summary>
public sealed record GuardrailPolicy
{
    /// <summary>
    /// Redact personal data and secrets, block injection patterns and toxic text, and flag (not block) the
    /// injection classifier alone, whose false positives on plain chat text are documented in docs/guardrails.md.
    /// </summary>
    public static GuardrailPolicy Default { get; } = new()
    {
        Actions = new Dictionary<string, GuardrailAction>(StringComparer.Ordinal)
        {
            [GuardrailScanners.Pii] = GuardrailAction.Redact,
            [GuardrailScanners.Secrets] = GuardrailAction.Redact,
            [GuardrailScanners.Injection] = GuardrailAction.Block,
            ["injection.classifier"] = GuardrailAction.Flag,
            [GuardrailScanners.Toxicity] = GuardrailAction.Block,
        },
    };

    /// <summary>Action per finding name or dotted prefix of one.</summary>
    public IReadOnlyDictionary<string, GuardrailAction> Actions { get; init; } = new Dictionary<string, GuardrailAction>(StringComparer.Ordinal);

    /// <summary>Action for findings no entry of <see cref="Actions"/> matches.</summary>
    public GuardrailAction DefaultAction { get; init; } = GuardrailAction.Flag;

    /// <summary>Findings scored below this are ignored.</summary>
    public double MinScore { get; init; }

    /// <summary>The action for a finding name such as <c>pii.email</c>.</summary>
    public GuardrailAction ActionFor(string scanner)
    {
        ArgumentNullException.ThrowIfNull(scanner);
        var name = scanner;
        while (true)
        {
            if (Actions.TryGetValue(name, out var action))
            {
                return action;
            }
            var dot = name.LastIndexOf('.');
            if (dot < 0)
            {
                return DefaultAction;
            }
            name = name[..dot];
        }
    }
}
