using System.Buffers.Binary;
using Keel.Core.Guardrails.Text;

namespace Keel.Core.Guardrails.Learning;

/// <summary>
/// A logistic-regression scorer over the hashed features of <see cref="AnalyzedText"/>. The feature vector is the
/// bucket count vector scaled by N^-<see cref="Power"/> (N = number of features), so long texts are not scored
/// higher merely for being long. The bias already includes the decision threshold chosen at training time: a
/// probability of 0.5 or more means "flag".
/// </summary>
internal sealed class LinearModel
{
    private static ReadOnlySpan<byte> Magic => "KGM1"u8;

    public LinearModel(float[] weights, float bias, float power)
    {
        if (weights.Length != 1 << AnalyzedText.BucketBits)
        {
            throw new ArgumentException($"Expected {1 << AnalyzedText.BucketBits} weights, got {weights.Length}.", nameof(weights));
        }
        Weights = weights;
        Bias = bias;
        Power = power;
    }

    public float[] Weights { get; }

    public float Bias { get; }

    public float Power { get; }

    /// <summary>Flag probability of the analysed text plus extra named-feature buckets.</summary>
    public double Score(AnalyzedText text, ReadOnlySpan<int> extra)
    {
        var w = Weights;
        double sum = 0;
        foreach (var b in text.Features)
        {
            sum += w[b];
        }
        foreach (var b in extra)
        {
            sum += w[b];
        }
        var n = text.FeatureCount + extra.Length;
        var z = Bias + (n == 0 ? 0 : sum * Scale(n, Power));
        return 1 / (1 + Math.Exp(-z));
    }

    /// <summary>Flag probability of a range of features alone (one paragraph of a longer text).</summary>
    public double Score(ReadOnlySpan<int> features)
    {
        var w = Weights;
        double sum = 0;
        foreach (var b in features)
        {
            sum += w[b];
        }
        var z = Bias + (features.IsEmpty ? 0 : sum * Scale(features.Length, Power));
        return 1 / (1 + Math.Exp(-z));
    }

    /// <summary>Fewest features (about a dozen characters) for a paragraph to be scored on its own.</summary>
    public const int MinSegmentFeatures = 48;

    /// <summary>
    /// The highest score among the paragraphs of a multi-paragraph text: an instruction appended to a document
    /// (indirect injection) is judged on its own rather than averaged with the document.
    /// </summary>
    public (double Score, Segment Segment) BestSegment(AnalyzedText text)
    {
        var best = (0.0, default(Segment));
        foreach (var seg in text.Segments)
        {
            if (seg.FeatureEnd - seg.FeatureStart < MinSegmentFeatures)
            {
                continue;
            }
            var p = Score(text.Features[seg.FeatureStart..seg.FeatureEnd]);
            if (p > best.Item1)
            {
                best = (p, seg);
            }
        }
        return best;
    }

    public static double Scale(int n, float power) => power == 0.5f ? 1 / Math.Sqrt(n) : Math.Pow(n, -power);

    /// <summary>Weights as half-precision floats: 128 KB for 2^16 buckets, plenty of precision for a linear scorer.</summary>
    public void Write(Stream stream)
    {
        Span<byte> header = stackalloc byte[20];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], AnalyzedText.BucketBits);
        BinaryPrimitives.WriteSingleLittleEndian(header[8..], Power);
        BinaryPrimitives.WriteSingleLittleEndian(header[12..], Bias);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], Weights.Length);
        stream.Write(header);
        var body = new byte[Weights.Length * 2];
        for (var i = 0; i < Weights.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(body.AsSpan(i * 2), (Half)Weights[i]);
        }
        stream.Write(body);
    }

    public static LinearModel Read(Stream stream)
    {
        Span<byte> header = stackalloc byte[20];
        stream.ReadExactly(header);
        if (!header[..4].SequenceEqual(Magic) || BinaryPrimitives.ReadInt32LittleEndian(header[4..]) != AnalyzedText.BucketBits)
        {
            throw new InvalidDataException("Not a Keel guardrail model for this feature layout; retrain it (docs/guardrails.md).");
        }
        var power = BinaryPrimitives.ReadSingleLittleEndian(header[8..]);
        var bias = BinaryPrimitives.ReadSingleLittleEndian(header[12..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        var body = new byte[count * 2];
        stream.ReadExactly(body);
        var weights = new float[count];
        for (var i = 0; i < count; i++)
        {
            weights[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(body.AsSpan(i * 2));
        }
        return new LinearModel(weights, bias, power);
    }

    /// <summary>Loads a model shipped as an embedded resource of Keel.Core (<c>Guardrails/Models/NAME.bin</c>).</summary>
    public static LinearModel LoadEmbedded(string name)
    {
        var asm = typeof(LinearModel).Assembly;
        using var stream = asm.GetManifestResourceStream($"Keel.Core.Guardrails.Models.{name}.bin")
            ?? throw new InvalidOperationException($"Embedded guardrail model '{name}' is missing from {asm.GetName().Name}.");
        return Read(stream);
    }
}
