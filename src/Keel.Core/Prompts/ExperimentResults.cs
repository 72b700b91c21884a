namespace Keel.Core.Prompts;

/// <summary>A score's values on one arm's traces, one value per trace (the mean when a trace has several).</summary>
public sealed record ScoreAggregate
{
    public required string Name { get; init; }
    /// <summary>numeric, boolean or categorical.</summary>
    public required string DataType { get; init; }
    public required long Count { get; init; }
    public required double Sum { get; init; }
    public required double SumOfSquares { get; init; }
}

/// <summary>One arm's traffic as counted from its traces.</summary>
public record ArmTraffic
{
    public long Requests { get; init; }
    public long Errors { get; init; }
    public double? LatencyMeanMs { get; init; }
    public double? LatencyP50Ms { get; init; }
    public double? LatencyP95Ms { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    /// <summary>Null when the traces do not record cost.</summary>
    public double? CostUsd { get; init; }
}

/// <summary>What the store counts for one arm.</summary>
public sealed record ArmStats : ArmTraffic
{
    public required string Arm { get; init; }
    public IReadOnlyList<ScoreAggregate> Scores { get; init; } = [];
}

/// <summary>A score on one arm, summarised.</summary>
public sealed record ScoreSummary
{
    public required string Name { get; init; }
    public required string DataType { get; init; }
    public required long Count { get; init; }
    /// <summary>The mean; for a boolean score, the share of true.</summary>
    public double? Mean { get; init; }
    public double? StdDev { get; init; }
}

/// <summary>One arm's results.</summary>
public sealed record ArmResult : ArmTraffic
{
    [System.Diagnostics.CodeAnalysis.SetsRequiredMembers]
    public ArmResult(ExperimentArm arm, ArmTraffic traffic)
        : base(traffic)
    {
        Arm = arm.Name;
        Version = arm.Version;
        Weight = arm.Weight;
        ErrorRate = traffic.Requests > 0 ? (double)traffic.Errors / traffic.Requests : null;
    }

    public required string Arm { get; init; }
    public required int Version { get; init; }
    public required double Weight { get; init; }
    public double? ErrorRate { get; init; }
    public IReadOnlyList<ScoreSummary> Scores { get; init; } = [];
}

/// <summary>An arm against the control (the first arm) on the primary score.</summary>
public sealed record ArmComparison
{
    public required string Arm { get; init; }
    public required string Control { get; init; }
    public required string Score { get; init; }
    /// <summary>"two-proportion z-test" or "welch t-test".</summary>
    public required string Test { get; init; }
    /// <summary>The arm's mean minus the control's (for a boolean score, the difference of the shares of true).</summary>
    public double? Difference { get; init; }
    public double? Statistic { get; init; }
    public double? DegreesOfFreedom { get; init; }
    public double? PValue { get; init; }
    /// <summary>p &lt; 0.05 (two-sided).</summary>
    public bool Significant { get; init; }
    public string? Note { get; init; }
}

/// <summary>An experiment with its results per arm and the significance test on its primary score.</summary>
public sealed record ExperimentReport
{
    public required Experiment Experiment { get; init; }
    public required IReadOnlyList<ArmResult> Arms { get; init; }
    public required IReadOnlyList<ArmComparison> Comparisons { get; init; }
    /// <summary>False while the traces carry no cost column: cost is then left out, not reported as zero.</summary>
    public required bool CostAvailable { get; init; }
    public string? Note { get; init; }
}

/// <summary>Turns the store's counts into per-arm results and tests the primary score.</summary>
public static class ExperimentAnalysis
{
    public const double Alpha = 0.05;
    public const string ZTest = "two-proportion z-test";
    public const string WelchTest = "welch t-test";

    public static ExperimentReport Analyze(Experiment experiment, IReadOnlyList<ArmStats> stats, bool costAvailable)
    {
        var arms = experiment.Arms.Select(arm =>
        {
            var s = stats.FirstOrDefault(x => x.Arm == arm.Name) ?? new ArmStats { Arm = arm.Name };
            return new ArmResult(arm, s)
            {
                CostUsd = costAvailable ? s.CostUsd ?? 0 : null,
                Scores = [.. s.Scores.OrderBy(a => a.Name, StringComparer.Ordinal).Select(Summarise)],
            };
        }).ToList();

        var comparisons = new List<ArmComparison>();
        string? note = null;
        if (experiment.PrimaryScore is not { } scoreName)
        {
            note = "No primary score: set primary_score to test the arms against each other.";
        }
        else
        {
            var control = experiment.Arms[0].Name;
            var controlScore = Find(stats, control, scoreName);
            foreach (var arm in experiment.Arms.Skip(1))
            {
                comparisons.Add(Compare(arm.Name, control, scoreName, Find(stats, arm.Name, scoreName), controlScore));
            }
        }

        return new ExperimentReport { Experiment = experiment, Arms = arms, Comparisons = comparisons, CostAvailable = costAvailable, Note = note };
    }

    private static ScoreAggregate? Find(IReadOnlyList<ArmStats> stats, string arm, string score) =>
        stats.FirstOrDefault(s => s.Arm == arm)?.Scores.FirstOrDefault(a => a.Name == score);

    private static ScoreSummary Summarise(ScoreAggregate a)
    {
        var (mean, variance) = Statistics.FromSums(a.Count, a.Sum, a.SumOfSquares);
        return new ScoreSummary
        {
            Name = a.Name,
            DataType = a.DataType,
            Count = a.Count,
            Mean = a.DataType == "categorical" ? null : Finite(mean),
            StdDev = a.DataType == "categorical" ? null : Finite(Math.Sqrt(variance)),
        };
    }

    private static ArmComparison Compare(string arm, string control, string score, ScoreAggregate? test, ScoreAggregate? reference)
    {
        var type = test?.DataType ?? reference?.DataType;
        var name = type == "boolean" ? ZTest : WelchTest;
        if (test is null || reference is null)
        {
            return new ArmComparison
            {
                Arm = arm, Control = control, Score = score, Test = name,
                Note = $"no '{score}' scores yet on arm '{(test is null ? arm : control)}'",
            };
        }

        if (type == "categorical" || test.DataType != reference.DataType)
        {
            return new ArmComparison
            {
                Arm = arm, Control = control, Score = score, Test = "none",
                Note = $"'{score}' is {type}: only boolean and numeric scores are tested",
            };
        }

        TestResult result;
        double difference;
        if (type == "boolean")
        {
            result = Statistics.TwoProportionZTest((long)Math.Round(test.Sum), test.Count, (long)Math.Round(reference.Sum), reference.Count);
            difference = (test.Sum / test.Count) - (reference.Sum / reference.Count);
        }
        else
        {
            var (m1, v1) = Statistics.FromSums(test.Count, test.Sum, test.SumOfSquares);
            var (m2, v2) = Statistics.FromSums(reference.Count, reference.Sum, reference.SumOfSquares);
            result = Statistics.WelchTTest(m1, v1, test.Count, m2, v2, reference.Count);
            difference = m1 - m2;
        }

        var p = Finite(result.PValue);
        return new ArmComparison
        {
            Arm = arm,
            Control = control,
            Score = score,
            Test = name,
            Difference = Finite(difference),
            Statistic = Finite(result.Statistic),
            DegreesOfFreedom = result.DegreesOfFreedom is { } df ? Finite(df) : null,
            PValue = p,
            Significant = p < Alpha,
            Note = p is null ? "too few scores to test (at least 2 per arm for numeric scores)" : null,
        };
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
