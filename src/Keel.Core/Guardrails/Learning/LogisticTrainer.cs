namespace Keel.Core.Guardrails.Learning;

/// <summary>One training example: its feature buckets (with repeats) and label.</summary>
internal readonly record struct Example(int[] Features, bool Label, float Weight = 1);

/// <summary>Training settings; the defaults are the ones the shipped models were trained with.</summary>
internal sealed record TrainerOptions
{
    public int Epochs { get; init; } = 12;

    public double LearningRate { get; init; } = 0.5;

    public double L2 { get; init; } = 1e-5;

    public float Power { get; init; } = 0.5f;

    public int Seed { get; init; } = 17;

    /// <summary>Share of an example's features hidden at each step, so no single trigger word carries a decision.</summary>
    public double Dropout { get; init; }
}

/// <summary>
/// Logistic regression by AdaGrad SGD over sparse hashed features, classes weighted to balance. Deterministic:
/// the shuffle is seeded, so the same data and options give the same weights.
/// </summary>
internal static class LogisticTrainer
{
    public static (float[] Weights, float Bias) Train(IReadOnlyList<Example> examples, int buckets, TrainerOptions options)
    {
        var w = new double[buckets];
        var g2 = new double[buckets];
        double bias = 0, gb2 = 0;
        var positives = examples.Where(static e => e.Label).Sum(static e => e.Weight);
        var negatives = examples.Where(static e => !e.Label).Sum(static e => e.Weight);
        var total = positives + negatives;
        var posWeight = positives == 0 ? 1 : total / (2.0 * positives);
        var negWeight = negatives == 0 ? 1 : total / (2.0 * negatives);
        var order = Enumerable.Range(0, examples.Count).ToArray();
        var rng = new Random(options.Seed);
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            rng.Shuffle(order);
            var kept = new List<int>();
            foreach (var idx in order)
            {
                var e = examples[idx];
                var features = e.Features;
                if (options.Dropout > 0)
                {
                    kept.Clear();
                    foreach (var f in e.Features)
                    {
                        if (rng.NextDouble() >= options.Dropout)
                        {
                            kept.Add(f);
                        }
                    }
                    features = [.. kept];
                }
                var scale = features.Length == 0 ? 0 : LinearModel.Scale(e.Features.Length, options.Power) / (1 - options.Dropout);
                double z = bias;
                foreach (var f in features)
                {
                    z += w[f] * scale;
                }
                var p = 1 / (1 + Math.Exp(-z));
                var err = ((e.Label ? 1 : 0) - p) * (e.Label ? posWeight : negWeight) * e.Weight;
                foreach (var f in features)
                {
                    var g = (err * scale) - (options.L2 * w[f]);
                    g2[f] += g * g;
                    w[f] += options.LearningRate * g / (1e-8 + Math.Sqrt(g2[f]));
                }
                gb2 += err * err;
                bias += options.LearningRate * err / (1e-8 + Math.Sqrt(gb2));
            }
        }
        return ([.. w.Select(static x => (float)x)], (float)bias);
    }

    /// <summary>Raw score (logit) of an example under weights.</summary>
    public static double Logit(float[] w, float bias, int[] features, float power)
    {
        if (features.Length == 0)
        {
            return bias;
        }
        double s = 0;
        foreach (var f in features)
        {
            s += w[f];
        }
        return bias + (s * LinearModel.Scale(features.Length, power));
    }
}
