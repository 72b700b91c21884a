using System.Text;
using Keel.Core.Tokenization;

namespace Keel.Core.Tests.Tokenization;

public sealed class BpeTokenizerTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in TokenizerFixtures.All)
        {
            foreach (var encoding in TokenEncodings.All)
            {
                data.Add(encoding, fixture.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encode_FixtureText_GivesTiktokensIds(string encoding, string name)
    {
        var fixture = TokenizerFixtures.Get(name);
        var tokenizer = Tokenizer(encoding);

        var ids = tokenizer.Encode(fixture.Text);

        Assert.Equal(fixture.Expected[encoding], ids);
        Assert.Equal(ids, tokenizer.EncodeUtf8(Encoding.UTF8.GetBytes(fixture.Text)));
        Assert.Equal(ids.Length, tokenizer.CountTokens(fixture.Text));
        Assert.Equal(fixture.Text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Fixtures_WhereJsTiktokenDiffers_AreOnlyItsRegexDifferences()
    {
        // js-tiktoken runs the patterns as JavaScript regexes: its \s matches U+FEFF but not U+0085,
        // and its contractions are spelled out without ſ. Everywhere else it agrees with tiktoken.
        var differing = TokenizerFixtures.All.Where(f => f.JsTiktoken.Count > 0).ToList();

        Assert.NotEmpty(differing);
        Assert.All(differing, f => Assert.True(
            f.Text.Contains('\uFEFF', StringComparison.Ordinal) || f.Text.Contains('\u0085', StringComparison.Ordinal) || f.Text.Contains('ſ', StringComparison.Ordinal),
            $"{f.Name}: js-tiktoken differs for another reason"));
        Assert.True(TokenizerFixtures.All.Count(f => f.JsTiktoken.Count == 0) > 200);
    }

    [Theory]
    [InlineData("o200k_base", "hello world", new[] { 24912, 2375 })]
    [InlineData("cl100k_base", "hello world", new[] { 15339, 1917 })]
    public void Encode_HelloWorld_KnownIds(string encoding, string text, int[] expected)
    {
        Assert.Equal(expected, Tokenizer(encoding).Encode(text));
    }

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void Encode_SpecialTokenString_IsOrdinaryText(string encoding)
    {
        var tokenizer = Tokenizer(encoding);

        var ids = tokenizer.Encode("<|endoftext|>");

        Assert.True(ids.Length > 1);
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabularySize - 1));
        Assert.Equal("<|endoftext|>", tokenizer.Decode(ids));
    }

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void Encode_LoneSurrogate_EncodesAsReplacementCharacter(string encoding)
    {
        var tokenizer = Tokenizer(encoding);

        Assert.Equal(tokenizer.Encode("\uFFFDx\uFFFD"), tokenizer.Encode("\uD800x\uDC00"));
    }

    [Fact]
    public void EncodeUtf8_InvalidBytes_EncodedAsThemselves()
    {
        byte[] bytes = [(byte)'a', 0xFF, 0xC3, (byte)' ', (byte)'b'];

        var ids = BpeTokenizer.O200kBase.EncodeUtf8(bytes);

        Assert.Equal(bytes, BpeTokenizer.O200kBase.DecodeUtf8(ids));
    }

    [Fact]
    public void Encode_Empty_NoTokens()
    {
        Assert.Empty(BpeTokenizer.O200kBase.Encode(""));
        Assert.Equal(0, BpeTokenizer.Cl100kBase.CountTokens(""));
    }

    [Fact]
    public void Encode_LongText_SameAsTheCorpusFromPieces()
    {
        // Above the stack limit the text is transcoded into a pooled buffer.
        var text = string.Concat(Enumerable.Repeat(TokenizerFixtures.Get("multilingual").Text, 3));

        var ids = BpeTokenizer.O200kBase.Encode(text);

        Assert.Equal(text, BpeTokenizer.O200kBase.Decode(ids));
        Assert.Equal(ids, BpeTokenizer.O200kBase.EncodeUtf8(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void Decode_UnknownId_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTokenizer.Cl100kBase.Decode([100257]));
    }

    [Fact]
    public void TryGet_KnownAndUnknownNames()
    {
        Assert.True(BpeTokenizer.TryGet("o200k_base", out var o200k));
        Assert.Equal("o200k_base", o200k.Name);
        Assert.Equal(199_998, o200k.VocabularySize);
        Assert.True(BpeTokenizer.TryGet("cl100k_base", out var cl100k));
        Assert.Equal(100_256, cl100k.VocabularySize);
        Assert.False(BpeTokenizer.TryGet("p50k_base", out _));
        Assert.False(BpeTokenizer.TryGet(null, out _));
    }

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void Vocabulary_HashTable_SpreadsTheTokens(string encoding)
    {
        Assert.InRange(Tokenizer(encoding).Vocabulary.AverageProbeLength(), 1.0, 1.5);
    }

    private static BpeTokenizer Tokenizer(string encoding) =>
        BpeTokenizer.TryGet(encoding, out var tokenizer) ? tokenizer : throw new ArgumentException(encoding);
}
