namespace Keel.Core.Guardrails.Pii;

/// <summary>
/// Structured personal data: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IPv4/IPv6 addresses
/// and mainland-China ID numbers. Every candidate is validated (checksums, number plans, length tables) before
/// it is reported, so look-alikes that fail their check digit are left alone. Hand-written matchers, one bounded
/// pass each: linear in the text, no regex backtracking.
/// </summary>
internal sealed class PiiScanner : IScanner
{
    public string Name => GuardrailScanners.Pii;

    public ScanResult Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<Finding>? found = null;
        EmailMatcher.Find(text, ref found);
        IbanMatcher.Find(text, ref found);
        Ipv6Matcher.Find(text, ref found);
        NumberMatcher.Find(text, ref found);
        return ScanResult.From(RemoveContained(found));
    }

    /// <summary>Drops findings inside a longer one (digits of an IBAN or e-mail picked up as a phone, say).</summary>
    private static List<Finding>? RemoveContained(List<Finding>? found)
    {
        if (found is null || found.Count < 2)
        {
            return found;
        }
        found.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.End.CompareTo(a.End));
        var kept = new List<Finding>(found.Count);
        var maxEnd = -1;
        foreach (var f in found)
        {
            if (f.Start < maxEnd)
            {
                continue;
            }
            kept.Add(f);
            maxEnd = f.End;
        }
        return kept;
    }
}
