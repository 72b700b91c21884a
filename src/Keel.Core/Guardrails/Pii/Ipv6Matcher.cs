namespace Keel.Core.Guardrails.Pii;

/// <summary>
/// IPv6 addresses: eight groups of 1-4 hex digits, or fewer with one "::", optionally ending in a dotted IPv4.
/// At least three non-empty groups are required so that "a::b", clock times (12:30:45) and MAC addresses
/// (six groups, no "::") are not taken for addresses.
/// </summary>
internal static class Ipv6Matcher
{
    private const int MaxLength = 45;

    public static void Find(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOf(':');
            if (rel < 0)
            {
                return;
            }
            var colon = from + rel;
            var start = colon;
            while (start > 0 && colon - start < 5 && (char.IsAsciiHexDigit(s[start - 1]) || s[start - 1] == ':'))
            {
                start--;
            }
            var end = colon;
            while (end < s.Length && end - start < MaxLength && (char.IsAsciiHexDigit(s[end]) || s[end] is ':' or '.'))
            {
                end++;
            }
            from = Math.Max(end, colon + 1);
            // A trailing '.' ends a sentence; a single trailing ':' is punctuation ("address fe80::1:").
            while (end > start && (s[end - 1] == '.' || (s[end - 1] == ':' && (end - 2 < start || s[end - 2] != ':'))))
            {
                end--;
            }
            if ((start > 0 && (char.IsLetterOrDigit(s[start - 1]) || s[start - 1] is '_' or '.' or '-'))
                || (end < s.Length && (char.IsLetterOrDigit(s[end]) || s[end] is '_' or '-')))
            {
                continue;
            }
            if (IsIpv6(s[start..end]))
            {
                (found ??= []).Add(new Finding("pii.ip_address", start, end, 0.9, "[IP_ADDRESS]"));
            }
        }
    }

    internal static bool IsIpv6(ReadOnlySpan<char> a)
    {
        var dc = a.IndexOf("::");
        if (dc < 0)
        {
            return CountGroups(a, allowV4: true) == 8;
        }
        var tail = a[(dc + 2)..];
        if (tail.Contains("::", StringComparison.Ordinal))
        {
            return false;
        }
        var head = a[..dc];
        var h = head.IsEmpty ? 0 : CountGroups(head, allowV4: false);
        var t = tail.IsEmpty ? 0 : CountGroups(tail, allowV4: true);
        return h >= 0 && t >= 0 && h + t is >= 3 and < 8;
    }

    /// <summary>Number of 16-bit groups in a colon-separated list without empty parts, -1 when malformed.</summary>
    private static int CountGroups(ReadOnlySpan<char> a, bool allowV4)
    {
        var groups = 0;
        var parts = 0;
        var total = a.Count(':') + 1;
        foreach (var range in a.Split(':'))
        {
            var part = a[range];
            parts++;
            if (allowV4 && parts == total && part.Contains('.'))
            {
                if (!IsIpv4(part))
                {
                    return -1;
                }
                groups += 2;
            }
            else if (part.Length is 0 or > 4 || part.ContainsAnyExcept("0123456789abcdefABCDEF"))
            {
                return -1;
            }
            else
            {
                groups++;
            }
        }
        return groups;
    }

    private static bool IsIpv4(ReadOnlySpan<char> part)
    {
        var octets = 0;
        foreach (var range in part.Split('.'))
        {
            var o = part[range];
            if (o.Length is 0 or > 3 || o.ContainsAnyExceptInRange('0', '9') || (o.Length > 1 && o[0] == '0') || Checksums.Digits(o) > 255)
            {
                return false;
            }
            octets++;
        }
        return octets == 4;
    }
}
