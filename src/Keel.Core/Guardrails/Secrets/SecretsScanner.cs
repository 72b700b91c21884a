using System.Buffers;
using System.Buffers.Text;

namespace Keel.Core.Guardrails.Secrets;

/// <summary>
/// Credentials: provider API keys recognised by their documented prefixes and shapes, private key blocks, JWTs
/// (the header must decode to JSON naming an "alg"), passwords in connection strings and in key=value
/// assignments, AWS secret keys next to their access key or name, and otherwise unexplained high-entropy
/// tokens. One pass over word-like tokens plus a few bounded searches: linear in the text.
/// </summary>
internal sealed class SecretsScanner : IScanner
{
    private const string Mask = "[SECRET]";
    private const int MinToken = 16;
    private const int MaxToken = 1024;

    public string Name => GuardrailScanners.Secrets;

    public ScanResult Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<Finding>? found = null;
        PrivateKeys(text, ref found);
        ConnectionUris(text, ref found);
        Assignments(text, ref found);
        Tokens(text, ref found);
        return ScanResult.From(Dedupe(found));
    }

    // ---- private key blocks -------------------------------------------------------------------------------

    private static void PrivateKeys(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOf("-----BEGIN ", StringComparison.Ordinal);
            if (rel < 0)
            {
                return;
            }
            var begin = from + rel;
            var headerEnd = s[(begin + 11)..Math.Min(s.Length, begin + 80)].IndexOf("-----", StringComparison.Ordinal);
            from = begin + 11;
            if (headerEnd < 0)
            {
                continue;
            }
            var label = s.Slice(begin + 11, headerEnd);
            if (!label.Contains("PRIVATE KEY", StringComparison.Ordinal))
            {
                continue;
            }
            var bodyStart = begin + 11 + headerEnd + 5;
            var endRel = s[bodyStart..].IndexOf("-----END ", StringComparison.Ordinal);
            int end;
            if (endRel >= 0)
            {
                end = bodyStart + endRel + 9;
                var close = s[end..Math.Min(s.Length, end + 80)].IndexOf("-----", StringComparison.Ordinal);
                end = close >= 0 ? end + close + 5 : end;
            }
            else
            {
                // Truncated block: the key material runs to the last base64 line.
                end = bodyStart;
                while (end < s.Length && (char.IsAsciiLetterOrDigit(s[end]) || s[end] is '+' or '/' or '=' or '\n' or '\r' or ' ' or ':' or '-'))
                {
                    end++;
                }
            }
            Add(ref found, "secrets.private_key", begin, end, 1.0);
            from = end;
        }
    }

    // ---- scheme://user:password@host ----------------------------------------------------------------------

    private static void ConnectionUris(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOf("://", StringComparison.Ordinal);
            if (rel < 0)
            {
                return;
            }
            var sep = from + rel;
            from = sep + 3;
            var userStart = sep + 3;
            var k = userStart;
            var colon = -1;
            while (k < s.Length && k - userStart < 256 && !char.IsWhiteSpace(s[k]) && s[k] is not ('/' or '@' or '"' or '\'' or '<' or '>'))
            {
                if (s[k] == ':' && colon < 0)
                {
                    colon = k;
                }
                k++;
            }
            if (k >= s.Length || s[k] != '@' || colon < 0 || colon + 1 >= k)
            {
                continue;
            }
            var password = s[(colon + 1)..k];
            if (IsPlaceholder(password))
            {
                continue;
            }
            Add(ref found, "secrets.connection_string", colon + 1, k, 0.95);
            from = k + 1;
        }
    }

    // ---- key = value ----------------------------------------------------------------------------------------

    private static readonly string[] s_passwordKeys = ["password", "passwd", "pwd", "passphrase"];

    private static readonly string[] s_secretKeys =
    [
        "secret", "api_key", "apikey", "api-key", "access_key", "accesskey", "auth_token", "access_token", "token",
        "private_key", "client_secret", "accountkey", "sharedaccesskey", "credential", "bearer",
    ];

    private static readonly string[] s_connectionHints =
        ["server=", "host=", "data source=", "database=", "user id=", "uid=", "accountname=", "endpoint=", "initial catalog="];

    private static readonly SearchValues<string> s_keyWords =
        SearchValues.Create([.. s_passwordKeys, .. s_secretKeys], StringComparison.OrdinalIgnoreCase);

    private static void Assignments(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOfAny(s_keyWords);
            if (rel < 0)
            {
                return;
            }
            var kw = from + rel;
            // The whole identifier the keyword sits in (AWS_SECRET_ACCESS_KEY, db.password, "apiKey").
            var idStart = kw;
            while (idStart > 0 && (char.IsAsciiLetterOrDigit(s[idStart - 1]) || s[idStart - 1] is '_' or '-' or '.'))
            {
                idStart--;
            }
            var idEnd = kw;
            while (idEnd < s.Length && (char.IsAsciiLetterOrDigit(s[idEnd]) || s[idEnd] is '_' or '-' or '.'))
            {
                idEnd++;
            }
            from = Math.Max(idEnd, kw + 1);
            var k = idEnd;
            if (k < s.Length && s[k] is '"' or '\'')
            {
                k++;
            }
            while (k < s.Length && s[k] == ' ')
            {
                k++;
            }
            if (k >= s.Length || s[k] is not (':' or '='))
            {
                continue;
            }
            k++;
            if (k < s.Length && s[k] is '>' or '=')
            {
                k++;
            }
            while (k < s.Length && s[k] == ' ')
            {
                k++;
            }
            char quote = '\0';
            if (k < s.Length && s[k] is '"' or '\'' or '`')
            {
                quote = s[k];
                k++;
            }
            var vs = k;
            while (k < s.Length && k - vs < 512 && (quote != '\0' ? s[k] != quote && s[k] != '\n' : !char.IsWhiteSpace(s[k]) && s[k] is not (';' or ',' or '"' or '\'' or '&' or ')' or '}' or ']')))
            {
                k++;
            }
            var value = s[vs..k];
            var identifier = s[idStart..idEnd];
            var isPassword = ContainsAny(identifier, s_passwordKeys);
            if (!QualifiesAsSecretValue(value, isPassword))
            {
                continue;
            }
            string name;
            if (isPassword || identifier.Contains("accountkey", StringComparison.OrdinalIgnoreCase) || identifier.Contains("sharedaccesskey", StringComparison.OrdinalIgnoreCase))
            {
                var window = s[Math.Max(0, idStart - 200)..idStart];
                name = ContainsAny(window, s_connectionHints) || s[Math.Max(0, idStart - 1)..idStart] is ";" ? "secrets.connection_string" : "secrets.password";
            }
            else if (identifier.Contains("aws", StringComparison.OrdinalIgnoreCase) && IsAwsSecret(value))
            {
                name = "secrets.aws_secret_key";
            }
            else
            {
                name = "secrets.generic";
            }
            Add(ref found, name, vs, k, 0.9);
            from = k;
        }
    }

    private static bool QualifiesAsSecretValue(ReadOnlySpan<char> v, bool password)
    {
        if (v.Length < (password ? 6 : 12) || IsPlaceholder(v))
        {
            return false;
        }
        var classes = 0;
        classes += v.ContainsAnyInRange('a', 'z') ? 1 : 0;
        classes += v.ContainsAnyInRange('A', 'Z') ? 1 : 0;
        classes += v.ContainsAnyInRange('0', '9') ? 1 : 0;
        classes += v.ContainsAnyExcept(s_alnum) ? 1 : 0;
        // A secret value is not a sentence: a key or password rarely reads as plain lowercase words.
        return classes >= 2 && !v.Contains(' ');
    }

    private static readonly SearchValues<char> s_alnum =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    private static bool IsPlaceholder(ReadOnlySpan<char> v)
    {
        if (v.IsEmpty || v[0] is '<' or '{' or '$' or '%' || v.StartsWith("${", StringComparison.Ordinal))
        {
            return true;
        }
        if (!v.ContainsAnyExcept(v[0]))
        {
            return true; // "********", "xxxxxxxx"
        }
        return v.Contains("your", StringComparison.OrdinalIgnoreCase) || v.Contains("xxxx", StringComparison.OrdinalIgnoreCase)
            || v.Contains("****", StringComparison.Ordinal) || v.Contains("placeholder", StringComparison.OrdinalIgnoreCase)
            || v.Contains("redacted", StringComparison.OrdinalIgnoreCase) || v.Equals("password", StringComparison.OrdinalIgnoreCase)
            || v.Contains("changeme", StringComparison.OrdinalIgnoreCase) || v.Contains("[SECRET", StringComparison.Ordinal);
    }

    // ---- word-like tokens -------------------------------------------------------------------------------

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '+' or '/' or '=' or '.' or '~';

    private static void Tokens(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        var awsKeyAt = -1;
        var i = 0;
        while (i < s.Length)
        {
            if (!IsTokenChar(s[i]))
            {
                i++;
                continue;
            }
            var start = i;
            // '=' joins a token only as base64 padding; "KEY=value" is two tokens.
            while (i < s.Length && IsTokenChar(s[i]) && !(s[i] == '=' && i > start && i + 1 < s.Length && char.IsAsciiLetterOrDigit(s[i + 1])))
            {
                i++;
            }
            var end = i;
            // Sentence punctuation is not part of a key.
            while (end > start && s[end - 1] is '.' or '-' or '/' or '~')
            {
                end--;
            }
            while (start < end && s[start] is '.' or '/' or '-' or '=' or '+')
            {
                start++;
            }
            var len = end - start;
            if (len < MinToken || len > MaxToken)
            {
                continue;
            }
            var token = s[start..end];
            var (name, score) = Classify(token);
            if (ReferenceEquals(name, NotSecret))
            {
                continue;
            }
            if (name is null)
            {
                if (IsAwsSecret(token) && (HasAwsContext(s, start) || (awsKeyAt >= 0 && start - awsKeyAt < 400)))
                {
                    (name, score) = ("secrets.aws_secret_key", 0.9);
                }
                else if (IsHighEntropy(s, start, token))
                {
                    (name, score) = ("secrets.high_entropy", 0.7);
                }
            }
            if (name is not null)
            {
                if (name == "secrets.aws_access_key")
                {
                    awsKeyAt = start;
                }
                Add(ref found, name, start, end, score);
            }
        }
    }

    private const string NotSecret = "";

    private static (string? Name, double Score) Classify(ReadOnlySpan<char> t)
    {
        // Publishable keys are meant to be public: not a finding, and not an "unexplained" random token either.
        if (t.StartsWith("pk_live_", StringComparison.Ordinal) || t.StartsWith("pk_test_", StringComparison.Ordinal))
        {
            return (NotSecret, 0);
        }
        if (t.StartsWith("sk-ant-", StringComparison.Ordinal))
        {
            return t.Length >= 40 && IsAlnumDash(t[7..]) ? ("secrets.anthropic_key", 0.99) : default;
        }
        if (t.StartsWith("sk-proj-", StringComparison.Ordinal) || t.StartsWith("sk-svcacct-", StringComparison.Ordinal)
            || t.StartsWith("sk-admin-", StringComparison.Ordinal) || t.StartsWith("sk-None-", StringComparison.Ordinal))
        {
            return t.Length >= 40 && IsAlnumDash(t[3..]) ? ("secrets.openai_key", 0.99) : default;
        }
        if (t.StartsWith("sk-", StringComparison.Ordinal))
        {
            var rest = t[3..];
            if (rest.Length >= 32 && !rest.ContainsAnyExcept(s_alnum) && HasDigitAndLetter(rest))
            {
                return ("secrets.openai_key", rest.Contains("T3BlbkFJ", StringComparison.Ordinal) ? 0.99 : 0.9);
            }
            return default;
        }
        if (t.Length == 20 && (t.StartsWith("AKIA", StringComparison.Ordinal) || t.StartsWith("ASIA", StringComparison.Ordinal)
            || t.StartsWith("AGPA", StringComparison.Ordinal) || t.StartsWith("AIDA", StringComparison.Ordinal)
            || t.StartsWith("AROA", StringComparison.Ordinal) || t.StartsWith("AIPA", StringComparison.Ordinal)
            || t.StartsWith("ANPA", StringComparison.Ordinal) || t.StartsWith("ANVA", StringComparison.Ordinal)
            || t.StartsWith("APKA", StringComparison.Ordinal) || t.StartsWith("ABIA", StringComparison.Ordinal)
            || t.StartsWith("ACCA", StringComparison.Ordinal)) && !t.ContainsAnyExcept(s_upperDigits))
        {
            return ("secrets.aws_access_key", 0.95);
        }
        if (t.StartsWith("AIza", StringComparison.Ordinal))
        {
            return t.Length == 39 && IsUrlSafe(t) ? ("secrets.gcp_api_key", 0.95) : default;
        }
        if (t.StartsWith("ya29.", StringComparison.Ordinal))
        {
            return t.Length >= 30 ? ("secrets.gcp_oauth_token", 0.9) : default;
        }
        if (t.Length >= 40 && t[0] == 'g' && t[1] == 'h' && t[2] is 'p' or 'o' or 'u' or 's' or 'r' && t[3] == '_')
        {
            return t.Length == 40 && !t[4..].ContainsAnyExcept(s_alnum) ? ("secrets.github_token", 0.99) : default;
        }
        if (t.StartsWith("github_pat_", StringComparison.Ordinal))
        {
            return t.Length >= 60 && IsWordChars(t) ? ("secrets.github_token", 0.99) : default;
        }
        if (t.StartsWith("glpat-", StringComparison.Ordinal))
        {
            return t.Length >= 26 && IsAlnumDash(t[6..]) ? ("secrets.gitlab_token", 0.95) : default;
        }
        if (t.StartsWith("xox", StringComparison.Ordinal) && t.Length > 5 && t[3] is 'b' or 'p' or 'a' or 'r' or 's' or 'e' && t[4] == '-')
        {
            return t.Length >= 20 && IsAlnumDash(t[5..]) ? ("secrets.slack_token", 0.95) : default;
        }
        if (t.StartsWith("xapp-", StringComparison.Ordinal))
        {
            return t.Length >= 20 && IsAlnumDash(t[5..]) ? ("secrets.slack_token", 0.95) : default;
        }
        if (t.Contains("hooks.slack.com/services/", StringComparison.Ordinal))
        {
            return ("secrets.slack_webhook", 0.95);
        }
        if (t.StartsWith("sk_live_", StringComparison.Ordinal) || t.StartsWith("rk_live_", StringComparison.Ordinal)
            || t.StartsWith("whsec_", StringComparison.Ordinal))
        {
            return t.Length >= 24 && IsWordChars(t) ? ("secrets.stripe_key", 0.99) : default;
        }
        if (t.StartsWith("sk_test_", StringComparison.Ordinal) || t.StartsWith("rk_test_", StringComparison.Ordinal))
        {
            return t.Length >= 24 && IsWordChars(t) ? ("secrets.stripe_key", 0.7) : default;
        }
        if (t.StartsWith("hf_", StringComparison.Ordinal))
        {
            return t.Length >= 30 && !t[3..].ContainsAnyExcept(s_alnum) && HasDigitAndLetter(t[3..]) ? ("secrets.huggingface_token", 0.95) : default;
        }
        if (t.StartsWith("npm_", StringComparison.Ordinal))
        {
            return t.Length == 40 && !t[4..].ContainsAnyExcept(s_alnum) ? ("secrets.npm_token", 0.95) : default;
        }
        if (t.StartsWith("pypi-", StringComparison.Ordinal))
        {
            return t.Length >= 50 ? ("secrets.pypi_token", 0.95) : default;
        }
        if (t.StartsWith("SG.", StringComparison.Ordinal))
        {
            return t.Length >= 60 && t.Count('.') == 2 ? ("secrets.sendgrid_key", 0.95) : default;
        }
        if (t.StartsWith("gsk_", StringComparison.Ordinal) || t.StartsWith("xai-", StringComparison.Ordinal)
            || t.StartsWith("pplx-", StringComparison.Ordinal) || t.StartsWith("r8_", StringComparison.Ordinal)
            || t.StartsWith("dop_v1_", StringComparison.Ordinal) || t.StartsWith("shpat_", StringComparison.Ordinal)
            || t.StartsWith("shpss_", StringComparison.Ordinal) || t.StartsWith("glsa_", StringComparison.Ordinal))
        {
            var us = t.IndexOfAny('_', '-');
            return t.Length >= 32 && HasDigitAndLetter(t[(us + 1)..]) && IsAlnumDash(t) ? ("secrets.api_key", 0.9) : default;
        }
        if (t.StartsWith("eyJ", StringComparison.Ordinal) && t.Count('.') == 2)
        {
            return IsJwt(t) ? ("secrets.jwt", 0.95) : default;
        }
        return default;
    }

    private static bool IsWordChars(ReadOnlySpan<char> t) => !t.ContainsAnyExcept(s_word);

    private static readonly SearchValues<char> s_word =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

    private static readonly SearchValues<char> s_alnumDash =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

    private static readonly SearchValues<char> s_upperDigits = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    private static readonly SearchValues<char> s_base64 =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/");

    private static bool IsAlnumDash(ReadOnlySpan<char> t) => !t.ContainsAnyExcept(s_alnumDash);

    private static bool IsUrlSafe(ReadOnlySpan<char> t) => !t.ContainsAnyExcept(s_alnumDash);

    private static bool HasDigitAndLetter(ReadOnlySpan<char> t) =>
        t.ContainsAnyInRange('0', '9') && (t.ContainsAnyInRange('a', 'z') || t.ContainsAnyInRange('A', 'Z'));

    private static bool IsAwsSecret(ReadOnlySpan<char> t) =>
        t.Length == 40 && !t.ContainsAnyExcept(s_base64) && HasDigitAndLetter(t) && t.ContainsAnyInRange('a', 'z') && t.ContainsAnyInRange('A', 'Z');

    private static bool HasAwsContext(ReadOnlySpan<char> s, int start)
    {
        var window = s[Math.Max(0, start - 80)..start];
        return window.Contains("aws", StringComparison.OrdinalIgnoreCase) && window.Contains("secret", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Three base64url parts whose first decodes to a JSON object naming an "alg".</summary>
    private static bool IsJwt(ReadOnlySpan<char> t)
    {
        var d1 = t.IndexOf('.');
        var d2 = t[(d1 + 1)..].IndexOf('.') + d1 + 1;
        var header = t[..d1];
        var payload = t[(d1 + 1)..d2];
        if (header.Length is < 10 or > 1024 || payload.Length < 4 || header.ContainsAnyExcept(s_alnumDash) || payload.ContainsAnyExcept(s_alnumDash))
        {
            return false;
        }
        Span<byte> utf8 = stackalloc byte[header.Length];
        for (var i = 0; i < header.Length; i++)
        {
            utf8[i] = (byte)header[i];
        }
        Span<byte> decoded = stackalloc byte[Base64Url.GetMaxDecodedLength(header.Length)];
        if (Base64Url.DecodeFromUtf8(utf8, decoded, out _, out var written) != OperationStatus.Done)
        {
            return false;
        }
        var json = decoded[..written];
        var trimmed = json.Trim((byte)' ');
        return trimmed.Length > 0 && trimmed[0] == (byte)'{' && json.IndexOf("\"alg\""u8) >= 0;
    }

    /// <summary>
    /// An unexplained random-looking token: 24+ characters mixing upper case, lower case and digits, with a Shannon
    /// entropy near the maximum its length allows. Hex-only strings (hashes, UUIDs), word-like identifiers, paths
    /// and data URIs are not reported: in prose they are far more often harmless than secrets.
    /// </summary>
    private static bool IsHighEntropy(ReadOnlySpan<char> s, int start, ReadOnlySpan<char> t)
    {
        if (t.Length < 24 || t.Count('.') > 2)
        {
            return false;
        }
        if (!t.ContainsAnyExcept("0123456789abcdefABCDEF-"))
        {
            return false;
        }
        var digits = 0;
        var upper = 0;
        var lower = 0;
        var wordRuns = 0;
        var run = 0;
        Span<int> counts = stackalloc int[128];
        foreach (var c in t)
        {
            counts[c & 0x7F]++;
            if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else if (char.IsAsciiLetterUpper(c))
            {
                upper++;
            }
            if (char.IsAsciiLetterLower(c))
            {
                lower++;
                run++;
            }
            else
            {
                wordRuns += run >= 4 ? 1 : 0;
                run = 0;
            }
        }
        wordRuns += run >= 4 ? 1 : 0;
        if (digits < 2 || upper < 2 || lower < 2 || wordRuns >= 3)
        {
            return false;
        }
        if (t[0] == '/' || t.Contains("//", StringComparison.Ordinal) || HasWordSegment(t))
        {
            return false;
        }
        var before = s[Math.Max(0, start - 8)..start];
        if (before.Contains("base64,", StringComparison.Ordinal) || before.EndsWith("sha256-", StringComparison.Ordinal))
        {
            return false;
        }
        double entropy = 0;
        foreach (var c in counts)
        {
            if (c > 0)
            {
                var p = (double)c / t.Length;
                entropy -= p * Math.Log2(p);
            }
        }
        var threshold = Math.Min(4.5, 0.85 * Math.Log2(t.Length));
        return entropy >= threshold;
    }

    /// <summary>A path-like token: a '/'-separated part that is a plain lower-case word (src/main/java).</summary>
    private static bool HasWordSegment(ReadOnlySpan<char> t)
    {
        if (!t.Contains('/'))
        {
            return false;
        }
        foreach (var range in t.Split('/'))
        {
            var part = t[range];
            if (part.Length >= 3 && !part.ContainsAnyExceptInRange('a', 'z'))
            {
                return true;
            }
        }
        return false;
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static bool ContainsAny(ReadOnlySpan<char> hay, string[] words)
    {
        foreach (var w in words)
        {
            if (hay.Contains(w, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static void Add(ref List<Finding>? found, string name, int start, int end, double score) =>
        (found ??= []).Add(new Finding(name, start, end, score, Mask));

    /// <summary>Keeps the most specific finding where several cover the same characters.</summary>
    private static List<Finding>? Dedupe(List<Finding>? found)
    {
        if (found is null || found.Count < 2)
        {
            return found;
        }
        found.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.End.CompareTo(a.End));
        var kept = new List<Finding>(found.Count);
        foreach (var f in found)
        {
            if (kept.Count > 0 && f.Start < kept[^1].End)
            {
                var last = kept[^1];
                // Prefer a named detector over the generic ones when both cover the same span.
                if (IsGeneric(last.Scanner) && !IsGeneric(f.Scanner) && f.Start <= last.Start + 1)
                {
                    kept[^1] = f with { End = Math.Max(f.End, last.End) };
                }
                continue;
            }
            kept.Add(f);
        }
        return kept;
    }

    private static bool IsGeneric(string name) => name is "secrets.high_entropy" or "secrets.generic";
}
