using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Keel.Core.Tokenization;

/// <summary>The names of the encodings Keel ships.</summary>
public static class TokenEncodings
{
    /// <summary>GPT-4o, GPT-4.1, GPT-4.5, GPT-5 and the o-series.</summary>
    public const string O200kBase = "o200k_base";

    /// <summary>GPT-4, GPT-3.5 Turbo and the text-embedding-3 / ada-002 models.</summary>
    public const string Cl100kBase = "cl100k_base";

    public static IReadOnlyList<string> All { get; } = [O200kBase, Cl100kBase];
}

/// <summary>
/// tiktoken's byte-pair encodings, producing the same token ids as tiktoken's <c>encode_ordinary</c>:
/// special-token strings such as <c>&lt;|endoftext|&gt;</c> are encoded as ordinary text.
/// The vocabularies ship inside Keel.Core and load on first use. Instances are immutable and thread-safe.
/// </summary>
public sealed class BpeTokenizer
{
    private const int StackTextLimit = 1024;

    private static readonly Lazy<BpeTokenizer> s_o200k = new(() => Load(TokenEncodings.O200kBase));
    private static readonly Lazy<BpeTokenizer> s_cl100k = new(() => Load(TokenEncodings.Cl100kBase));

    private readonly BpeVocabulary _vocabulary;
    private readonly bool _o200k;

    private BpeTokenizer(BpeVocabulary vocabulary, bool o200k)
    {
        _vocabulary = vocabulary;
        _o200k = o200k;
    }

    /// <summary>o200k_base (loaded on first use).</summary>
    public static BpeTokenizer O200kBase => s_o200k.Value;

    /// <summary>cl100k_base (loaded on first use).</summary>
    public static BpeTokenizer Cl100kBase => s_cl100k.Value;

    /// <summary>The encoding's name, e.g. <c>o200k_base</c>.</summary>
    public string Name => _vocabulary.Name;

    /// <summary>The number of ordinary tokens (ids 0 to VocabularySize - 1).</summary>
    public int VocabularySize => _vocabulary.Count;

    internal BpeVocabulary Vocabulary => _vocabulary;

    /// <summary>The tokenizer for an encoding name (<see cref="TokenEncodings"/>); false for any other name.</summary>
    public static bool TryGet(string? encoding, [NotNullWhen(true)] out BpeTokenizer? tokenizer)
    {
        tokenizer = encoding switch
        {
            TokenEncodings.O200kBase => O200kBase,
            TokenEncodings.Cl100kBase => Cl100kBase,
            _ => null,
        };
        return tokenizer is not null;
    }

    /// <summary>The token ids of <paramref name="text"/>.</summary>
    public int[] Encode(ReadOnlySpan<char> text)
    {
        byte[]? rented = null;
        var utf8 = ToUtf8(text, text.Length <= StackTextLimit ? stackalloc byte[StackTextLimit * 3] : default, ref rented);
        try
        {
            return EncodeUtf8(utf8);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The token ids of UTF-8 text. Bytes that are not valid UTF-8 are encoded as themselves, each
    /// treated as a punctuation character when splitting.
    /// </summary>
    public int[] EncodeUtf8(ReadOnlySpan<byte> utf8)
    {
        var sink = new PooledSink((utf8.Length / 3) + 16);
        try
        {
            Run(utf8, ref sink);
            return sink.Tokens.ToArray();
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>The number of tokens in <paramref name="text"/>, without materialising them.</summary>
    public int CountTokens(ReadOnlySpan<char> text)
    {
        byte[]? rented = null;
        var utf8 = ToUtf8(text, text.Length <= StackTextLimit ? stackalloc byte[StackTextLimit * 3] : default, ref rented);
        try
        {
            return CountTokensUtf8(utf8);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The number of tokens in UTF-8 text.</summary>
    public int CountTokensUtf8(ReadOnlySpan<byte> utf8)
    {
        var sink = new CountingSink();
        Run(utf8, ref sink);
        return sink.Count;
    }

    /// <summary>The bytes of the tokens, concatenated (a token may end inside a UTF-8 sequence).</summary>
    public byte[] DecodeUtf8(ReadOnlySpan<int> tokens)
    {
        var length = 0;
        foreach (var token in tokens)
        {
            length += TokenBytes(token).Length;
        }

        var bytes = new byte[length];
        var offset = 0;
        foreach (var token in tokens)
        {
            var piece = TokenBytes(token);
            piece.CopyTo(bytes.AsSpan(offset));
            offset += piece.Length;
        }

        return bytes;
    }

    /// <summary>The text of the tokens (invalid UTF-8 at the edges of a partial sequence becomes U+FFFD).</summary>
    public string Decode(ReadOnlySpan<int> tokens) => Encoding.UTF8.GetString(DecodeUtf8(tokens));

    private ReadOnlySpan<byte> TokenBytes(int token)
    {
        if ((uint)token >= (uint)_vocabulary.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, $"{Name} has no ordinary token {token}.");
        }

        return _vocabulary.Token(token);
    }

    private void Run<TSink>(ReadOnlySpan<byte> utf8, ref TSink sink)
        where TSink : struct, ITokenSink
    {
        if (_o200k)
        {
            BytePairEncoder.Encode<O200kPreTokenizer, TSink>(_vocabulary, utf8, ref sink);
        }
        else
        {
            BytePairEncoder.Encode<Cl100kPreTokenizer, TSink>(_vocabulary, utf8, ref sink);
        }
    }

    /// <summary>UTF-8 of the text (lone surrogates become U+FFFD, as in every tiktoken binding).</summary>
    private static ReadOnlySpan<byte> ToUtf8(ReadOnlySpan<char> text, Span<byte> stack, ref byte[]? rented)
    {
        if (text.Length > StackTextLimit)
        {
            rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetByteCount(text));
            stack = rented;
        }

        return stack[..Encoding.UTF8.GetBytes(text, stack)];
    }

    /// <summary>Reads an embedded vocabulary (uncached: use <see cref="TryGet"/>; the benchmarks time this).</summary>
    internal static BpeTokenizer Load(string name)
    {
        var resource = $"Keel.Core.Tokenization.Data.{name}.kbpe";
        using var stream = typeof(BpeTokenizer).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The {name} vocabulary is not embedded in Keel.Core ({resource}).");
        return new BpeTokenizer(BpeVocabulary.Load(stream, name), o200k: name == TokenEncodings.O200kBase);
    }
}
