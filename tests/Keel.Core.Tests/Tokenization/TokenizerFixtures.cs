using System.Text.Json;

namespace Keel.Core.Tests.Tokenization;

/// <summary>One text and the ids tiktoken gives it (fixtures.json, made by scripts/tokenizer/make-fixtures.mjs).</summary>
public sealed record TokenizerFixture(
    string Name,
    string Text,
    bool Corpus,
    IReadOnlyDictionary<string, int[]> Expected,
    IReadOnlyDictionary<string, int[]> JsTiktoken);

public static class TokenizerFixtures
{
    private static readonly Lazy<IReadOnlyList<TokenizerFixture>> s_all = new(Load);

    public static IReadOnlyList<TokenizerFixture> All => s_all.Value;

    public static TokenizerFixture Get(string name) => All.Single(f => f.Name == name);

    /// <summary>The natural-text cases joined with blank lines: the throughput corpus of the benchmarks.</summary>
    public static string Corpus => string.Join("\n\n", All.Where(f => f.Corpus).Select(f => f.Text));

    private static List<TokenizerFixture> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Tokenization", "fixtures.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var fixtures = new List<TokenizerFixture>();
        foreach (var item in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var expected = new Dictionary<string, int[]>();
            foreach (var encoding in new[] { "o200k_base", "cl100k_base" })
            {
                expected[encoding] = Ids(item.GetProperty(encoding));
            }

            var js = new Dictionary<string, int[]>();
            if (item.TryGetProperty("js_tiktoken", out var differing))
            {
                foreach (var property in differing.EnumerateObject())
                {
                    js[property.Name] = Ids(property.Value);
                }
            }

            fixtures.Add(new TokenizerFixture(
                item.GetProperty("name").GetString()!,
                item.GetProperty("text").GetString()!,
                item.TryGetProperty("corpus", out var corpus) && corpus.GetBoolean(),
                expected,
                js));
        }

        return fixtures;
    }

    private static int[] Ids(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt32())];
}
