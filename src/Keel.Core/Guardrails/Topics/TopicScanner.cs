using System.Text.RegularExpressions;
using Keel.Core.Providers.Local;

namespace Keel.Core.Guardrails.Topics;

/// <summary>One banned topic: any keyword, any pattern, or a sentence close enough to one of the examples.</summary>
public sealed record TopicDefinition
{
    /// <summary>The topic's name; findings are named <c>topics.NAME</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Words or phrases, matched case-insensitively on word boundaries.</summary>
    public IReadOnlyList<string> Keywords { get; init; } = [];

    /// <summary>Regular expressions (.NET syntax, run without backtracking, case-insensitive).</summary>
    public IReadOnlyList<string> Patterns { get; init; } = [];

    /// <summary>Example phrases; a sentence whose embedding is at least <see cref="Threshold"/> similar to one is on topic.</summary>
    public IReadOnlyList<string> Examples { get; init; } = [];

    /// <summary>Cosine similarity (0..1) from which a sentence counts as on topic.</summary>
    public double Threshold { get; init; } = TopicScanner.DefaultThreshold;
}

/// <summary>
/// Banned topics: keywords, regular expressions, and semantic similarity of each sentence (and the whole text) to
/// example phrases, using an embedder (the built-in hashing embedder by default, which matches shared wording,
/// not meaning: give several phrasings as examples). Built from config; thread-safe.
/// </summary>
public sealed class TopicScanner : IScanner
{
    /// <summary>The scanner's family name.</summary>
    public const string ScannerName = "topics";

    /// <summary>Default similarity threshold for the hashing embedder (measured: paraphrases sharing the key words score 0.5–0.8, unrelated text under 0.2).</summary>
    public const double DefaultThreshold = 0.5;

    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);
    private readonly CompiledTopic[] _topics;
    private readonly Func<string, float[]> _embed;

    /// <summary>Compiles <paramref name="topics"/>; <paramref name="embed"/> defaults to <see cref="HashEmbedder.Embed(string, int)"/>.</summary>
    public TopicScanner(IEnumerable<TopicDefinition> topics, Func<string, float[]>? embed = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        _embed = embed ?? (static text => HashEmbedder.Embed(text));
        _topics = [.. topics.Select(t => new CompiledTopic(
            t,
            "topics." + t.Name,
            [.. t.Keywords.Where(static k => k.Length > 0)],
            [.. t.Patterns.Select(CompilePattern)],
            [.. t.Examples.Select(e => _embed(e))]))];
    }

    /// <inheritdoc />
    public string Name => ScannerName;

    /// <summary>Checks a pattern compiles as the scanner would run it; returns the error, or null.</summary>
    public static string? ValidatePattern(string pattern)
    {
        try
        {
            _ = CompilePattern(pattern);
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
        catch (NotSupportedException ex)
        {
            return ex.Message;
        }
    }

    /// <inheritdoc />
    public ScanResult Scan(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || _topics.Length == 0)
        {
            return ScanResult.Clean;
        }
        List<Finding>? findings = null;
        List<(int Start, int End, float[] Vector)>? sentences = null;
        foreach (var topic in _topics)
        {
            if (FindKeyword(text, topic) is { } keyword)
            {
                (findings ??= []).Add(new Finding(topic.FindingName, keyword.Start, keyword.End, 1.0));
                continue;
            }
            if (FindPattern(text, topic) is { } match)
            {
                (findings ??= []).Add(new Finding(topic.FindingName, match.Start, match.End, 1.0));
                continue;
            }
            if (topic.Examples.Length == 0)
            {
                continue;
            }
            sentences ??= Sentences(text);
            var best = (Score: 0.0, Start: 0, End: 0);
            foreach (var (start, end, vector) in sentences)
            {
                foreach (var example in topic.Examples)
                {
                    var score = Cosine(vector, example);
                    if (score > best.Score)
                    {
                        best = (score, start, end);
                    }
                }
            }
            if (best.Score >= topic.Definition.Threshold)
            {
                (findings ??= []).Add(new Finding(topic.FindingName, best.Start, best.End, Math.Min(1.0, best.Score)));
            }
        }
        return ScanResult.From(findings);
    }

    private static Regex CompilePattern(string pattern) =>
        new(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, RegexTimeout);

    private static (int Start, int End)? FindKeyword(string text, CompiledTopic topic)
    {
        foreach (var keyword in topic.Keywords)
        {
            var at = 0;
            while ((at = text.IndexOf(keyword, at, StringComparison.OrdinalIgnoreCase)) >= 0)
            {
                var end = at + keyword.Length;
                if (IsBoundary(text, at - 1, keyword[0]) && IsBoundary(text, end, keyword[^1]))
                {
                    return (at, end);
                }
                at++;
            }
        }
        return null;
    }

    // CJK text has no spaces, so a CJK keyword edge is always a boundary.
    private static bool IsBoundary(string text, int index, char edge) =>
        index < 0 || index >= text.Length || !char.IsLetterOrDigit(edge) || edge >= '\u2E80' || !char.IsLetterOrDigit(text[index]);

    private static (int Start, int End)? FindPattern(string text, CompiledTopic topic)
    {
        foreach (var regex in topic.Patterns)
        {
            try
            {
                var match = regex.Match(text);
                if (match.Success)
                {
                    return (match.Index, match.Index + match.Length);
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pattern too slow for this text says nothing about it; the other checks still run.
            }
        }
        return null;
    }

    /// <summary>The whole text plus each sentence of it (split on . ! ? 。！？ and line breaks), with their embeddings.</summary>
    private List<(int Start, int End, float[] Vector)> Sentences(string text)
    {
        var result = new List<(int, int, float[])>();
        var start = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] is not ('.' or '!' or '?' or '\n' or '。' or '！' or '？'))
            {
                continue;
            }
            var end = i < text.Length ? i + 1 : i;
            var (s, e) = Trim(text, start, end);
            if (e - s >= 3)
            {
                result.Add((s, e, _embed(text[s..e])));
            }
            start = end;
        }
        if (result.Count != 1)
        {
            var (s, e) = Trim(text, 0, text.Length);
            if (e > s)
            {
                result.Add((s, e, _embed(text)));
            }
        }
        return result;
    }

    private static (int, int) Trim(string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start]))
        {
            start++;
        }
        while (end > start && char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }
        return (start, end);
    }

    private static double Cosine(float[] a, float[] b)
    {
        // Both vectors are L2-normalised by the embedder; guard anyway against another embedder that is not.
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    private sealed record CompiledTopic(TopicDefinition Definition, string FindingName, string[] Keywords, Regex[] Patterns, float[][] Examples);
}
