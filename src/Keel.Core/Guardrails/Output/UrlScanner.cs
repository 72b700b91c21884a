namespace Keel.Core.Guardrails.Output;

/// <summary>
/// Finds http(s) URLs whose host is not on an allow-list (<c>urls.disallowed</c>, masked as <c>[URL]</c>). An entry
/// <c>example.com</c> allows that host and its subdomains; <c>*.example.com</c> only the subdomains. With an empty
/// allow-list every URL is reported. Thread-safe.
/// </summary>
public sealed class UrlScanner : IScanner
{
    /// <summary>The scanner's family name.</summary>
    public const string ScannerName = "urls";

    /// <summary>The finding name.</summary>
    public const string Disallowed = "urls.disallowed";

    private readonly (string Domain, bool SubdomainsOnly)[] _allowed;

    /// <summary>Creates a scanner allowing <paramref name="allowedDomains"/>.</summary>
    public UrlScanner(IEnumerable<string> allowedDomains)
    {
        ArgumentNullException.ThrowIfNull(allowedDomains);
        _allowed = [.. allowedDomains.Select(static d => d.Trim().TrimEnd('.').ToLowerInvariant())
            .Where(static d => d.Length > 0)
            .Select(static d => d.StartsWith("*.", StringComparison.Ordinal) ? (d[2..], true) : (d, false))];
    }

    /// <inheritdoc />
    public string Name => ScannerName;

    /// <inheritdoc />
    public ScanResult Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<Finding>? findings = null;
        var at = 0;
        while ((at = text.IndexOf("://", at, StringComparison.Ordinal)) >= 0)
        {
            var start = SchemeStart(text, at);
            if (start < 0)
            {
                at += 3;
                continue;
            }
            var end = at + 3;
            while (end < text.Length && IsUrlChar(text[end]))
            {
                end++;
            }
            // Trailing punctuation belongs to the sentence, not the URL.
            while (end > at + 3 && text[end - 1] is '.' or ',' or ';' or ':' or '!' or '?' or ')' or '\'' or '"')
            {
                end--;
            }
            var host = Host(text.AsSpan(at + 3, end - at - 3));
            if (host.Length > 0 && !IsAllowed(host))
            {
                (findings ??= []).Add(new Finding(Disallowed, start, end, 1.0, "[URL]"));
            }
            at = Math.Max(end, at + 3);
        }
        return ScanResult.From(findings);
    }

    private static int SchemeStart(string text, int colon)
    {
        foreach (var scheme in (ReadOnlySpan<string>)["https", "http"])
        {
            var start = colon - scheme.Length;
            if (start >= 0 && text.AsSpan(start, scheme.Length).Equals(scheme, StringComparison.OrdinalIgnoreCase)
                && (start == 0 || !char.IsLetterOrDigit(text[start - 1])))
            {
                return start;
            }
        }
        return -1;
    }

    private static bool IsUrlChar(char c) => c > ' ' && c < 0x7F && c is not ('<' or '>' or '"' or '`' or '{' or '}' or '|' or '\\' or '^') || char.IsLetterOrDigit(c);

    private static string Host(ReadOnlySpan<char> rest)
    {
        var end = rest.IndexOfAny('/', '?', '#');
        var authority = end < 0 ? rest : rest[..end];
        var userInfo = authority.LastIndexOf('@');
        if (userInfo >= 0)
        {
            authority = authority[(userInfo + 1)..];
        }
        if (authority.StartsWith("["))
        {
            var close = authority.IndexOf(']');
            return close > 0 ? authority[..(close + 1)].ToString().ToLowerInvariant() : "";
        }
        var port = authority.IndexOf(':');
        if (port >= 0)
        {
            authority = authority[..port];
        }
        return authority.ToString().TrimEnd('.').ToLowerInvariant();
    }

    private bool IsAllowed(string host)
    {
        foreach (var (domain, subdomainsOnly) in _allowed)
        {
            var isSubdomain = host.Length > domain.Length && host.EndsWith(domain, StringComparison.Ordinal) && host[^(domain.Length + 1)] == '.';
            if (isSubdomain || (!subdomainsOnly && host == domain))
            {
                return true;
            }
        }
        return false;
    }
}
