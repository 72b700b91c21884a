using System.Diagnostics;
using System.Text;
using Keel.Core.Tokenization;

namespace Keel.Core.Tests.Tokenization;

public sealed class BytePairEncoderTests
{
    private struct ListSink() : ITokenSink
    {
        public List<int> Ids { get; } = [];

        public readonly void Add(int token) => Ids.Add(token);
    }

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void MergeLarge_RandomPieces_SameAsMergeSmall(string encoding)
    {
        Assert.True(BpeTokenizer.TryGet(encoding, out var tokenizer));
        var vocabulary = tokenizer.Vocabulary;
        var random = new Random(7);
        string[] fragments = ["a", "b", "e", "th", "ing", " ", "=", "-", "é", "中", "🙂", "0", "\n", "ab", "er", "ion"];
        for (var i = 0; i < 500; i++)
        {
            byte[] piece;
            if (i % 3 == 0)
            {
                piece = new byte[random.Next(2, BytePairEncoder.SmallPieceLimit + 1)];
                random.NextBytes(piece);
            }
            else
            {
                var text = new StringBuilder();
                while (text.Length < random.Next(2, 60))
                {
                    text.Append(fragments[random.Next(fragments.Length)]);
                }

                piece = Encoding.UTF8.GetBytes(text.ToString());
                if (piece.Length > BytePairEncoder.SmallPieceLimit)
                {
                    piece = piece[..BytePairEncoder.SmallPieceLimit];
                }
            }

            var small = new ListSink();
            var large = new ListSink();
            BytePairEncoder.MergeSmall(vocabulary, piece, ref small);
            BytePairEncoder.MergeLarge(vocabulary, piece, ref large);

            Assert.Equal(small.Ids, large.Ids);
            Assert.Equal(piece, tokenizer.DecodeUtf8(small.Ids.ToArray()));
        }
    }

    [Fact]
    public void Encode_HugeSinglePiece_IsNotQuadratic()
    {
        // One 400 KB "word": a quadratic merge would take minutes; the heap takes milliseconds.
        var text = string.Concat(Enumerable.Repeat("abcdefghij", 40_000));
        var stopwatch = Stopwatch.StartNew();

        var ids = BpeTokenizer.O200kBase.Encode(text);

        stopwatch.Stop();
        Assert.Equal(text, BpeTokenizer.O200kBase.Decode(ids));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
    }
}
