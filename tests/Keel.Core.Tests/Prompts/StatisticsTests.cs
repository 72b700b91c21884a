using Keel.Core.Prompts;

namespace Keel.Core.Tests.Prompts;

/// <summary>
/// Against published values: the three worked examples of Welch's t-test on Wikipedia ("Welch's
/// t-test", Examples: t, ν and p to two or three digits), and reference values computed at 30
/// digits with mpmath (betainc, erfc), given here to 1e-9.
/// </summary>
public sealed class StatisticsTests
{
    [Fact]
    public void WelchTTest_WikipediaExample1_EqualSizesUnequalVariances()
    {
        double[] a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
        double[] a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];

        var result = Statistics.WelchTTest(a1, a2);

        // Wikipedia: t = -2.46, ν = 25.0, p = 0.021.
        Assert.Equal(-2.455356398286, result.Statistic, 1e-9);
        Assert.Equal(24.988529290231, result.DegreesOfFreedom!.Value, 1e-9);
        Assert.Equal(0.021378001462867, result.PValue, 1e-9);
    }

    [Fact]
    public void WelchTTest_WikipediaExample2_UnequalSizes()
    {
        double[] a1 = [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8];
        double[] a2 = [21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8];

        var result = Statistics.WelchTTest(a1, a2);

        // Wikipedia: t = -1.57, ν = 9.9, p = 0.149.
        Assert.Equal(-1.565433523599, result.Statistic, 1e-9);
        Assert.Equal(9.904741248651, result.DegreesOfFreedom!.Value, 1e-9);
        Assert.Equal(0.148841696605328, result.PValue, 1e-9);
    }

    [Fact]
    public void WelchTTest_WikipediaExample3_UnequalSizesAndVariances()
    {
        double[] a1 = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
        double[] a2 = [28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7, 23.2, 17.5, 20.6, 18.0, 23.9, 21.6, 24.3, 20.4, 23.9, 13.3];

        var result = Statistics.WelchTTest(a1, a2);

        // Wikipedia: t = -2.22, ν = 24.5, p = 0.036.
        Assert.Equal(-2.225512039970, result.Statistic, 1e-9);
        Assert.Equal(24.524634944257, result.DegreesOfFreedom!.Value, 1e-9);
        Assert.Equal(0.035484530830010, result.PValue, 1e-9);
    }

    [Fact]
    public void WelchTTest_FromSums_MatchesRawSamples()
    {
        double[] a = [1, 2, 3, 4, 5, 9];
        double[] b = [2, 2, 2, 3];
        var (m1, v1) = Statistics.FromSums(a.Length, a.Sum(), a.Sum(x => x * x));
        var (m2, v2) = Statistics.FromSums(b.Length, b.Sum(), b.Sum(x => x * x));

        var fromSums = Statistics.WelchTTest(m1, v1, a.Length, m2, v2, b.Length);
        var fromSamples = Statistics.WelchTTest(a, b);

        Assert.Equal(fromSamples.Statistic, fromSums.Statistic, 1e-12);
        Assert.Equal(fromSamples.PValue, fromSums.PValue, 1e-12);
    }

    [Fact]
    public void TwoProportionZTest_120Of200Vs90Of200()
    {
        // p1 = 0.60, p2 = 0.45, pooled 0.525: z = 0.15 / sqrt(0.525 * 0.475 * (2/200)) = 3.0038.
        var result = Statistics.TwoProportionZTest(120, 200, 90, 200);

        Assert.Equal(3.003757045931, result.Statistic, 1e-9);
        Assert.Equal(0.002666681793614, result.PValue, 1e-9);
        Assert.Null(result.DegreesOfFreedom);
    }

    [Fact]
    public void TwoProportionZTest_NotSignificantDifference()
    {
        var result = Statistics.TwoProportionZTest(45, 100, 56, 100);

        Assert.Equal(-1.555712706190, result.Statistic, 1e-9);
        Assert.Equal(0.119776423779723, result.PValue, 1e-9);
    }

    [Fact]
    public void TwoProportionZTest_IdenticalAllSuccess_IsNoEvidence()
    {
        Assert.Equal(1, Statistics.TwoProportionZTest(50, 50, 30, 30).PValue);
        Assert.True(double.IsNaN(Statistics.TwoProportionZTest(1, 0, 1, 1).PValue));
    }

    [Theory]
    [InlineData(1.959963984540054, 0.025)]
    [InlineData(1.0, 0.158655253931457)]
    [InlineData(3.0, 0.001349898031630)]
    [InlineData(0.0, 0.5)]
    [InlineData(-1.0, 0.841344746068543)]
    public void NormalUpperTail_TableValues(double z, double expected)
    {
        Assert.Equal(expected, Statistics.NormalUpperTail(z), 1e-12);
    }

    [Fact]
    public void StudentTTwoSided_CriticalValueForTenDegrees_IsFivePercent()
    {
        // t(0.975, 10) = 2.228138851986 in every t table.
        Assert.Equal(0.05, Statistics.StudentTTwoSided(2.228138851986, 10), 1e-10);
        Assert.Equal(1, Statistics.StudentTTwoSided(0, 7), 1e-12);
    }
}
