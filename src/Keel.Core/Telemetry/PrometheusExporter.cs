using System.Globalization;
using System.Text;
using Keel.Core.Providers;
using Keel.Core.Recording;
using Keel.Core.Routing;

namespace Keel.Core.Telemetry;

/// <summary>
/// Writes Keel's metrics in the Prometheus text exposition format (version 0.0.4): the counters of
/// <see cref="KeelMetrics"/>, and gauges read at scrape time from the routes (circuit breakers,
/// calls in flight) and the trace recorder (queue depth, written, dropped, spooled and replayed traces).
/// </summary>
public static class PrometheusExporter
{
    /// <summary>The Content-Type of the text format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Renders every metric family.</summary>
    public static string Render(KeelMetrics metrics, TraceRecorder? recorder, GatewaySnapshot? snapshot)
    {
        var text = new StringBuilder(4096);
        var series = metrics.RequestSeriesSnapshot.OrderBy(s => s.Key.Model, StringComparer.Ordinal).ThenBy(s => s.Key.Provider, StringComparer.Ordinal).ToList();

        Family(text, "keel_requests_total", "counter", "Gateway requests by model alias, provider and HTTP status.");
        foreach (var s in series)
        {
            for (var status = 0; status < s.StatusCounts.Length; status++)
            {
                var count = Interlocked.Read(ref s.StatusCounts[status]);
                if (count > 0)
                {
                    Sample(text, "keel_requests_total", [("model", s.Key.Model), ("provider", s.Key.Provider), ("status", status.ToString(CultureInfo.InvariantCulture))], count);
                }
            }
        }

        Family(text, "keel_request_duration_seconds", "histogram", "Time from a request's arrival to its last byte.");
        foreach (var s in series)
        {
            HistogramSamples(text, "keel_request_duration_seconds", s.Key, s.Duration);
        }

        Family(text, "keel_time_to_first_token_seconds", "histogram", "Time from a streamed request's arrival to its first chunk.");
        foreach (var s in series)
        {
            HistogramSamples(text, "keel_time_to_first_token_seconds", s.Key, s.Ttft);
        }

        Family(text, "keel_tokens_total", "counter", "Tokens by type: input (prompt, cached included), cached_input (read from the provider's prompt cache), output.");
        foreach (var s in series)
        {
            Sample(text, "keel_tokens_total", [("model", s.Key.Model), ("provider", s.Key.Provider), ("type", "input")], Interlocked.Read(ref s.InputTokens));
            Sample(text, "keel_tokens_total", [("model", s.Key.Model), ("provider", s.Key.Provider), ("type", "cached_input")], Interlocked.Read(ref s.CachedInputTokens));
            Sample(text, "keel_tokens_total", [("model", s.Key.Model), ("provider", s.Key.Provider), ("type", "output")], Interlocked.Read(ref s.OutputTokens));
        }

        Family(text, "keel_cost_usd_total", "counter", "What the calls cost in USD (provider usage, or Keel's count when a provider reports none).");
        foreach (var s in series)
        {
            Sample(text, "keel_cost_usd_total", [("model", s.Key.Model), ("provider", s.Key.Provider)], AtomicDouble.Read(ref s.CostUsdBits));
        }

        Family(text, "keel_cache_hits_total", "counter", "Responses served from Keel's response cache.");
        Sample(text, "keel_cache_hits_total", [], metrics.CacheHits);
        Family(text, "keel_cache_misses_total", "counter", "Cache lookups that found no answer.");
        Sample(text, "keel_cache_misses_total", [], metrics.CacheMisses);

        Family(text, "keel_guardrail_verdicts_total", "counter", "Guardrail decisions by scanner and action.");
        foreach (var (key, counter) in metrics.VerdictSnapshot.OrderBy(v => v.Key.Scanner, StringComparer.Ordinal).ThenBy(v => v.Key.Action, StringComparer.Ordinal))
        {
            Sample(text, "keel_guardrail_verdicts_total", [("scanner", key.Scanner), ("action", key.Action)], Interlocked.Read(ref counter.Value));
        }

        if (snapshot is not null)
        {
            var deployments = snapshot.Models.Values
                .SelectMany(r => r.Deployments.Select(d => (Alias: r.Alias, Deployment: d)))
                .OrderBy(x => x.Alias, StringComparer.Ordinal)
                .ThenBy(x => x.Deployment.Id, StringComparer.Ordinal)
                .ToList();
            Family(text, "keel_circuit_breaker_state", "gauge", "1 for each deployment's current breaker state (closed, half_open, open).");
            foreach (var (alias, deployment) in deployments)
            {
                var state = deployment.State.Breaker.State;
                foreach (var (name, value) in (ReadOnlySpan<(string, BreakerState)>)[("closed", BreakerState.Closed), ("half_open", BreakerState.HalfOpen), ("open", BreakerState.Open)])
                {
                    Sample(text, "keel_circuit_breaker_state", [("model", alias), ("deployment", deployment.Id), ("state", name)], state == value ? 1 : 0);
                }
            }

            Family(text, "keel_deployment_in_flight", "gauge", "Calls in flight to each deployment.");
            foreach (var (alias, deployment) in deployments)
            {
                Sample(text, "keel_deployment_in_flight", [("model", alias), ("deployment", deployment.Id)], deployment.State.InFlight);
            }
        }

        if (recorder is not null)
        {
            Family(text, "keel_recorder_queue_depth", "gauge", "Traces waiting to be written to the store.");
            Sample(text, "keel_recorder_queue_depth", [], recorder.QueueDepth);
            Family(text, "keel_recorder_written_total", "counter", "Traces written to the store.");
            Sample(text, "keel_recorder_written_total", [], recorder.Written);
            Family(text, "keel_recorder_dropped_total", "counter", "Traces dropped: queue full, or the store kept failing.");
            Sample(text, "keel_recorder_dropped_total", [], recorder.Dropped);
            Family(text, "keel_recorder_spooled_total", "counter", "Traces appended to the local spool because the store failed or fell behind.");
            Sample(text, "keel_recorder_spooled_total", [], recorder.Spooled);
            Family(text, "keel_recorder_replayed_total", "counter", "Spooled traces replayed into the store after it recovered.");
            Sample(text, "keel_recorder_replayed_total", [], recorder.Replayed);
        }

        return text.ToString();
    }

    private static void HistogramSamples(StringBuilder text, string name, KeelMetrics.RequestKey key, Histogram histogram)
    {
        var (cumulative, sum) = histogram.Snapshot();
        if (cumulative[^1] == 0)
        {
            return;
        }

        for (var i = 0; i < cumulative.Length; i++)
        {
            var le = i < histogram.UpperBounds.Count ? Format(histogram.UpperBounds[i]) : "+Inf";
            Sample(text, name + "_bucket", [("model", key.Model), ("provider", key.Provider), ("le", le)], cumulative[i]);
        }

        Sample(text, name + "_sum", [("model", key.Model), ("provider", key.Provider)], sum);
        Sample(text, name + "_count", [("model", key.Model), ("provider", key.Provider)], cumulative[^1]);
    }

    private static void Family(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, ReadOnlySpan<(string Name, string Value)> labels, double value)
    {
        text.Append(name);
        if (!labels.IsEmpty)
        {
            text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                text.Append(labels[i].Name).Append("=\"");
                AppendEscaped(text, labels[i].Value);
                text.Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(Format(value)).Append('\n');
    }

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    private static void AppendEscaped(StringBuilder text, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': text.Append(@"\\"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append(@"\n"); break;
                default: text.Append(c); break;
            }
        }
    }

    private static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);
}
