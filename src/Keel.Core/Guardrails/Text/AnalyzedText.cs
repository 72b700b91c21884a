using System.Buffers;
using System.Runtime.CompilerServices;

namespace Keel.Core.Guardrails.Text;

/// <summary>A word of the folded text: where it is in the folded and original text, and its normalised spelling.</summary>
internal struct Token
{
    /// <summary>Offset of the first character in the original text.</summary>
    public int Start;

    /// <summary>Offset after the last character in the original text.</summary>
    public int End;

    /// <summary>Offset of the normalised spelling in <see cref="AnalyzedText.Norm"/>.</summary>
    public int NormStart;

    /// <summary>Length of the normalised spelling.</summary>
    public int NormLength;

    /// <summary>Offset after the last character in the folded text.</summary>
    public int FoldedEnd;

    /// <summary>True for a single CJK ideograph.</summary>
    public bool Cjk;
}

/// <summary>A paragraph (text between blank lines): its original span and its range in <see cref="AnalyzedText.Features"/>.</summary>
internal readonly record struct Segment(int Start, int End, int FeatureStart, int FeatureEnd);

/// <summary>
/// One text prepared for the classifiers: folded (<see cref="TextFold"/>), whitespace collapsed, split into words
/// with leetspeak, repeated letters and s p a c e d letters undone, and hashed into features. Buffers come from
/// the array pool and are reused; the last analysis on each thread is kept so that the injection and toxicity
/// scanners, run one after the other on the same string, analyse it once.
/// </summary>
internal sealed class AnalyzedText : IDisposable
{
    /// <summary>Hash buckets of the learned models (2^16).</summary>
    public const int BucketBits = 16;

    private const int BucketMask = (1 << BucketBits) - 1;
    private const int CacheLimit = 1 << 16;

    [ThreadStatic]
    private static AnalyzedText? t_last;

    private char[] _folded = [];
    private int[] _map = [];
    private Token[] _tokens = [];
    private char[] _norm = [];
    private int[] _features = [];
    private readonly List<int> _breaks = [];
    private readonly List<Segment> _segments = [];

    private AnalyzedText()
    {
    }

    /// <summary>The analysed text.</summary>
    public string Text { get; private set; } = "";

    /// <summary>Folded text: lower case, look-alikes mapped, invisible characters removed, whitespace runs as one space.</summary>
    public ReadOnlySpan<char> Folded => _folded.AsSpan(0, FoldedLength);

    /// <summary>Length of <see cref="Folded"/>.</summary>
    public int FoldedLength { get; private set; }

    /// <summary>Original offset of each folded character.</summary>
    public ReadOnlySpan<int> Map => _map.AsSpan(0, FoldedLength);

    /// <summary>The words.</summary>
    public ReadOnlySpan<Token> Tokens => _tokens.AsSpan(0, TokenCount);

    /// <summary>Number of words.</summary>
    public int TokenCount { get; private set; }

    /// <summary>Normalised spellings of the words, addressed by <see cref="Token.NormStart"/>.</summary>
    public ReadOnlySpan<char> Norm => _norm.AsSpan(0, _normLength);

    private int _normLength;

    /// <summary>Hashed feature buckets (character 2-5-grams, words, word bigrams), with repeats.</summary>
    public ReadOnlySpan<int> Features => _features.AsSpan(0, FeatureCount);

    /// <summary>Number of features.</summary>
    public int FeatureCount { get; private set; }

    /// <summary>Paragraphs, when the text has more than one (blank-line separated); empty otherwise.</summary>
    public IReadOnlyList<Segment> Segments => _segments;

    /// <summary>Unicode tag characters (U+E0000 block) seen: invisible text a model may still read.</summary>
    public int TagChars { get; private set; }

    /// <summary>Zero-width and bidi control characters seen.</summary>
    public int InvisibleChars { get; private set; }

    /// <summary>The normalised spelling of a word.</summary>
    public ReadOnlySpan<char> Word(in Token t) => _norm.AsSpan(t.NormStart, t.NormLength);

    /// <summary>Analyses <paramref name="text"/>, reusing this thread's last analysis when it is of the same string.</summary>
    public static AnalyzedText Shared(string text)
    {
        var last = t_last;
        if (last is not null && ReferenceEquals(last.Text, text))
        {
            return last;
        }
        var a = last ?? new AnalyzedText();
        a.Load(text);
        if (text.Length <= CacheLimit)
        {
            t_last = a;
        }
        else
        {
            t_last = null;
        }
        return a;
    }

    /// <summary>A private analysis (decoded payloads, training), to be disposed by the caller.</summary>
    public static AnalyzedText Create(string text)
    {
        var a = new AnalyzedText();
        a.Load(text);
        return a;
    }

    public void Dispose()
    {
        Return(ref _folded);
        Return(ref _map);
        Return(ref _tokens);
        Return(ref _norm);
        Return(ref _features);
    }

    private static void Return<T>(ref T[] array)
    {
        if (array.Length > 0)
        {
            ArrayPool<T>.Shared.Return(array);
        }
        array = [];
    }

    private static void Ensure<T>(ref T[] array, int size)
    {
        if (array.Length < size)
        {
            Return(ref array);
            array = ArrayPool<T>.Shared.Rent(Math.Max(size, 256));
        }
    }

    private void Load(string text)
    {
        Text = text;
        Ensure(ref _folded, text.Length);
        Ensure(ref _map, text.Length);
        FoldText(text);
        Ensure(ref _tokens, (FoldedLength / 2) + 2);
        Ensure(ref _norm, FoldedLength + 8);
        Tokenize();
        Ensure(ref _features, (FoldedLength * 4) + (TokenCount * 2) + 8);
        Featurize();
    }

    private void FoldText(string text)
    {
        var n = 0;
        var tags = 0;
        var invisible = 0;
        var lastSpace = true;
        var newlines = 0;
        _breaks.Clear();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < 0x80)
            {
                // ASCII fast path: lower case, whitespace runs to one space, blank lines remembered as paragraph breaks.
                if (c <= ' ')
                {
                    newlines += c == '\n' ? 1 : 0;
                    if (lastSpace || !(c is ' ' or '\n' or '\r' or '\t' or '\f' or '\v'))
                    {
                        continue;
                    }
                    _folded[n] = ' ';
                    _map[n++] = i;
                    lastSpace = true;
                    continue;
                }
                if (newlines >= 2 && n > 0)
                {
                    _breaks.Add(n);
                }
                newlines = 0;
                lastSpace = false;
                _folded[n] = c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
                _map[n++] = i;
                continue;
            }
            if (c == '\uDB40' && i + 1 < text.Length && text[i + 1] is >= '\uDC00' and <= '\uDC7F')
            {
                tags++;
                i++;
                continue;
            }
            var f = TextFold.Fold(c);
            if (f == TextFold.Removed)
            {
                invisible++;
                continue;
            }
            if (char.IsWhiteSpace(f))
            {
                if (lastSpace)
                {
                    continue;
                }
                f = ' ';
                lastSpace = true;
            }
            else
            {
                if (newlines >= 2 && n > 0)
                {
                    _breaks.Add(n);
                }
                newlines = 0;
                lastSpace = false;
            }
            _folded[n] = f;
            _map[n] = i;
            n++;
        }
        FoldedLength = n;
        TagChars = tags;
        InvisibleChars = invisible;
        MaskAddresses();
    }

    private static readonly string[] s_tlds =
        ["com", "org", "net", "io", "ai", "co", "uk", "de", "fr", "cn", "ru", "info", "biz", "edu", "gov", "app", "dev", "me", "us", "ly", "xyz", "site", "online", "shop"];

    /// <summary>
    /// Replaces e-mail addresses with the word "email", URLs and domain names with "url" and encoded blobs with
    /// "blob", in place. Which
    /// address appears says nothing about intent, and learning them (a sample domain that happens to recur in
    /// the attacks of the training data) would make every text naming that domain look like an attack.
    /// </summary>
    private void MaskAddresses()
    {
        var f = _folded.AsSpan(0, FoldedLength);
        if (f.IndexOfAny('@', '.') < 0 && f.Length < 20)
        {
            return;
        }
        var write = 0;
        var read = 0;
        var nextBreak = 0;
        while (read < f.Length)
        {
            var rel = f[read..].IndexOf(' ');
            var end = rel < 0 ? f.Length : read + rel + 1; // the word and the space after it
            var wordEnd = rel < 0 ? f.Length : end - 1;
            var word = f[read..wordEnd];
            // Most words are plain: decide that with one vectorised search and move on.
            var lead = 0;
            var coreLength = 0;
            var placeholder = word.Length >= 4 && (word.Length >= 20 || word.IndexOfAny(s_addressMarks) >= 0)
                ? Placeholder(word, out lead, out coreLength)
                : null;
            while (nextBreak < _breaks.Count && _breaks[nextBreak] < end)
            {
                _breaks[nextBreak] = write + (_breaks[nextBreak] - read);
                nextBreak++;
            }
            if (placeholder is null)
            {
                if (write != read)
                {
                    f[read..end].CopyTo(_folded.AsSpan(write));
                    _map.AsSpan(read, end - read).CopyTo(_map.AsSpan(write));
                }
                write += end - read;
            }
            else
            {
                var origin = _map[read + lead];
                for (var k = 0; k < lead; k++)
                {
                    _folded[write] = _folded[read + k];
                    _map[write++] = _map[read + k];
                }
                foreach (var ch in placeholder)
                {
                    _folded[write] = ch;
                    _map[write++] = origin;
                }
                for (var k = read + lead + coreLength; k < end; k++)
                {
                    _folded[write] = _folded[k];
                    _map[write++] = _map[k];
                }
            }
            read = end;
        }
        FoldedLength = write;
    }

    private static readonly System.Buffers.SearchValues<char> s_addressMarks = System.Buffers.SearchValues.Create("@./");

    private static string? Placeholder(ReadOnlySpan<char> word, out int lead, out int coreLength)
    {
        var core = word.TrimEnd(".,;:!?)]}\"'>");
        lead = core.Length - core.TrimStart("([{<\"'").Length;
        core = core[lead..];
        coreLength = core.Length;
        return AddressKind(core);
    }

    private static string? AddressKind(ReadOnlySpan<char> w)
    {
        if (w.Length < 4)
        {
            return null;
        }
        // Encoded data (base64, hex, keys): its characters are noise to the n-gram model; the injection scanner
        // decodes such runs and scans what they say separately.
        if (w.Length >= 20 && !w.ContainsAnyExcept(s_blobChars) && w.ContainsAnyInRange('0', '9') && w.ContainsAnyInRange('a', 'z'))
        {
            return "blob";
        }
        var at = w.IndexOf('@');
        if (at > 0 && w[(at + 1)..].Contains('.'))
        {
            return "email";
        }
        if (w.Contains("://", StringComparison.Ordinal) || w.StartsWith("www.", StringComparison.Ordinal))
        {
            return "url";
        }
        var slash = w.IndexOf('/');
        var host = slash > 0 ? w[..slash] : w;
        var dot = host.LastIndexOf('.');
        if (dot <= 0 || dot == host.Length - 1)
        {
            return null;
        }
        var tld = host[(dot + 1)..];
        foreach (var t in s_tlds)
        {
            if (tld.SequenceEqual(t) && !host[..dot].ContainsAnyExcept(s_hostChars))
            {
                return "url";
            }
        }
        return null;
    }

    private static readonly System.Buffers.SearchValues<char> s_blobChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789+/=_-");

    private static readonly System.Buffers.SearchValues<char> s_hostChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-.");

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) && !TextFold.IsCjk(c);

    /// <summary>Symbols that stand for letters inside a word (h@te, $hit, f*ck keeps its '*').</summary>
    private static bool IsInWordSymbol(char c) => c is '@' or '$' or '*' or '!' or '|';

    /// <summary>A letter-standing symbol followed (after any further '*') by a word character.</summary>
    private static bool SymbolInWord(ReadOnlySpan<char> f, int i)
    {
        if (!IsInWordSymbol(f[i]))
        {
            return false;
        }
        var k = i + 1;
        while (f[i] == '*' && k < f.Length && f[k] == '*' && k - i < 6)
        {
            k++;
        }
        return k < f.Length && IsWordChar(f[k]);
    }

    private void Tokenize()
    {
        var f = Folded;
        var count = 0;
        var normLen = 0;
        var i = 0;
        while (i < f.Length)
        {
            var c = f[i];
            if (TextFold.IsCjk(c))
            {
                _norm[normLen] = c;
                _tokens[count++] = new Token { Start = _map[i], End = _map[i] + 1, NormStart = normLen, NormLength = 1, FoldedEnd = i + 1, Cjk = true };
                normLen++;
                i++;
                continue;
            }
            if (!IsWordChar(c) && !(c != '*' && SymbolInWord(f, i)))
            {
                i++;
                continue;
            }
            var start = i;
            while (i < f.Length && (IsWordChar(f[i]) || (i > start && SymbolInWord(f, i)) || (f[i] != '*' && SymbolInWord(f, i))))
            {
                i++;
            }
            // Letters joined by one separator each: "i d i o t", "f.u.c.k", "s-t-u-p-i-d".
            if (i - start == 1 && char.IsLetter(f[start]))
            {
                var k = i;
                var letters = 1;
                while (k + 1 < f.Length && f[k] is ' ' or '.' or '-' or '_' or '*' && char.IsLetter(f[k + 1]) && !TextFold.IsCjk(f[k + 1])
                       && (k + 2 >= f.Length || !char.IsLetterOrDigit(f[k + 2])))
                {
                    k += 2;
                    letters++;
                }
                if (letters >= 3)
                {
                    var ns = normLen;
                    for (var j = start; j < k; j += 2)
                    {
                        _norm[normLen++] = f[j];
                    }
                    _tokens[count++] = new Token { Start = _map[start], End = _map[k - 1] + 1, NormStart = ns, NormLength = normLen - ns, FoldedEnd = k };
                    i = k;
                    continue;
                }
            }
            var normStart = normLen;
            var hasLetter = false;
            for (var j = start; j < i; j++)
            {
                hasLetter |= char.IsLetter(f[j]);
            }
            var prev = '\0';
            var run = 0;
            for (var j = start; j < i; j++)
            {
                var ch = hasLetter ? TextFold.Leet(f[j]) : f[j];
                if (!hasLetter && char.IsDigit(ch))
                {
                    ch = '0';
                }
                run = ch == prev ? run + 1 : 1;
                prev = ch;
                // Runs of three or more of one letter become two ("fuuuck" → "fuuck", matched by the lexicon's variants).
                if (run <= 2)
                {
                    _norm[normLen++] = ch;
                }
            }
            if (!hasLetter)
            {
                // Numbers are one feature whatever their value.
                normLen = normStart;
                _norm[normLen++] = '0';
            }
            _tokens[count++] = new Token { Start = _map[start], End = _map[i - 1] + 1, NormStart = normStart, NormLength = normLen - normStart, FoldedEnd = i };
        }
        TokenCount = count;
        _normLength = normLen;
    }

    private const uint Prime = 0x9E3779B1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint h, uint c) => (uint)(((h ^ c) * Prime) + 0x7F4A7C15) ^ ((h ^ c) >> 13);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Bucket(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6B;
        h ^= h >> 13;
        return (int)(h & BucketMask);
    }

    private void Featurize()
    {
        var n = 0;
        var feats = _features;
        var f = Folded;
        var tokens = Tokens;
        var tk = 0;
        uint prev = 0x1B873593;
        var nextBreak = 0;
        var segStart = 0;
        var segFeature = 0;
        _segments.Clear();
        uint c1 = 0, c2 = 0, c3 = 0, c4 = 0;
        for (var i = 0; i < f.Length; i++)
        {
            if (nextBreak < _breaks.Count && _breaks[nextBreak] == i)
            {
                _segments.Add(new Segment(_map[segStart], _map[i - 1] + 1, segFeature, n));
                segStart = i;
                segFeature = n;
                nextBreak++;
            }
            uint c0 = f[i];
            if (c0 is >= '0' and <= '9')
            {
                c0 = '0';
            }
            var h = Mix(0x3C6EF372, c0);
            if (i >= 1)
            {
                h = Mix(h, c1);
                feats[n++] = Bucket(h);
            }
            if (i >= 2)
            {
                h = Mix(h, c2);
                feats[n++] = Bucket(h);
            }
            if (i >= 3)
            {
                h = Mix(h, c3);
                feats[n++] = Bucket(h);
            }
            if (i >= 4)
            {
                h = Mix(h, c4);
                feats[n++] = Bucket(h);
            }
            c4 = c3;
            c3 = c2;
            c2 = c1;
            c1 = c0;

            // Word and word-bigram features as each word ends, so every feature has a place in the text.
            while (tk < tokens.Length && tokens[tk].FoldedEnd <= i + 1)
            {
                var wh = 0x811C9DC5u;
                foreach (var ch in Word(tokens[tk]))
                {
                    wh = Mix(wh, ch);
                }
                feats[n++] = Bucket(wh ^ 0x5BD1E995);
                feats[n++] = Bucket(Mix(prev, wh));
                prev = wh;
                tk++;
            }
        }
        if (_segments.Count > 0)
        {
            _segments.Add(new Segment(_map[segStart], _map[f.Length - 1] + 1, segFeature, n));
        }
        FeatureCount = n;
    }

    /// <summary>The bucket of a named extra feature (lexicon or rule hit) in the same hash space.</summary>
    public static int NamedBucket(string name)
    {
        var h = 0xCBF29CE4u;
        foreach (var ch in name)
        {
            h = Mix(h, ch);
        }
        return Bucket(h ^ 0xA5A5A5A5);
    }
}
