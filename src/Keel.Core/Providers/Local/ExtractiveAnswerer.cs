using System.Text;
using System.Text.RegularExpressions;
using Keel.Core.Wire;

namespace Keel.Core.Providers.Local;

/// <summary>
/// Answers by quoting the sentences of the conversation's context (system, earlier and tool
/// messages, or a "Context:" block in the question) that share the most rare words with the
/// question, scored BM25-style. It generates nothing and says so.
/// </summary>
public static partial class ExtractiveAnswerer
{
    public const string Preamble = "[non-generative answer from local/extractive: quoted from the provided context]";
    public const string NoContext = "[non-generative answer from local/extractive] No context was provided to quote from.";
    public const int MaxSentences = 3;

    public static string Answer(IReadOnlyList<ChatMessage> messages)
    {
        var lastUser = -1;
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role == "user")
            {
                lastUser = i;
                break;
            }
        }

        var question = lastUser >= 0 ? messages[lastUser].Content?.GetText() ?? "" : "";
        var context = new StringBuilder();
        for (var i = 0; i < messages.Count; i++)
        {
            if (i != lastUser && messages[i].Content is { } content)
            {
                context.AppendLine(content.GetText());
            }
        }

        // A single message that carries its own context: "Context: ... Question: ...".
        var split = ContextQuestionPattern().Match(question);
        if (split.Success)
        {
            context.AppendLine(split.Groups["context"].Value);
            question = split.Groups["question"].Value;
        }

        return Answer(question, context.ToString());
    }

    public static string Answer(string question, string context)
    {
        var sentences = SplitSentences(context);
        if (sentences.Count == 0)
        {
            return NoContext;
        }

        var queryTerms = HashEmbedder.Tokenize(question).Where(t => !StopWords.Contains(t)).ToHashSet(StringComparer.Ordinal);
        var docs = sentences.Select(s => HashEmbedder.Tokenize(s).ToList()).ToList();
        var averageLength = docs.Average(d => Math.Max(1, d.Count));
        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var doc in docs)
        {
            foreach (var term in doc.Distinct())
            {
                documentFrequency[term] = documentFrequency.GetValueOrDefault(term) + 1;
            }
        }

        const double k1 = 1.2, b = 0.75;
        var scored = new List<(int Index, double Score)>(docs.Count);
        for (var i = 0; i < docs.Count; i++)
        {
            double score = 0;
            foreach (var term in queryTerms)
            {
                var tf = docs[i].Count(t => t == term);
                if (tf == 0)
                {
                    continue;
                }

                var df = documentFrequency[term];
                var idf = Math.Log(1 + ((docs.Count - df + 0.5) / (df + 0.5)));
                score += idf * (tf * (k1 + 1)) / (tf + (k1 * (1 - b + (b * docs[i].Count / averageLength))));
            }

            if (score > 0)
            {
                scored.Add((i, score));
            }
        }

        if (scored.Count == 0)
        {
            return $"{Preamble}\nNothing in the provided context matches the question.";
        }

        var chosen = scored.OrderByDescending(s => s.Score).ThenBy(s => s.Index).Take(MaxSentences).OrderBy(s => s.Index);
        var answer = new StringBuilder(Preamble);
        foreach (var (index, _) in chosen)
        {
            answer.Append("\n> ").Append(sentences[index]);
        }

        return answer.ToString();
    }

    internal static List<string> SplitSentences(string text)
    {
        var result = new List<string>();
        foreach (Match match in SentencePattern().Matches(text))
        {
            var sentence = match.Value.Trim();
            if (sentence.Length > 1)
            {
                result.Add(sentence);
            }
        }

        return result;
    }

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "is", "are", "was", "were", "be", "of", "to", "in", "on", "at", "for", "and", "or",
        "what", "which", "who", "whom", "how", "why", "when", "where", "does", "do", "did", "it", "its", "this",
        "that", "with", "by", "as", "from", "can", "i", "you", "me", "my", "your", "about", "tell", "please",
        "的", "是", "了", "吗", "什", "么", "在", "和",
    };

    [GeneratedRegex(@"[^.!?。！？\n]+[.!?。！？]*", RegexOptions.CultureInvariant)]
    private static partial Regex SentencePattern();

    [GeneratedRegex(@"^\s*context\s*:\s*(?<context>.*?)\s*question\s*:\s*(?<question>.*)$", RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex ContextQuestionPattern();
}
