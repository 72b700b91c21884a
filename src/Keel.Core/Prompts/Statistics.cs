namespace Keel.Core.Prompts;

/// <summary>The outcome of a two-sample test: the statistic, its degrees of freedom (t only) and the two-sided p-value.</summary>
public readonly record struct TestResult(double Statistic, double? DegreesOfFreedom, double PValue);

/// <summary>
/// The two significance tests experiments use: the pooled two-proportion z-test (boolean scores)
/// and Welch's unequal-variance t-test (numeric scores). Two-sided. The special functions are the
/// classic series and continued fractions (Numerical Recipes §6.1–6.4), accurate to ~1e-14.
/// </summary>
public static class Statistics
{
    /// <summary>Two-proportion z-test with the pooled proportion: successes x out of n in each group.</summary>
    public static TestResult TwoProportionZTest(long x1, long n1, long x2, long n2)
    {
        if (n1 <= 0 || n2 <= 0 || x1 < 0 || x2 < 0 || x1 > n1 || x2 > n2)
        {
            return new TestResult(double.NaN, null, double.NaN);
        }

        var p1 = (double)x1 / n1;
        var p2 = (double)x2 / n2;
        var pooled = (double)(x1 + x2) / (n1 + n2);
        var se = Math.Sqrt(pooled * (1 - pooled) * ((1.0 / n1) + (1.0 / n2)));
        if (se == 0)
        {
            // Both groups all successes or all failures: no evidence of a difference.
            return new TestResult(0, null, 1);
        }

        var z = (p1 - p2) / se;
        return new TestResult(z, null, 2 * NormalUpperTail(Math.Abs(z)));
    }

    /// <summary>Welch's t-test from each group's mean, sample variance (n-1) and size.</summary>
    public static TestResult WelchTTest(double mean1, double variance1, long n1, double mean2, double variance2, long n2)
    {
        if (n1 < 2 || n2 < 2)
        {
            return new TestResult(double.NaN, null, double.NaN);
        }

        var a = variance1 / n1;
        var b = variance2 / n2;
        if (a + b == 0)
        {
            return mean1 == mean2 ? new TestResult(0, null, 1) : new TestResult(double.PositiveInfinity * Math.Sign(mean1 - mean2), null, 0);
        }

        var t = (mean1 - mean2) / Math.Sqrt(a + b);
        var df = (a + b) * (a + b) / ((a * a / (n1 - 1)) + (b * b / (n2 - 1)));
        return new TestResult(t, df, StudentTTwoSided(t, df));
    }

    /// <summary>Welch's t-test on raw samples.</summary>
    public static TestResult WelchTTest(IReadOnlyList<double> sample1, IReadOnlyList<double> sample2)
    {
        var (m1, v1) = MeanVariance(sample1);
        var (m2, v2) = MeanVariance(sample2);
        return WelchTTest(m1, v1, sample1.Count, m2, v2, sample2.Count);
    }

    /// <summary>Mean and sample variance (n-1 denominator) from a count, sum and sum of squares.</summary>
    public static (double Mean, double Variance) FromSums(long n, double sum, double sumOfSquares)
    {
        if (n == 0)
        {
            return (double.NaN, double.NaN);
        }

        var mean = sum / n;
        var variance = n > 1 ? Math.Max(0, (sumOfSquares - (n * mean * mean)) / (n - 1)) : double.NaN;
        return (mean, variance);
    }

    /// <summary>P(Z &gt; z) for a standard normal Z.</summary>
    public static double NormalUpperTail(double z) => z >= 0 ? 0.5 * Erfc(z / Math.Sqrt(2)) : 1 - (0.5 * Erfc(-z / Math.Sqrt(2)));

    /// <summary>P(|T| &gt; |t|) for Student's t with <paramref name="df"/> degrees of freedom.</summary>
    public static double StudentTTwoSided(double t, double df) =>
        double.IsInfinity(t) ? 0 : RegularizedIncompleteBeta(df / 2, 0.5, df / (df + (t * t)));

    /// <summary>The complementary error function, through the regularized upper incomplete gamma Q(1/2, x²).</summary>
    public static double Erfc(double x) => x < 0 ? 2 - Erfc(-x) : RegularizedGammaQ(0.5, x * x);

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5)
        {
            // Reflection: Γ(x) Γ(1-x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        x -= 1;
        var sum = c[0];
        for (var i = 1; i < c.Length; i++)
        {
            sum += c[i] / (x + i);
        }

        var t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }

    /// <summary>The regularized incomplete beta function I_x(a, b).</summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (x <= 0)
        {
            return 0;
        }

        if (x >= 1)
        {
            return 1;
        }

        var front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + (a * Math.Log(x)) + (b * Math.Log(1 - x)));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(a, b, x) / a
            : 1 - (front * BetaContinuedFraction(b, a, 1 - x) / b);
    }

    /// <summary>The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x).</summary>
    public static double RegularizedGammaQ(double a, double x)
    {
        if (x <= 0)
        {
            return 1;
        }

        if (x < a + 1)
        {
            // Series for P, then Q = 1 - P.
            var term = 1 / a;
            var sum = term;
            for (var n = 1; n < 1000; n++)
            {
                term *= x / (a + n);
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-16)
                {
                    break;
                }
            }

            return 1 - (sum * Math.Exp(-x + (a * Math.Log(x)) - LogGamma(a)));
        }

        // Continued fraction for Q (modified Lentz).
        var bb = x + 1 - a;
        var c = 1e300;
        var d = 1 / bb;
        var h = d;
        for (var i = 1; i < 1000; i++)
        {
            var an = -i * (i - a);
            bb += 2;
            d = 1 / NonZero((an * d) + bb);
            c = NonZero(bb + (an / c));
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return Math.Exp(-x + (a * Math.Log(x)) - LogGamma(a)) * h;
    }

    private static double BetaContinuedFraction(double a, double b, double x)
    {
        var qab = a + b;
        var qap = a + 1;
        var qam = a - 1;
        var c = 1.0;
        var d = 1 / NonZero(1 - (qab * x / qap));
        var h = d;
        for (var m = 1; m < 1000; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 / NonZero(1 + (aa * d));
            c = NonZero(1 + (aa / c));
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 / NonZero(1 + (aa * d));
            c = NonZero(1 + (aa / c));
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return h;
    }

    /// <summary>Lentz's guard: a denominator that reaches zero is replaced by a tiny number.</summary>
    private static double NonZero(double value) => Math.Abs(value) < 1e-300 ? 1e-300 : value;

    private static (double Mean, double Variance) MeanVariance(IReadOnlyList<double> sample)
    {
        var mean = sample.Average();
        var variance = sample.Sum(v => (v - mean) * (v - mean)) / (sample.Count - 1);
        return (mean, variance);
    }
}
