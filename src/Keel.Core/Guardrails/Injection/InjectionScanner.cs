using System.Buffers;
using System.Text;
using Keel.Core.Guardrails.Learning;
using Keel.Core.Guardrails.Text;

namespace Keel.Core.Guardrails.Injection;

/// <summary>
/// Prompt injection and jailbreak detector: a logistic-regression scorer over hashed character and word
/// n-grams (trained on a split of the labelled data, see docs/guardrails.md), hand-written patterns for
/// English and Chinese (<see cref="InjectionRules"/>), invisible-character smuggling (Unicode tags,
/// zero-width and bidi controls), and payloads hidden in base64, hex or rot13, which are decoded and scanned
/// again. The text's score is the highest of these; a score of 0.5 or more is a finding.
/// </summary>
internal sealed class InjectionScanner : IScanner
{
    /// <summary>Longest text scored as one piece; longer texts are scored in chunks overlapping by <see cref="ChunkOverlap"/>.</summary>
    internal const int ChunkSize = 8192;

    /// <summary>Enough overlap for a sentence cut by a chunk boundary to appear whole in one of the chunks.</summary>
    internal const int ChunkOverlap = 512;

    private static readonly Lazy<LinearModel> s_model = new(static () => LinearModel.LoadEmbedded("injection"));

    /// <summary>Anchor words as they read after rot13 ("ignore" → "vtaber"): found in the text as it is, no transform needed.</summary>
    private static readonly SearchValues<string> s_rot13Anchors = SearchValues.Create(
        [.. new[] { "ignore", "disregard", "instructions", "system prompt", "jailbreak", "developer mode", "do anything now", "forget" }.Select(Rot13)],
        StringComparison.Ordinal);

    private static string Rot13(string s) => string.Create(s.Length, s, static (dst, src) =>
    {
        for (var i = 0; i < src.Length; i++)
        {
            var c = src[i];
            dst[i] = c is >= 'a' and <= 'z' ? (char)('a' + ((c - 'a' + 13) % 26)) : c;
        }
    });

    private static readonly SearchValues<char> s_b64 =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_");

    /// <summary>Everything from U+200B up: zero-width, bidi and tag characters all live there.</summary>
    private const char FirstInvisible = '\u200B';

    private readonly LinearModel? _model;

    public InjectionScanner()
    {
    }

    /// <summary>With an explicit model (tests, training); null scores with the rules only.</summary>
    internal InjectionScanner(LinearModel? model, bool rulesOnly)
    {
        _model = model;
        RulesOnly = rulesOnly;
    }

    internal bool RulesOnly { get; }

    public string Name => GuardrailScanners.Injection;

    private LinearModel? Model => RulesOnly ? null : _model ?? s_model.Value;

    public ScanResult Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return ScanResult.Clean;
        }
        List<Finding>? found = null;
        Invisible(text, ref found);
        if (text.Length <= ChunkSize)
        {
            if (HasLanguage(text))
            {
                Evaluate(AnalyzedText.Shared(text), 0, text.Length, depth: 0, ref found);
            }
        }
        else
        {
            // Overlapping chunks keep the work per chunk bounded and an attack inside a long document visible.
            for (var start = 0; start < text.Length; start += ChunkSize - ChunkOverlap)
            {
                var len = Math.Min(ChunkSize, text.Length - start);
                if (HasLanguage(text.AsSpan(start, len)))
                {
                    using var a = AnalyzedText.Create(text.Substring(start, len));
                    Evaluate(a, start, text.Length, depth: 0, ref found);
                }
                if (start + len >= text.Length)
                {
                    break;
                }
            }
        }
        return ScanResult.From(Distinct(found));
    }

    /// <summary>
    /// Text with fewer than four letters (digits, punctuation, brackets) holds no sentence to classify:
    /// skipping it keeps machine-generated blobs cheap. Encoded payloads are letters too, so none is missed.
    /// </summary>
    internal static bool HasLanguage(ReadOnlySpan<char> text)
    {
        const int MinLetters = 4;
        var letters = 0;
        var i = 0;
        while (letters < MinLetters)
        {
            var next = text[i..].IndexOfAnyExcept(s_notLetters);
            if (next < 0)
            {
                return false;
            }
            i += next;
            if (char.IsLetter(text[i]))
            {
                letters++;
            }
            i++;
            if (i >= text.Length)
            {
                break;
            }
        }
        return letters >= MinLetters;
    }

    private static readonly SearchValues<char> s_notLetters = SearchValues.Create(
        "0123456789 \t\r\n!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

    private void Evaluate(AnalyzedText a, int offset, int textLength, int depth, ref List<Finding>? found)
    {
        var model = Model;
        if (model is not null)
        {
            var p = model.Score(a, []);
            var (segmentScore, segment) = model.BestSegment(a);
            if (p >= 0.5 && p >= segmentScore)
            {
                Add(ref found, new Finding("injection.classifier", offset, offset + a.Text.Length, p));
            }
            else if (segmentScore >= 0.5)
            {
                Add(ref found, new Finding("injection.classifier", offset + segment.Start, offset + segment.End, segmentScore));
            }
        }
        var hit = InjectionRules.Evaluate(a);
        if (hit.Score >= 0.5)
        {
            Add(ref found, depth == 0
                ? new Finding(hit.Name, offset + hit.Start, offset + hit.End, hit.Score)
                : new Finding("injection.encoded", 0, textLength, hit.Score));
        }
        if (depth == 0)
        {
            Encoded(a, offset, textLength, ref found);
        }
    }

    private static void Add(ref List<Finding>? found, Finding f) => (found ??= []).Add(f);

    /// <summary>Unicode tag characters (an invisible copy of ASCII) and runs of zero-width or bidi controls.</summary>
    private void Invisible(string text, ref List<Finding>? found)
    {
        if (!text.AsSpan().ContainsAnyInRange(FirstInvisible, '\uFFFF'))
        {
            return;
        }
        var tags = 0;
        var controls = 0;
        var first = -1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\uDB40' && i + 1 < text.Length && text[i + 1] is >= '\uDC00' and <= '\uDC7F')
            {
                tags++;
                first = first < 0 ? i : first;
                i++;
            }
            else if (c is '\u200B' or '\u2060' or '\u2061' or '\u2062' or '\u2063' or '\u2064' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069')
                     || (c == '\uFEFF' && i > 0))
            {
                controls++;
                first = first < 0 ? i : first;
            }
        }
        if (tags >= 2)
        {
            Add(ref found, new Finding("injection.invisible", first, text.Length, 0.9));
            // The tags spell ASCII text: decode it and look at what it says.
            var sb = new StringBuilder(tags);
            for (var i = 0; i + 1 < text.Length; i++)
            {
                if (text[i] == '\uDB40' && text[i + 1] is >= '\uDC00' and <= '\uDC7F')
                {
                    sb.Append((char)(text[i + 1] - 0xDC00));
                    i++;
                }
            }
            ScanDecoded(sb.ToString(), text.Length, ref found);
        }
        else if (controls >= 3)
        {
            Add(ref found, new Finding("injection.invisible", first, text.Length, 0.75));
        }
    }

    /// <summary>Base64 and hex runs that decode to readable text, and rot13 text, are decoded and scanned again.</summary>
    private void Encoded(AnalyzedText a, int offset, int textLength, ref List<Finding>? found)
    {
        var s = a.Text.AsSpan();
        var i = 0;
        while (i < s.Length)
        {
            if (!s_b64.Contains(s[i]))
            {
                i++;
                continue;
            }
            var start = i;
            while (i < s.Length && s_b64.Contains(s[i]))
            {
                i++;
            }
            var run = s[start..i];
            if (run.Length >= 20 && (start == 0 || !char.IsLetterOrDigit(s[start - 1])))
            {
                var decoded = TryDecode(run);
                if (decoded is not null)
                {
                    ScanDecoded(decoded, textLength, ref found);
                }
            }
        }

        // rot13: look for the encoded anchor words first; decode and analyse only when one appears.
        var folded = a.Folded;
        if (folded.IndexOfAny(s_rot13Anchors) >= 0)
        {
            ScanDecoded(Rot13(folded.ToString()), textLength, ref found, offset);
        }
    }

    private void ScanDecoded(string decoded, int textLength, ref List<Finding>? found, int offset = 0)
    {
        using var inner = AnalyzedText.Create(decoded);
        var score = InjectionRules.Evaluate(inner).Score;
        var model = Model;
        // The classifier is unreliable on a few words: short decoded strings are judged by the rules alone.
        if (model is not null && decoded.Length >= 64)
        {
            score = Math.Max(score, model.Score(inner, []));
        }
        if (score >= 0.5)
        {
            Add(ref found, new Finding("injection.encoded", offset, textLength, Math.Max(score, 0.8)));
        }
    }

    /// <summary>Decodes base64 (standard or url-safe) or hex when the result is mostly printable text.</summary>
    private static string? TryDecode(ReadOnlySpan<char> run)
    {
        if (run.Length > 16384)
        {
            return null;
        }
        byte[]? bytes = null;
        if (run.Length % 2 == 0 && !run.ContainsAnyExcept("0123456789abcdefABCDEF"))
        {
            bytes = Convert.FromHexString(run);
        }
        else
        {
            // Url-safe to standard alphabet, padding restored: Convert then decodes both kinds without throwing.
            var trimmed = run.TrimEnd('=');
            var chars = new char[trimmed.Length + 3];
            for (var k = 0; k < trimmed.Length; k++)
            {
                chars[k] = trimmed[k] switch { '-' => '+', '_' => '/', var c => c };
            }
            var len = trimmed.Length;
            while (len % 4 != 0)
            {
                chars[len++] = '=';
            }
            var buf = new byte[(len * 3 / 4) + 3];
            if (Convert.TryFromBase64Chars(chars.AsSpan(0, len), buf, out var n))
            {
                bytes = buf[..n];
            }
        }
        if (bytes is null || bytes.Length < 12)
        {
            return null;
        }
        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
        var printable = 0;
        var letters = 0;
        foreach (var c in decoded)
        {
            printable += char.IsControl(c) && c is not ('\n' or '\r' or '\t') ? 0 : 1;
            letters += char.IsLetter(c) ? 1 : 0;
        }
        return printable >= decoded.Length * 0.95 && letters >= decoded.Length * 0.5 ? decoded : null;
    }

    /// <summary>One finding per detector name, the highest-scoring one.</summary>
    private static List<Finding>? Distinct(List<Finding>? found)
    {
        if (found is null || found.Count < 2)
        {
            return found;
        }
        var best = new Dictionary<string, Finding>(StringComparer.Ordinal);
        foreach (var f in found)
        {
            if (!best.TryGetValue(f.Scanner, out var b) || f.Score > b.Score)
            {
                best[f.Scanner] = f;
            }
        }
        return [.. best.Values];
    }
}
