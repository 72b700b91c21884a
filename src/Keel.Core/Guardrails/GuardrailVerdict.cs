namespace Keel.Core.Guardrails;

/// <summary>A finding with the action the policy chose for it.</summary>
public readonly record struct GuardrailFinding(Finding Finding, GuardrailAction Action)
{
    /// <summary>The finding's name, e.g. <c>pii.email</c>.</summary>
    public string Scanner => Finding.Scanner;

    /// <inheritdoc cref="Finding.Start"/>
    public int Start => Finding.Start;

    /// <inheritdoc cref="Finding.End"/>
    public int End => Finding.End;

    /// <inheritdoc cref="Finding.Score"/>
    public double Score => Finding.Score;
}

/// <summary>
/// The combined verdict of several scanners over one text: every finding with its action, whether anything
/// was found (<see cref="Flagged"/>), whether the text must be refused (<see cref="Blocked"/>), and the text
/// after redaction. This is the shape of one line of <c>keel guard scan --json</c> and of the scan API.
/// </summary>
public sealed record GuardrailVerdict(IReadOnlyList<GuardrailFinding> Findings, bool Flagged, bool Blocked, string Text)
{
    /// <summary>Findings ordered by start offset.</summary>
    public IReadOnlyList<GuardrailFinding> Findings { get; } = Findings;
}
