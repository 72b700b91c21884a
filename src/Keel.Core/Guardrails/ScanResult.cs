namespace Keel.Core.Guardrails;

/// <summary>
/// What one scanner found in one text. A value type so that clean text costs no allocation:
/// <see cref="Clean"/> holds no array.
/// </summary>
public readonly struct ScanResult
{
    private readonly Finding[]? _findings;

    /// <summary>Wraps the findings (ordered by start offset by convention).</summary>
    public ScanResult(Finding[] findings) => _findings = findings.Length == 0 ? null : findings;

    /// <summary>The result with nothing found.</summary>
    public static ScanResult Clean => default;

    /// <summary>The findings, ordered by <see cref="Finding.Start"/>.</summary>
    public IReadOnlyList<Finding> Findings => (IReadOnlyList<Finding>?)_findings ?? [];

    /// <summary>True when at least one finding was made.</summary>
    public bool HasFindings => _findings is not null;

    /// <summary>The highest finding score, 0 when clean.</summary>
    public double MaxScore
    {
        get
        {
            double max = 0;
            if (_findings is not null)
            {
                foreach (var f in _findings)
                {
                    max = Math.Max(max, f.Score);
                }
            }
            return max;
        }
    }

    internal static ScanResult From(List<Finding>? findings)
    {
        if (findings is null || findings.Count == 0)
        {
            return Clean;
        }
        findings.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.End.CompareTo(a.End));
        return new ScanResult([.. findings]);
    }
}
