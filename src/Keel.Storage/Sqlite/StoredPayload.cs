using System.Buffers;
using System.IO.Compression;
using Keel.Core.Storage;

namespace Keel.Storage.Sqlite;

/// <summary>
/// How a trace's large columns (request and response bodies, spans) are stored: Brotli-compressed
/// when that makes them smaller, as they are otherwise. The row's <c>body_codec</c> says which ones
/// are compressed (<see cref="Request"/>, <see cref="Response"/>, <see cref="Spans"/> bits), so rows
/// written before compression existed read as they always did.
/// </summary>
/// <remarks>
/// Bytes written per trace are what the recorder pays for most (each page goes to the WAL and again to
/// the database at checkpoint): the spans of a chat call are about 2 KB of JSON with keys and
/// attribute names repeated, and compress to about a third at quality 0 in about 5 µs. Values under
/// <see cref="MinimumLength"/> bytes rarely shrink enough to pay for it and are left alone.
/// </remarks>
internal static class StoredPayload
{
    public const int Request = 1;
    public const int Response = 2;
    public const int Spans = 4;

    /// <summary>Shorter values are stored as they are.</summary>
    public const int MinimumLength = 512;

    /// <summary>Brotli's fastest level: on trace JSON within a few percent of level 1's size, at two thirds of its time.</summary>
    private const int Quality = 0;

    /// <summary>64 KB window: the encoder's state stays small, and trace values rarely exceed it.</summary>
    private const int Window = 16;

    /// <summary>
    /// The value to store for <paramref name="bytes"/>: DBNull, the bytes as they are, or their
    /// Brotli compression (then <paramref name="bit"/> is added to <paramref name="codec"/>).
    /// </summary>
    public static object Encode(ReadOnlyMemory<byte>? bytes, int bit, ref int codec)
    {
        if (bytes is not { } memory)
        {
            return DBNull.Value;
        }

        if (memory.Length >= MinimumLength)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(BrotliEncoder.GetMaxCompressedLength(memory.Length));
            try
            {
                // Worth it only when it saves at least an eighth: otherwise reads would pay for nothing.
                if (BrotliEncoder.TryCompress(memory.Span, buffer, out var written, Quality, Window) && written < memory.Length - (memory.Length / 8))
                {
                    codec |= bit;
                    return buffer.AsSpan(0, written).ToArray();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : memory.ToArray();
    }

    /// <summary>The stored value read back: decompressed when <paramref name="bit"/> is set in <paramref name="codec"/>.</summary>
    public static byte[] Decode(byte[] stored, int bit, long codec)
    {
        if ((codec & bit) == 0)
        {
            return stored;
        }

        var output = new byte[Math.Max(4096, stored.Length * 4)];
        var written = 0;
        using var decoder = default(BrotliDecoder);
        var input = stored.AsSpan();
        while (true)
        {
            var status = decoder.Decompress(input, output.AsSpan(written), out var consumed, out var produced);
            input = input[consumed..];
            written += produced;
            switch (status)
            {
                case System.Buffers.OperationStatus.Done when input.IsEmpty:
                    return output.AsSpan(0, written).ToArray();
                case System.Buffers.OperationStatus.DestinationTooSmall:
                    Array.Resize(ref output, output.Length * 2);
                    break;
                default:
                    // Invalid data, a truncated stream, or bytes after its end.
                    throw new StoreException("sqlite_corrupt_payload", "A stored trace body is not valid Brotli data.", isTransient: false);
            }
        }
    }
}
