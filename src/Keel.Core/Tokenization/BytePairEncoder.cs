using System.Buffers;

namespace Keel.Core.Tokenization;

/// <summary>Receives token ids as they are produced.</summary>
internal interface ITokenSink
{
    void Add(int token);
}

internal struct CountingSink : ITokenSink
{
    public int Count;

    public void Add(int token) => Count++;
}

/// <summary>Collects ids in an array rented from the shared pool; call <see cref="Dispose"/> to return it.</summary>
internal struct PooledSink(int capacity) : ITokenSink, IDisposable
{
    private int[] _buffer = ArrayPool<int>.Shared.Rent(Math.Max(16, capacity));

    public int Count { get; private set; }

    public readonly ReadOnlySpan<int> Tokens => _buffer.AsSpan(0, Count);

    public void Add(int token)
    {
        if (Count == _buffer.Length)
        {
            var larger = ArrayPool<int>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan().CopyTo(larger);
            ArrayPool<int>.Shared.Return(_buffer);
            _buffer = larger;
        }

        _buffer[Count++] = token;
    }

    public void Dispose()
    {
        ArrayPool<int>.Shared.Return(_buffer);
        _buffer = [];
        Count = 0;
    }
}

/// <summary>
/// Splits UTF-8 text into pieces and byte-pair-encodes each piece: repeatedly merge the adjacent pair
/// of parts whose concatenation has the lowest rank (the leftmost on ties) until no pair is a token.
/// </summary>
internal static class BytePairEncoder
{
    /// <summary>
    /// Pieces up to this many bytes merge with a linear scan over arrays on the stack (quadratic, but
    /// nearly all pieces are a few bytes); longer ones use a heap so a long run of letters or symbols
    /// costs n log n.
    /// </summary>
    internal const int SmallPieceLimit = 128;

    public static void Encode<TPreTokenizer, TSink>(BpeVocabulary vocabulary, ReadOnlySpan<byte> text, ref TSink sink)
        where TPreTokenizer : struct, IPreTokenizer
        where TSink : struct, ITokenSink
    {
        var start = 0;
        while (start < text.Length)
        {
            var end = TPreTokenizer.PieceEnd(text, start);
            EncodePiece(vocabulary, text[start..end], ref sink);
            start = end;
        }
    }

    public static void EncodePiece<TSink>(BpeVocabulary vocabulary, ReadOnlySpan<byte> piece, ref TSink sink)
        where TSink : struct, ITokenSink
    {
        if (piece.Length == 1)
        {
            sink.Add(vocabulary.ByteRank(piece[0]));
            return;
        }

        var rank = vocabulary.Lookup(piece);
        if (rank >= 0)
        {
            sink.Add(rank);
        }
        else if (piece.Length <= SmallPieceLimit)
        {
            MergeSmall(vocabulary, piece, ref sink);
        }
        else
        {
            MergeLarge(vocabulary, piece, ref sink);
        }
    }

    internal static void MergeSmall<TSink>(BpeVocabulary vocabulary, ReadOnlySpan<byte> piece, ref TSink sink)
        where TSink : struct, ITokenSink
    {
        var n = piece.Length;
        // Part k covers piece[starts[k]..starts[k + 1]] and is token ids[k]; ranks[k] is the rank of
        // parts k and k + 1 merged (int.MaxValue when that is no token).
        Span<int> starts = stackalloc int[n + 1];
        Span<int> ids = stackalloc int[n];
        Span<int> ranks = stackalloc int[n];
        for (var k = 0; k < n; k++)
        {
            starts[k] = k;
            ids[k] = vocabulary.ByteRank(piece[k]);
        }

        starts[n] = n;
        for (var k = 0; k < n - 1; k++)
        {
            ranks[k] = PairRank(vocabulary, piece, starts[k], starts[k + 2]);
        }

        var parts = n;
        while (parts > 1)
        {
            var best = 0;
            var bestRank = ranks[0];
            for (var k = 1; k < parts - 1; k++)
            {
                if (ranks[k] < bestRank)
                {
                    bestRank = ranks[k];
                    best = k;
                }
            }

            if (bestRank == int.MaxValue)
            {
                break;
            }

            // Merge part best + 1 into part best.
            ids[best] = bestRank;
            starts[(best + 2)..(parts + 1)].CopyTo(starts[(best + 1)..]);
            ids[(best + 2)..parts].CopyTo(ids[(best + 1)..]);
            if (best + 2 < parts - 1)
            {
                ranks[(best + 2)..(parts - 1)].CopyTo(ranks[(best + 1)..]);
            }

            parts--;
            if (best < parts - 1)
            {
                ranks[best] = PairRank(vocabulary, piece, starts[best], starts[best + 2]);
            }

            if (best > 0)
            {
                ranks[best - 1] = PairRank(vocabulary, piece, starts[best - 1], starts[best + 1]);
            }
        }

        for (var k = 0; k < parts; k++)
        {
            sink.Add(ids[k]);
        }
    }

    internal static void MergeLarge<TSink>(BpeVocabulary vocabulary, ReadOnlySpan<byte> piece, ref TSink sink)
        where TSink : struct, ITokenSink
    {
        var n = piece.Length;
        // Parts are named by their first byte and linked both ways; a heap orders candidate merges by
        // (rank, position), and entries made stale by a neighbour's merge are skipped when popped.
        var pool = ArrayPool<int>.Shared;
        var next = pool.Rent(n);
        var previous = pool.Rent(n);
        var ids = pool.Rent(n);
        var ranks = pool.Rent(n);
        var heapArray = ArrayPool<long>.Shared.Rent(3 * n);
        try
        {
            var heap = new MinHeap(heapArray);
            for (var k = 0; k < n; k++)
            {
                next[k] = k + 1;
                previous[k] = k - 1;
                ids[k] = vocabulary.ByteRank(piece[k]);
            }

            for (var k = 0; k < n - 1; k++)
            {
                ranks[k] = PairRank(vocabulary, piece, k, k + 2);
                if (ranks[k] != int.MaxValue)
                {
                    heap.Push(((long)ranks[k] << 32) | (uint)k);
                }
            }

            ranks[n - 1] = int.MaxValue;
            while (heap.Count > 0)
            {
                var entry = heap.Pop();
                var part = (int)(uint)entry;
                var rank = (int)(entry >> 32);
                if (ids[part] < 0 || ranks[part] != rank)
                {
                    continue;
                }

                var absorbed = next[part];
                ids[part] = rank;
                ids[absorbed] = -1;
                next[part] = next[absorbed];
                if (next[part] < n)
                {
                    previous[next[part]] = part;
                }

                ranks[part] = next[part] < n ? PairRank(vocabulary, piece, part, next[next[part]]) : int.MaxValue;
                if (ranks[part] != int.MaxValue)
                {
                    heap.Push(((long)ranks[part] << 32) | (uint)part);
                }

                var before = previous[part];
                if (before >= 0)
                {
                    ranks[before] = PairRank(vocabulary, piece, before, next[part]);
                    if (ranks[before] != int.MaxValue)
                    {
                        heap.Push(((long)ranks[before] << 32) | (uint)before);
                    }
                }
            }

            for (var k = 0; k < n; k = next[k])
            {
                sink.Add(ids[k]);
            }
        }
        finally
        {
            pool.Return(next);
            pool.Return(previous);
            pool.Return(ids);
            pool.Return(ranks);
            ArrayPool<long>.Shared.Return(heapArray);
        }
    }

    private static int PairRank(BpeVocabulary vocabulary, ReadOnlySpan<byte> piece, int start, int end)
    {
        var rank = vocabulary.Lookup(piece[start..end]);
        return rank < 0 ? int.MaxValue : rank;
    }

    /// <summary>A binary min-heap of longs over a caller-supplied array.</summary>
    private struct MinHeap(long[] items)
    {
        public int Count { get; private set; }

        public void Push(long item)
        {
            var i = Count++;
            while (i > 0)
            {
                var parent = (i - 1) / 2;
                if (items[parent] <= item)
                {
                    break;
                }

                items[i] = items[parent];
                i = parent;
            }

            items[i] = item;
        }

        public long Pop()
        {
            var top = items[0];
            var last = items[--Count];
            var i = 0;
            while (true)
            {
                var child = (2 * i) + 1;
                if (child >= Count)
                {
                    break;
                }

                if (child + 1 < Count && items[child + 1] < items[child])
                {
                    child++;
                }

                if (last <= items[child])
                {
                    break;
                }

                items[i] = items[child];
                i = child;
            }

            items[i] = last;
            return top;
        }
    }
}
