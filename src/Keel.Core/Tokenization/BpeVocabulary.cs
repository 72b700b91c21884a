using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;

namespace Keel.Core.Tokenization;

/// <summary>
/// A BPE vocabulary: the bytes of every token (token id = merge rank) and an open-addressing hash
/// table from byte spans to ranks. One slot is a <see cref="uint"/> holding the rank, the token's
/// length and six more hash bits, so most misses are rejected without touching the token bytes.
/// </summary>
internal sealed class BpeVocabulary
{
    private const int RankBits = 18;
    private const uint RankMask = (1u << RankBits) - 1;
    private const int LengthShift = RankBits;
    private const int TagShift = 26;

    private readonly byte[] _bytes;
    private readonly int[] _offsets;
    /// <summary>The first eight bytes of each token, little-endian, zero-padded.</summary>
    private readonly ulong[] _prefixes;
    private readonly uint[] _slots;
    private readonly int _shift;
    private readonly int[] _byteRanks = new int[256];

    private BpeVocabulary(string name, byte[] lengths, byte[] bytes)
    {
        Name = name;
        Count = lengths.Length;
        if (Count >= (int)RankMask)
        {
            throw new InvalidDataException($"{name}: {Count} tokens do not fit the hash table's {RankBits}-bit ranks.");
        }

        _bytes = bytes;
        _offsets = new int[Count + 1];
        _prefixes = new ulong[Count];
        for (var rank = 0; rank < Count; rank++)
        {
            _offsets[rank + 1] = _offsets[rank] + lengths[rank];
            MaxTokenLength = Math.Max(MaxTokenLength, lengths[rank]);
        }

        if (_offsets[Count] != bytes.Length)
        {
            throw new InvalidDataException($"{name}: the token lengths do not add up to the token bytes.");
        }

        // At most 40% full: a miss (most pair look-ups while merging) then ends after about 1.5 probes.
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)(Count * 5 / 2));
        _slots = new uint[size];
        _shift = 64 - BitOperations.Log2((uint)size);
        var mask = size - 1;
        for (var rank = 0; rank < Count; rank++)
        {
            var token = Token(rank);
            var prefix = ReadPrefix(token);
            _prefixes[rank] = prefix;
            var hash = Hash(token, prefix);
            var slot = (int)(hash >> _shift);
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _slots[slot] = (uint)(rank + 1) | ((uint)token.Length << LengthShift) | (Tag(hash) << TagShift);
        }

        _byteRanks.AsSpan().Fill(-1);
        for (var b = 0; b < 256; b++)
        {
            _byteRanks[b] = Lookup([(byte)b]);
            if (_byteRanks[b] < 0)
            {
                throw new InvalidDataException($"{name}: byte {b} has no token.");
            }
        }
    }

    public string Name { get; }

    /// <summary>The number of ordinary tokens; ids run from 0 to Count - 1.</summary>
    public int Count { get; }

    public int MaxTokenLength { get; }

    public ReadOnlySpan<byte> Token(int rank) => _bytes.AsSpan(_offsets[rank], _offsets[rank + 1] - _offsets[rank]);

    public int ByteRank(byte b) => _byteRanks[b];

    /// <summary>The rank of the token with exactly these bytes, or -1.</summary>
    public int Lookup(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxTokenLength || key.IsEmpty)
        {
            return -1;
        }

        var prefix = ReadPrefix(key);
        var hash = Hash(key, prefix);
        var expected = ((uint)key.Length << LengthShift) | (Tag(hash) << TagShift);
        var mask = _slots.Length - 1;
        var slot = (int)(hash >> _shift);
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                return -1;
            }

            if ((entry & ~RankMask) == expected)
            {
                var rank = (int)(entry & RankMask) - 1;
                if (_prefixes[rank] == prefix && (key.Length <= 8 || key[8..].SequenceEqual(_bytes.AsSpan(_offsets[rank] + 8, key.Length - 8))))
                {
                    return rank;
                }
            }

            slot = (slot + 1) & mask;
        }
    }

    /// <summary>The average number of slots a successful look-up reads (a test checks the hash spreads the tokens).</summary>
    internal double AverageProbeLength()
    {
        long probes = 0;
        var mask = _slots.Length - 1;
        for (var rank = 0; rank < Count; rank++)
        {
            var token = Token(rank);
            var slot = (int)(Hash(token, ReadPrefix(token)) >> _shift);
            probes++;
            while ((int)(_slots[slot] & RankMask) - 1 != rank)
            {
                slot = (slot + 1) & mask;
                probes++;
            }
        }

        return (double)probes / Count;
    }

    /// <summary>Reads a vocabulary in the .kbpe format (see Tokenization/Data/README.md).</summary>
    public static BpeVocabulary Load(Stream compressed, string expectedName)
    {
        using var stream = new BrotliStream(compressed, CompressionMode.Decompress);
        Span<byte> head = stackalloc byte[6];
        stream.ReadExactly(head);
        if (!head[..4].SequenceEqual("KBPE"u8) || head[4] != 1)
        {
            throw new InvalidDataException($"{expectedName}: not a version 1 .kbpe vocabulary.");
        }

        var nameBytes = new byte[head[5]];
        stream.ReadExactly(nameBytes);
        var name = Encoding.ASCII.GetString(nameBytes);
        if (name != expectedName)
        {
            throw new InvalidDataException($"The vocabulary is {name}, not {expectedName}.");
        }

        Span<byte> counts = stackalloc byte[8];
        stream.ReadExactly(counts);
        var count = BinaryPrimitives.ReadInt32LittleEndian(counts);
        var total = BinaryPrimitives.ReadInt32LittleEndian(counts[4..]);
        var lengths = new byte[count];
        stream.ReadExactly(lengths);
        var bytes = new byte[total];
        stream.ReadExactly(bytes);
        return new BpeVocabulary(name, lengths, bytes);
    }

    /// <summary>The first eight bytes of <paramref name="key"/> as a little-endian number, zero-padded.</summary>
    private static ulong ReadPrefix(ReadOnlySpan<byte> key)
    {
        var n = key.Length;
        if (n >= 8)
        {
            return BinaryPrimitives.ReadUInt64LittleEndian(key);
        }

        // Two overlapping reads cover every byte once or twice; OR-ing them is exact.
        if (n >= 4)
        {
            return BinaryPrimitives.ReadUInt32LittleEndian(key)
                | ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(key[(n - 4)..]) << ((n - 4) * 8));
        }

        if (n >= 2)
        {
            return BinaryPrimitives.ReadUInt16LittleEndian(key)
                | ((ulong)BinaryPrimitives.ReadUInt16LittleEndian(key[(n - 2)..]) << ((n - 2) * 8));
        }

        return n == 1 ? key[0] : 0UL;
    }

    private static ulong Hash(ReadOnlySpan<byte> key, ulong prefix)
    {
        const ulong K1 = 0x9E3779B97F4A7C15;
        const ulong K2 = 0xC2B2AE3D27D4EB4F;
        var h = (prefix ^ ((ulong)key.Length << 56)) * K1;
        for (var i = 8; i < key.Length; i += 8)
        {
            var chunk = key.Length - i >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(key[i..]) : ReadPrefix(key[i..]);
            h = (BitOperations.RotateLeft(h, 27) ^ chunk) * K1;
        }

        h ^= h >> 32;
        return h * K2;
    }

    private static uint Tag(ulong hash) => (uint)(hash >> 20) & 0x3F;
}
