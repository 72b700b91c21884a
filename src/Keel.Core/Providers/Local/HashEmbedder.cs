using System.Globalization;
using System.Text;

namespace Keel.Core.Providers.Local;

/// <summary>
/// A deterministic, offline text embedder: word unigrams and bigrams (CJK characters count as words)
/// are hashed into a fixed number of signed buckets, then the vector is L2-normalised. Same text,
/// same vector, on every machine and every run; texts that share words end up close.
/// </summary>
public static class HashEmbedder
{
    public const int DefaultDimensions = 256;
    public const int MaxDimensions = 4096;

    public static float[] Embed(string text, int dimensions = DefaultDimensions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimensions, MaxDimensions);
        var vector = new float[dimensions];
        string? previous = null;
        foreach (var token in Tokenize(text))
        {
            Add(vector, token, 1f);
            if (previous is not null)
            {
                Add(vector, previous + " " + token, 0.5f);
            }

            previous = token;
        }

        Normalize(vector);
        return vector;
    }

    /// <summary>Embeds token ids (the array-of-integers input form).</summary>
    public static float[] EmbedTokens(IEnumerable<long> tokens, int dimensions = DefaultDimensions)
    {
        var vector = new float[dimensions];
        foreach (var token in tokens)
        {
            Add(vector, "#" + token.ToString(CultureInfo.InvariantCulture), 1f);
        }

        Normalize(vector);
        return vector;
    }

    /// <summary>Lower-cased words of letters and digits; each CJK ideograph is a word of its own.</summary>
    public static IEnumerable<string> Tokenize(string text)
    {
        var word = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsCjk(rune))
            {
                if (word.Length > 0)
                {
                    yield return word.ToString();
                    word.Clear();
                }

                yield return rune.ToString();
            }
            else if (Rune.IsLetterOrDigit(rune))
            {
                word.Append(Rune.ToLowerInvariant(rune).ToString());
            }
            else if (word.Length > 0)
            {
                yield return word.ToString();
                word.Clear();
            }
        }

        if (word.Length > 0)
        {
            yield return word.ToString();
        }
    }

    private static bool IsCjk(Rune rune) =>
        rune.Value is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x3040 and <= 0x30FF) or (>= 0xAC00 and <= 0xD7AF);

    private static void Add(float[] vector, string feature, float weight)
    {
        var hash = Fnv1a64(feature);
        var bucket = (int)(hash % (ulong)vector.Length);
        // An independent bit picks the sign so collisions cancel out on average instead of piling up.
        vector[bucket] += (hash >> 63) == 0 ? weight : -weight;
    }

    private static void Normalize(float[] vector)
    {
        double sum = 0;
        foreach (var v in vector)
        {
            sum += v * v;
        }

        if (sum == 0)
        {
            return;
        }

        var scale = (float)(1 / Math.Sqrt(sum));
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] *= scale;
        }
    }

    /// <summary>FNV-1a over UTF-8: stable across processes, unlike string.GetHashCode.</summary>
    internal static ulong Fnv1a64(string text)
    {
        var hash = 14695981039346656037UL;
        Span<byte> buffer = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            var n = rune.EncodeToUtf8(buffer);
            for (var i = 0; i < n; i++)
            {
                hash ^= buffer[i];
                hash *= 1099511628211UL;
            }
        }

        return hash;
    }
}
