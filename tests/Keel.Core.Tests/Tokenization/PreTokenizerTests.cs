using System.Text;
using System.Text.RegularExpressions;
using Keel.Core.Tokenization;

namespace Keel.Core.Tests.Tokenization;

/// <summary>
/// The hand-written splitters against tiktoken's own patterns run by .NET's regex engine. .NET's
/// <c>\s</c> is Unicode White_Space, as in tiktoken's Rust regex, so within the BMP the two must give
/// the same pieces. (Outside it they cannot: .NET matches UTF-16 code units, so <c>\p{L}</c> misses
/// 𝐀 or 𠀀, which is why Keel does not split with Regex.)
/// </summary>
public sealed partial class PreTokenizerTests
{
    // tiktoken's patterns; (?i:'s|…) is spelled out so that ſ folds to s as in Rust, and the
    // possessive quantifiers of the upstream cl100k pattern are dropped (they never change a match).
    private const string Contraction = "'(?:[sSſ]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])";
    private const string Cl100kPattern =
        Contraction + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:" + Contraction + ")?"
        + @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:" + Contraction + ")?"
        + @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // Every class the patterns tell apart, in the BMP.
    private static readonly string[] Alphabet =
    [
        "a", "z", "A", "Z", "s", "t", "r", "e", "v", "l", "m", "d", "S", "E", "L", "'", "'", " ", " ", " ", "\t", "\n", "\r",
        "\u000B", "\u000C", "0", "9", ".", "/", "!", "-", "\"", "\u00A0", "\u0085", "\u2028", "\u2029", "\u3000", "\u1680",
        "\uFEFF", "\u200B", "é", "É", "ß", "ſ", "ǅ", "ʰ", "中", "あ", "한", "\u0301", "\u0903", "\u20DD", "Ⅻ", "½", "٣", "€", "Ω",
        "ω", "\u001F", "\u0000",
    ];

    [GeneratedRegex(Cl100kPattern)]
    private static partial Regex Cl100kRegex();

    [GeneratedRegex(O200kPattern)]
    private static partial Regex O200kRegex();

    [Fact]
    public void Cl100k_RandomBmpText_SplitsLikeTheRegex()
    {
        AssertSplitsLikeRegex<Cl100kPreTokenizer>(Cl100kRegex(), seed: 1);
    }

    [Fact]
    public void O200k_RandomBmpText_SplitsLikeTheRegex()
    {
        AssertSplitsLikeRegex<O200kPreTokenizer>(O200kRegex(), seed: 2);
    }

    [Fact]
    public void Fixtures_BmpOnly_SplitLikeTheRegex()
    {
        foreach (var fixture in TokenizerFixtures.All.Where(f => !f.Text.Any(char.IsSurrogate)))
        {
            Assert.Equal(RegexPieces(Cl100kRegex(), fixture.Text), Pieces<Cl100kPreTokenizer>(fixture.Text));
            Assert.Equal(RegexPieces(O200kRegex(), fixture.Text), Pieces<O200kPreTokenizer>(fixture.Text));
        }
    }

    [Theory]
    [InlineData("o200k", "日本A", new[] { "日本", "A" })]
    [InlineData("o200k", "HELLO'S world", new[] { "HELLO'S", " world" })]
    [InlineData("o200k", "don't", new[] { "don't" })]
    [InlineData("cl100k", "don't", new[] { "don", "'t" })]
    [InlineData("cl100k", "'sup", new[] { "'s", "up" })]
    [InlineData("cl100k", "a   b", new[] { "a", "  ", " b" })]
    [InlineData("cl100k", "a \n\n  b", new[] { "a", " \n\n", " ", " b" })]
    [InlineData("cl100k", " 123456", new[] { " ", "123", "456" })]
    [InlineData("o200k", "x//\n/y", new[] { "x", "//\n/", "y" })]
    [InlineData("o200k", " I'ſ", new[] { " I'ſ" })]
    [InlineData("o200k", "𝐀𝐁𝐜 𠀀𠀁", new[] { "𝐀𝐁𝐜", " 𠀀𠀁" })]
    [InlineData("cl100k", "x 𝟎𝟏𝟐𝟑", new[] { "x", " ", "𝟎𝟏𝟐", "𝟑" })]
    [InlineData("cl100k", "a\u0085\u0085b", new[] { "a", "\u0085", "\u0085b" })]
    [InlineData("cl100k", "a \uFEFFb", new[] { "a", " \uFEFF", "b" })]
    public void Split_KnownText_KnownPieces(string pattern, string text, string[] expected)
    {
        var pieces = pattern == "o200k" ? Pieces<O200kPreTokenizer>(text) : Pieces<Cl100kPreTokenizer>(text);

        Assert.Equal(expected, pieces);
    }

    private static void AssertSplitsLikeRegex<T>(Regex regex, int seed)
        where T : struct, IPreTokenizer
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            text.Clear();
            var length = random.Next(1, 30);
            for (var j = 0; j < length; j++)
            {
                text.Append(Alphabet[random.Next(Alphabet.Length)]);
            }

            var s = text.ToString();
            Assert.Equal(RegexPieces(regex, s), Pieces<T>(s));
        }
    }

    private static List<string> RegexPieces(Regex regex, string text) => [.. regex.Matches(text).Select(m => m.Value)];

    private static List<string> Pieces<T>(string text)
        where T : struct, IPreTokenizer
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        var pieces = new List<string>();
        for (var start = 0; start < utf8.Length;)
        {
            var end = T.PieceEnd(utf8, start);
            Assert.True(end > start);
            pieces.Add(Encoding.UTF8.GetString(utf8, start, end - start));
            start = end;
        }

        return pieces;
    }
}
