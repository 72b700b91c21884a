namespace Keel.Core.Storage;

/// <summary>How <c>GET /api/metrics/summary</c> groups traces.</summary>
public enum SummaryGrouping
{
    /// <summary>One group: everything in the range.</summary>
    None,
    Model,
    Project,
    Key,
    User,
    /// <summary>UTC calendar day.</summary>
    Day,
}

/// <summary>The time range and grouping of a summary.</summary>
public sealed record SummaryQuery(DateTimeOffset From, DateTimeOffset To, SummaryGrouping GroupBy, string? ProjectId = null);

/// <summary>Nearest-rank percentiles of a set of values (null when there are none).</summary>
public sealed record Percentiles(double P50, double P95, double P99)
{
    /// <summary>The 50th, 95th and 99th percentiles of <paramref name="values"/> (sorted in place).</summary>
    public static Percentiles? Of(List<double> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        values.Sort();
        return new Percentiles(Rank(values, 0.50), Rank(values, 0.95), Rank(values, 0.99));

        static double Rank(List<double> sorted, double p) => Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)], 3);
    }
}

/// <summary>The average of a numeric or boolean score (for booleans, the share that were true).</summary>
public sealed record ScoreAverage(string Name, double Average, long Count);

/// <summary>One group of a summary.</summary>
public sealed record SummaryGroup
{
    /// <summary>The model, project, key, user or day (yyyy-MM-dd); null for traces without one (and for the total).</summary>
    public string? Key { get; init; }
    public long Requests { get; init; }
    /// <summary>Requests answered with status 400 or above.</summary>
    public long Errors { get; init; }
    public long InputTokens { get; init; }
    public long CachedInputTokens { get; init; }
    public long OutputTokens { get; init; }
    public double CostUsd { get; init; }
    /// <summary>Requests whose cost Keel estimated from its own token count.</summary>
    public long CostEstimatedRequests { get; init; }
    public Percentiles? LatencyMs { get; init; }
    /// <summary>Time to first token, streamed requests only.</summary>
    public Percentiles? TtftMs { get; init; }
    public IReadOnlyList<ScoreAverage> Scores { get; init; } = [];
}

/// <summary>A summary: the groups (largest first) and the total over the range.</summary>
public sealed record TraceSummary(DateTimeOffset From, DateTimeOffset To, string GroupBy, IReadOnlyList<SummaryGroup> Groups, SummaryGroup Total);

/// <summary>Usage summaries over a time range (the SQLite store; PostgreSQL later).</summary>
public interface ITraceSummaryStore
{
    /// <summary>Requests, errors, tokens, cost, latency and TTFT percentiles and score averages, grouped.</summary>
    Task<TraceSummary> SummarizeAsync(SummaryQuery query, CancellationToken cancellationToken);
}
