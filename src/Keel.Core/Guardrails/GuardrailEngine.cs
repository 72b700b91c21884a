namespace Keel.Core.Guardrails;

/// <summary>
/// Runs a fixed set of scanners over a text and applies a <see cref="GuardrailPolicy"/>. Built once (at start-up
/// or config reload) and shared; thread-safe.
/// </summary>
public sealed class GuardrailEngine
{
    private readonly IScanner[] _scanners;

    /// <summary>Creates an engine over <paramref name="scanners"/> (run in this order) with <paramref name="policy"/>.</summary>
    public GuardrailEngine(IEnumerable<IScanner> scanners, GuardrailPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(scanners);
        _scanners = [.. scanners];
        Policy = policy ?? GuardrailPolicy.Default;
    }

    /// <summary>The policy applied to findings.</summary>
    public GuardrailPolicy Policy { get; }

    /// <summary>The scanners, in run order.</summary>
    public IReadOnlyList<IScanner> Scanners => _scanners;

    /// <summary>Runs every scanner and combines their findings into a verdict (redacting where the policy says so).</summary>
    public GuardrailVerdict Evaluate(string text) => Evaluate(text, placeholders: null);

    /// <summary>
    /// Runs every scanner and combines their findings into a verdict. Findings whose action is
    /// <see cref="GuardrailAction.RedactReversible"/> get placeholders from <paramref name="placeholders"/> (shared by
    /// all texts of one request, so a value has one placeholder everywhere); without a map they are masked.
    /// </summary>
    public GuardrailVerdict Evaluate(string text, PlaceholderMap? placeholders)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<GuardrailFinding>? all = null;
        var blocked = false;
        var redact = false;
        foreach (var scanner in _scanners)
        {
            var result = scanner.Scan(text);
            if (!result.HasFindings)
            {
                continue;
            }
            foreach (var f in result.Findings)
            {
                if (f.Score < Policy.MinScore)
                {
                    continue;
                }
                var action = Policy.ActionFor(f.Scanner);
                if (action is GuardrailAction.Redact or GuardrailAction.RedactReversible && !f.IsRedactable)
                {
                    action = GuardrailAction.Flag;
                }
                blocked |= action == GuardrailAction.Block;
                redact |= action is GuardrailAction.Redact or GuardrailAction.RedactReversible;
                (all ??= []).Add(new GuardrailFinding(f, action));
            }
        }
        if (all is null)
        {
            return new GuardrailVerdict([], Flagged: false, Blocked: false, text);
        }
        all.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        var output = redact ? Redactor.Apply(text, all, placeholders) : text;
        return new GuardrailVerdict(all, Flagged: true, blocked, output);
    }
}
