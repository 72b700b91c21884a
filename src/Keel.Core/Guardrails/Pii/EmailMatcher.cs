namespace Keel.Core.Guardrails.Pii;

/// <summary>
/// E-mail addresses in running text: an RFC 5321 dot-atom local part (at most 64 characters) and a host name
/// of valid labels (1-63 characters, no leading or trailing hyphen) with a top-level label that is not all
/// digits. Quoted local parts, comments and address literals are left alone: they are rare in prose and
/// matching them invites false positives. Each '@' is examined once with bounded look-around, so the pass is
/// linear.
/// </summary>
internal static class EmailMatcher
{
    private const int MaxLocal = 64;
    private const int MaxDomain = 253;

    public static void Find(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOf('@');
            if (rel < 0)
            {
                return;
            }
            var at = from + rel;
            from = at + 1;

            var ls = at;
            while (ls > 0 && at - ls <= MaxLocal && IsAtext(s[ls - 1]))
            {
                ls--;
            }
            // Trailing dots of a sentence before the address are not part of it ("see.x@y.z" stays whole).
            while (ls < at && s[ls] == '.')
            {
                ls++;
            }
            var local = s[ls..at];
            if (local.Length is 0 or > MaxLocal || (ls > 0 && IsAtext(s[ls - 1])) || local[^1] == '.' || local.Contains("..", StringComparison.Ordinal))
            {
                continue;
            }
            if (ls > 0 && s[ls - 1] is '"' or '\\' or '(' or ')')
            {
                continue;
            }

            var de = at + 1;
            while (de < s.Length && de - at <= MaxDomain + 1 && IsDomainChar(s[de]))
            {
                de++;
            }
            if (de < s.Length && IsDomainChar(s[de]))
            {
                continue;
            }
            // Sentence punctuation after the address.
            while (de > at + 1 && s[de - 1] is '.' or '-')
            {
                de--;
            }
            if (de < s.Length && (char.IsLetterOrDigit(s[de]) || s[de] is '_' or '@' or '[' or '(' or '"' or '\\'))
            {
                continue;
            }
            if (!ValidDomain(s[(at + 1)..de]))
            {
                continue;
            }
            (found ??= []).Add(new Finding("pii.email", ls, de, 0.95, "[EMAIL]"));
            from = de;
        }
    }

    private static bool IsAtext(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '.' or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '/' or '='
            or '?' or '^' or '_' or '`' or '{' or '|' or '}' or '~' or '-';

    private static bool IsDomainChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '-';

    private static bool ValidDomain(ReadOnlySpan<char> domain)
    {
        if (domain.Length is 0 or > MaxDomain)
        {
            return false;
        }
        var labels = 0;
        var lastAllDigits = false;
        foreach (var range in domain.Split('.'))
        {
            var label = domain[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }
            lastAllDigits = !label.ContainsAnyExceptInRange('0', '9');
            labels++;
        }
        return labels >= 2 && !lastAllDigits;
    }
}
