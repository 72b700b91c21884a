namespace Keel.Core.Guardrails;

/// <summary>
/// One thing a scanner found: which detector (<c>pii.email</c>, <c>secrets.aws_access_key</c>,
/// <c>injection.override</c>, ...), where (<paramref name="Start"/> inclusive, <paramref name="End"/> exclusive,
/// UTF-16 offsets into the scanned text), how sure (0..1), and the mask that replaces it when redacted
/// (<c>[EMAIL]</c>), or null when the finding is not something to cut out (an injection or toxic text is
/// blocked as a whole).
/// </summary>
public readonly record struct Finding(string Scanner, int Start, int End, double Score, string? Replacement = null)
{
    /// <summary>Length of the span in UTF-16 code units.</summary>
    public int Length => End - Start;

    /// <summary>True when the finding names a span that <see cref="Redactor"/> can replace.</summary>
    public bool IsRedactable => Replacement is not null && End > Start;
}
