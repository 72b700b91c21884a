using Keel.Core.Guardrails.Injection;
using Keel.Core.Guardrails.Learning;
using Keel.Core.Guardrails.Text;
using static Keel.Core.Guardrails.Toxicity.ToxicityLexicon;

namespace Keel.Core.Guardrails.Toxicity;

/// <summary>
/// Toxic, hateful and threatening text: a logistic-regression scorer over hashed character and word n-grams plus
/// Keel's own lexicon (<see cref="ToxicityLexicon"/>) as named features — category hits, and combinations such as
/// a hate verb near a group noun or a violent verb aimed at a person, with negation nearby marked apart. The
/// finding is named after the strongest lexicon evidence (<c>toxicity.threat</c>, <c>toxicity.hate</c>,
/// <c>toxicity.profanity</c>, <c>toxicity.insult</c>, else <c>toxicity.toxic</c>).
/// </summary>
internal sealed class ToxicityScanner : IScanner
{
    private const int ChunkSize = InjectionScanner.ChunkSize;
    private const int ChunkOverlap = InjectionScanner.ChunkOverlap;
    private const int Window = 5;

    private static readonly Lazy<LinearModel> s_model = new(static () => LinearModel.LoadEmbedded("toxicity"));

    private static readonly int[] s_catBuckets = BuildCatBuckets();
    private static readonly int s_hateGroup = AnalyzedText.NamedBucket("tox:hate+group");
    private static readonly int s_dehumGroup = AnalyzedText.NamedBucket("tox:dehum+group");
    private static readonly int s_violenceTarget = AnalyzedText.NamedBucket("tox:violence+target");
    private static readonly int s_insultPerson = AnalyzedText.NamedBucket("tox:insult+person");
    private static readonly int s_negatedHit = AnalyzedText.NamedBucket("tox:negated");

    public string Name => GuardrailScanners.Toxicity;

    private static LinearModel Model => s_model.Value;

    private static int[] BuildCatBuckets()
    {
        var b = new int[16];
        for (var i = 0; i < b.Length; i++)
        {
            b[i] = AnalyzedText.NamedBucket("tox:cat" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return b;
    }

    public ScanResult Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return ScanResult.Clean;
        }
        if (text.Length <= ChunkSize)
        {
            if (!InjectionScanner.HasLanguage(text))
            {
                return ScanResult.Clean;
            }
            var f = Evaluate(AnalyzedText.Shared(text), 0);
            return f is { } one ? new ScanResult([one]) : ScanResult.Clean;
        }
        Finding? best = null;
        for (var start = 0; start < text.Length; start += ChunkSize - ChunkOverlap)
        {
            var len = Math.Min(ChunkSize, text.Length - start);
            if (InjectionScanner.HasLanguage(text.AsSpan(start, len)))
            {
                using var a = AnalyzedText.Create(text.Substring(start, len));
                if (Evaluate(a, start) is { } f && (best is null || f.Score > best.Value.Score))
                {
                    best = f;
                }
            }
            if (start + len >= text.Length)
            {
                break;
            }
        }
        return best is { } b ? new ScanResult([b]) : ScanResult.Clean;
    }

    private const int StackTokens = 1024;

    private const int MaxExtras = 256;

    private Finding? Evaluate(AnalyzedText a, int offset)
    {
        Cat[]? rented = null;
        var cats = a.TokenCount <= StackTokens
            ? stackalloc Cat[StackTokens]
            : (rented = System.Buffers.ArrayPool<Cat>.Shared.Rent(a.TokenCount));
        try
        {
            cats = cats[..a.TokenCount];
            Categorize(a, cats);
            var rule = ToxicityRules.Evaluate(a, cats);
            var p = 0.0;
            var strongest = "toxicity.toxic";
            // The learned scorer knows no CJK n-grams: mostly-CJK text is judged by the lexicon rules alone.
            if (!MostlyCjk(a))
            {
                Span<int> extras = stackalloc int[MaxExtras];
                var n = Extras(a, cats, extras, out strongest);
                p = Model.Score(a, extras[..n]);
            }
            if (rule.Score >= 0.5 && rule.Score >= p)
            {
                return new Finding(rule.Name, offset, offset + a.Text.Length, rule.Score);
            }
            return p >= 0.5 ? new Finding(strongest, offset, offset + a.Text.Length, p) : null;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<Cat>.Shared.Return(rented);
            }
        }
    }

    internal static bool MostlyCjk(AnalyzedText a)
    {
        var cjk = 0;
        foreach (ref readonly var t in a.Tokens)
        {
            cjk += t.Cjk ? 1 : 0;
        }
        return cjk * 2 > a.TokenCount;
    }

    /// <summary>True when the rules alone flag the text (the trainer leaves room for them when picking the threshold).</summary>
    internal static bool RulesFlag(string text)
    {
        using var a = AnalyzedText.Create(text);
        var cats = new Cat[a.TokenCount];
        Categorize(a, cats);
        return ToxicityRules.Evaluate(a, cats).Score >= 0.5;
    }

    /// <summary>Lexicon evidence as named feature buckets; shared with the trainer so features match exactly.</summary>
    internal static int Extras(AnalyzedText a, Span<int> extras, out string strongest)
    {
        var cats = new Cat[a.TokenCount];
        Categorize(a, cats);
        return Extras(a, cats, extras, out strongest);
    }

    internal static int Extras(AnalyzedText a, ReadOnlySpan<Cat> cats, Span<int> extras, out string strongest)
    {
        var n = 0;
        var tokens = a.Tokens;
        var seen = Cat.None;
        var combos = 0;
        Span<Cat> recent = stackalloc Cat[Window];
        var lastNegation = -100;
        for (var i = 0; i < tokens.Length && n < extras.Length - 8; i++)
        {
            var c = cats[i];
            recent[i % Window] = c;
            if (c == Cat.None)
            {
                continue;
            }
            if ((c & Cat.Negation) != 0)
            {
                lastNegation = i;
            }
            var content = c & ~(Cat.Group | Cat.Person | Cat.Negation);
            for (var bit = 0; bit < 16; bit++)
            {
                if (((int)content & (1 << bit)) != 0)
                {
                    extras[n++] = s_catBuckets[bit];
                }
            }
            if (content != Cat.None && i - lastNegation <= 3)
            {
                extras[n++] = s_negatedHit;
            }
            var near = Cat.None;
            for (var k = 1; k < Window && k <= i; k++)
            {
                near |= recent[(i - k) % Window];
            }
            var both = c | near;
            if ((both & Cat.HateVerb) != 0 && (both & Cat.Group) != 0)
            {
                extras[n++] = s_hateGroup;
                combos |= 1;
            }
            if ((both & (Cat.Dehumanizing | Cat.Slur)) != 0 && (both & Cat.Group) != 0)
            {
                extras[n++] = s_dehumGroup;
                combos |= 2;
            }
            if ((c & Cat.Violence) != 0 && (both & (Cat.Person | Cat.Group)) != 0)
            {
                extras[n++] = s_violenceTarget;
                combos |= 4;
            }
            if ((both & Cat.Insult) != 0 && (both & Cat.Person) != 0)
            {
                extras[n++] = s_insultPerson;
            }
            seen |= content;
        }
        var zh = Chinese(a.Folded);
        for (var bit = 0; bit < 16 && n < extras.Length; bit++)
        {
            if (((int)zh & (1 << bit)) != 0)
            {
                extras[n++] = s_catBuckets[bit];
                // Chinese text has no learned n-grams: count the lexicon evidence twice.
                extras[n++] = s_catBuckets[bit];
            }
        }
        seen |= zh;
        strongest = (combos & 4) != 0 || (zh & Cat.Violence) != 0 ? "toxicity.threat"
            : (seen & Cat.Slur) != 0 || (combos & 3) != 0 ? "toxicity.hate"
            : (seen & Cat.Profanity) != 0 ? "toxicity.profanity"
            : (seen & Cat.Insult) != 0 ? "toxicity.insult"
            : "toxicity.toxic";
        return n;
    }
}
