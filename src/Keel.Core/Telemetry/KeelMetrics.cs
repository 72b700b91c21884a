using System.Collections.Concurrent;

namespace Keel.Core.Telemetry;

/// <summary>
/// Keel's counters and histograms for <c>GET /metrics</c>: a small registry of lock-free counters.
/// Recording a request is a dictionary lookup (no allocation once its series exists) and a few
/// interlocked adds; the text is only built when Prometheus scrapes. Gauges (breakers, the recorder
/// queue) are read from their owners at scrape time by <see cref="PrometheusExporter"/>.
/// </summary>
/// <remarks>
/// Label values come from configuration (aliases, providers, scanner names) or from clients (a
/// direct <c>provider/model</c> name). To keep a client from growing the series without bound,
/// past <see cref="MaxSeries"/> label sets per family new ones are counted under <c>_other</c>.
/// </remarks>
public sealed class KeelMetrics
{
    /// <summary>Most label sets per metric family; later ones are folded into <see cref="OverflowLabel"/>.</summary>
    public const int MaxSeries = 1000;

    /// <summary>The label value of series folded together past <see cref="MaxSeries"/>.</summary>
    public const string OverflowLabel = "_other";

    /// <summary>Upper bounds (seconds) of the request duration and time-to-first-token histograms.</summary>
    public static IReadOnlyList<double> DurationBuckets { get; } = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly ConcurrentDictionary<RequestKey, RequestSeries> _requests = new();
    private readonly ConcurrentDictionary<VerdictKey, Counter> _verdicts = new();
    private long _cacheHits;
    private long _cacheMisses;

    /// <summary>Counts one finished gateway request (any status) under its model alias and provider.</summary>
    /// <param name="model">The model alias the request resolved to ("" when it did not resolve).</param>
    /// <param name="provider">The provider that served it ("" when none was called).</param>
    /// <param name="status">The HTTP status the client got (499 when it went away).</param>
    /// <param name="durationSeconds">Time from arrival to the last byte.</param>
    /// <param name="ttftSeconds">Time to the first streamed chunk; null for non-streamed answers.</param>
    /// <param name="inputTokens">Prompt tokens.</param>
    /// <param name="cachedInputTokens">Prompt tokens read from the provider's cache.</param>
    /// <param name="outputTokens">Completion tokens.</param>
    /// <param name="costUsd">What the call cost; null when unknown.</param>
    public void RecordRequest(
        string model, string provider, int status, double durationSeconds, double? ttftSeconds,
        long inputTokens, long cachedInputTokens, long outputTokens, double? costUsd)
    {
        var series = GetSeries(_requests, new RequestKey(model, provider), new RequestKey(OverflowLabel, OverflowLabel), static k => new RequestSeries(k));
        Interlocked.Increment(ref series.StatusCounts[Math.Clamp(status, 0, RequestSeries.MaxStatus)]);
        series.Duration.Observe(durationSeconds);
        if (ttftSeconds is { } ttft)
        {
            series.Ttft.Observe(ttft);
        }

        if (inputTokens > 0)
        {
            Interlocked.Add(ref series.InputTokens, inputTokens);
        }

        if (cachedInputTokens > 0)
        {
            Interlocked.Add(ref series.CachedInputTokens, cachedInputTokens);
        }

        if (outputTokens > 0)
        {
            Interlocked.Add(ref series.OutputTokens, outputTokens);
        }

        if (costUsd is { } cost && cost > 0)
        {
            AtomicDouble.Add(ref series.CostUsdBits, cost);
        }
    }

    /// <summary>Counts one guardrail decision: which scanner, and what it did (allow, redact, flag, block).</summary>
    public void GuardrailVerdict(string scanner, string action)
    {
        var counter = GetSeries(_verdicts, new VerdictKey(scanner, action), new VerdictKey(OverflowLabel, OverflowLabel), static _ => new Counter());
        Interlocked.Increment(ref counter.Value);
    }

    /// <summary>Counts a response served from Keel's cache.</summary>
    public void CacheHit() => Interlocked.Increment(ref _cacheHits);

    /// <summary>Counts a cache lookup that found nothing.</summary>
    public void CacheMiss() => Interlocked.Increment(ref _cacheMisses);

    /// <summary>Cache lookups that found an answer.</summary>
    public long CacheHits => Interlocked.Read(ref _cacheHits);

    /// <summary>Cache lookups that found nothing.</summary>
    public long CacheMisses => Interlocked.Read(ref _cacheMisses);

    internal IEnumerable<RequestSeries> RequestSeriesSnapshot => _requests.Values;

    internal IEnumerable<KeyValuePair<VerdictKey, Counter>> VerdictSnapshot => _verdicts;

    private static TValue GetSeries<TKey, TValue>(ConcurrentDictionary<TKey, TValue> map, TKey key, TKey overflow, Func<TKey, TValue> create)
        where TKey : notnull
    {
        if (map.TryGetValue(key, out var existing))
        {
            return existing;
        }

        return map.GetOrAdd(map.Count >= MaxSeries ? overflow : key, create);
    }

    internal readonly record struct RequestKey(string Model, string Provider);

    internal readonly record struct VerdictKey(string Scanner, string Action);

    internal sealed class Counter
    {
        public long Value;
    }

    /// <summary>Everything counted for one (model, provider).</summary>
    internal sealed class RequestSeries(RequestKey key)
    {
        public const int MaxStatus = 599;

        public readonly RequestKey Key = key;
        public readonly long[] StatusCounts = new long[MaxStatus + 1];
        public readonly Histogram Duration = new(DurationBuckets);
        public readonly Histogram Ttft = new(DurationBuckets);
        public long InputTokens;
        public long CachedInputTokens;
        public long OutputTokens;
        public long CostUsdBits;
    }
}

/// <summary>A fixed-bucket histogram with lock-free observation.</summary>
public sealed class Histogram(IReadOnlyList<double> upperBounds)
{
    private readonly double[] _bounds = [.. upperBounds];
    private readonly long[] _counts = new long[upperBounds.Count + 1];
    private long _sumBits;

    /// <summary>The buckets' upper bounds, ascending (the +Inf bucket is implicit).</summary>
    public IReadOnlyList<double> UpperBounds => _bounds;

    /// <summary>Adds one observation.</summary>
    public void Observe(double value)
    {
        var bucket = 0;
        while (bucket < _bounds.Length && value > _bounds[bucket])
        {
            bucket++;
        }

        Interlocked.Increment(ref _counts[bucket]);
        AtomicDouble.Add(ref _sumBits, value);
    }

    /// <summary>Cumulative counts per bucket (the last is +Inf, equal to the total count), and the sum.</summary>
    public (long[] Cumulative, double Sum) Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            cumulative[i] = running;
        }

        return (cumulative, AtomicDouble.Read(ref _sumBits));
    }
}

/// <summary>A double kept in a long's bits, added to with compare-and-swap.</summary>
internal static class AtomicDouble
{
    public static void Add(ref long bits, double value)
    {
        var current = Interlocked.Read(ref bits);
        while (true)
        {
            var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(current) + value);
            var seen = Interlocked.CompareExchange(ref bits, next, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    public static double Read(ref long bits) => BitConverter.Int64BitsToDouble(Interlocked.Read(ref bits));
}
