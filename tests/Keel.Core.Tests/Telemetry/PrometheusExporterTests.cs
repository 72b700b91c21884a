using Keel.Core.Configuration;
using Keel.Core.Providers;
using Keel.Core.Telemetry;
using Keel.Tests.Common;

namespace Keel.Core.Tests.Telemetry;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void Render_AfterRequests_CountsHistogramsTokensAndCost()
    {
        var metrics = new KeelMetrics();
        metrics.RecordRequest("chat", "openai", 200, 0.12, 0.03, 100, 40, 20, 0.001);
        metrics.RecordRequest("chat", "openai", 200, 2.0, null, 50, 0, 10, 0.0005);
        metrics.RecordRequest("chat", "openai", 502, 0.004, null, 0, 0, 0, null);
        metrics.GuardrailVerdict("pii", "redact");
        metrics.GuardrailVerdict("pii", "redact");
        metrics.GuardrailVerdict("injection", "block");

        var (samples, types) = PrometheusText.Parse(PrometheusExporter.Render(metrics, null, null));

        Assert.Equal(2, samples.Value("keel_requests_total", ("model", "chat"), ("status", "200")));
        Assert.Equal(1, samples.Value("keel_requests_total", ("model", "chat"), ("provider", "openai"), ("status", "502")));
        Assert.Equal("histogram", types["keel_request_duration_seconds"]);
        Assert.Equal(3, samples.Value("keel_request_duration_seconds_count", ("model", "chat")));
        Assert.Equal(2.124, samples.Value("keel_request_duration_seconds_sum", ("model", "chat")), 9);
        Assert.Equal(1, samples.Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "0.005")));
        Assert.Equal(2, samples.Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "0.25")));
        Assert.Equal(3, samples.Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "+Inf")));
        Assert.Equal(1, samples.Value("keel_time_to_first_token_seconds_count", ("model", "chat")));
        Assert.Equal(150, samples.Value("keel_tokens_total", ("type", "input")));
        Assert.Equal(40, samples.Value("keel_tokens_total", ("type", "cached_input")));
        Assert.Equal(30, samples.Value("keel_tokens_total", ("type", "output")));
        Assert.Equal(0.0015, samples.Value("keel_cost_usd_total", ("model", "chat")), 12);
        Assert.Equal(2, samples.Value("keel_guardrail_verdicts_total", ("scanner", "pii"), ("action", "redact")));
        Assert.Equal(1, samples.Value("keel_guardrail_verdicts_total", ("scanner", "injection"), ("action", "block")));
        Assert.Equal(0, samples.Value("keel_cache_hits_total"));
        Assert.Equal("counter", types["keel_cache_hits_total"]);
    }

    [Fact]
    public void Render_Histogram_BucketsAreCumulativeAndEndWithTheCount()
    {
        var metrics = new KeelMetrics();
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            metrics.RecordRequest("m", "p", 200, random.NextDouble() * 20, null, 0, 0, 0, null);
        }

        var (samples, _) = PrometheusText.Parse(PrometheusExporter.Render(metrics, null, null));

        var buckets = samples.Where(s => s.Name == "keel_request_duration_seconds_bucket").ToList();
        Assert.Equal(KeelMetrics.DurationBuckets.Count + 1, buckets.Count);
        Assert.True(buckets.Zip(buckets.Skip(1)).All(pair => pair.First.Value <= pair.Second.Value));
        Assert.Equal(500, buckets[^1].Value);
        Assert.Equal(500, samples.Single(s => s.Name == "keel_request_duration_seconds_count").Value);
    }

    [Fact]
    public void Render_LabelValues_AreEscaped()
    {
        var metrics = new KeelMetrics();
        metrics.RecordRequest("we\"ird\\mo\ndel", "p", 200, 0.1, null, 0, 0, 0, null);

        var (samples, _) = PrometheusText.Parse(PrometheusExporter.Render(metrics, null, null));

        Assert.Equal("we\"ird\\mo\ndel", samples.First(s => s.Name == "keel_requests_total").Labels["model"]);
    }

    [Fact]
    public void RecordRequest_PastMaxSeries_FoldsNewLabelSetsIntoOther()
    {
        var metrics = new KeelMetrics();
        for (var i = 0; i < KeelMetrics.MaxSeries + 50; i++)
        {
            metrics.RecordRequest($"m{i}", "p", 404, 0.001, null, 0, 0, 0, null);
        }

        var (samples, _) = PrometheusText.Parse(PrometheusExporter.Render(metrics, null, null));

        var requests = samples.Where(s => s.Name == "keel_requests_total").ToList();
        Assert.Equal(KeelMetrics.MaxSeries + 1, requests.Count);
        Assert.Equal(50, requests.Single(s => s.Labels["model"] == KeelMetrics.OverflowLabel).Value);
    }

    [Fact]
    public void Render_Snapshot_ReportsBreakerStatesAndInFlightPerDeployment()
    {
        var config = ConfigLoader.Parse("""
            providers:
              a: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
            models:
              chat: { provider: a, model: m }
            """, "t.yaml", _ => null).Config!;
        var snapshot = new GatewaySnapshot(config, new ProviderFactory(TimeProvider.System).Create);

        var (samples, types) = PrometheusText.Parse(PrometheusExporter.Render(new KeelMetrics(), null, snapshot));

        var chat = samples.Where(s => s.Name == "keel_circuit_breaker_state" && s.Labels["model"] == "chat").ToList();
        Assert.Equal("gauge", types["keel_circuit_breaker_state"]);
        Assert.Equal(1, chat.Single(s => s.Labels["state"] == "closed").Value);
        Assert.Equal(0, chat.Where(s => s.Labels["state"] != "closed").Sum(s => s.Value));
        Assert.Equal("a/m", chat[0].Labels["deployment"]);
        Assert.Equal(0, samples.Single(s => s.Name == "keel_deployment_in_flight" && s.Labels["model"] == "chat").Value);
    }

    [Fact]
    public async Task RecordRequest_ConcurrentWriters_LoseNothing()
    {
        var metrics = new KeelMetrics();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 25_000; i++)
            {
                metrics.RecordRequest("m", "p", 200, 0.01, 0.01, 2, 1, 3, 0.25);
            }
        })));

        var (samples, _) = PrometheusText.Parse(PrometheusExporter.Render(metrics, null, null));
        Assert.Equal(100_000, samples.Single(s => s.Name == "keel_requests_total").Value);
        Assert.Equal(25_000, samples.Single(s => s.Name == "keel_cost_usd_total").Value, 6);
        Assert.Equal(300_000, samples.Single(s => s.Name == "keel_tokens_total" && s.Labels["type"] == "output").Value);
        Assert.Equal(100_000, samples.Single(s => s.Name == "keel_time_to_first_token_seconds_count").Value);
    }

    [Fact]
    public void Dashboard_Queries_UseOnlyMetricsKeelExports()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "../../../../../docs/grafana/keel-dashboard.json");
        using var dashboard = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var metrics = new KeelMetrics();
        metrics.RecordRequest("m", "p", 200, 0.1, 0.05, 1, 0, 1, 0.1);
        metrics.GuardrailVerdict("pii", "block");
        var config = ConfigLoader.Parse("models:\n  m: { provider: local, model: echo }\n", "t.yaml", _ => null).Config!;
        var snapshot = new GatewaySnapshot(config, new ProviderFactory(TimeProvider.System).Create);
        var recorder = new Keel.Core.Recording.TraceRecorder(new DiscardingStore(), Microsoft.Extensions.Logging.Abstractions.NullLogger<Keel.Core.Recording.TraceRecorder>.Instance);
        var (samples, _) = PrometheusText.Parse(PrometheusExporter.Render(metrics, recorder, snapshot));
        var exported = samples.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

        var queried = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .SelectMany(t => System.Text.RegularExpressions.Regex.Matches(t.GetProperty("expr").GetString()!, "keel_[a-z_]+").Select(m => m.Value))
            .ToHashSet(StringComparer.Ordinal);

        Assert.NotEmpty(queried);
        Assert.Empty(queried.Except(exported));
    }

    /// <summary>A store that keeps nothing: the recorder only has to exist for its counters.</summary>
    private sealed class DiscardingStore : Keel.Core.Storage.IKeelStore, Keel.Core.Storage.ITraceStore
    {
        public Keel.Core.Storage.ITraceStore Traces => this;
        public Keel.Core.Storage.IAccessStore Access => throw new NotSupportedException("This store holds traces only.");
        public Keel.Core.Storage.IDataLifecycleStore Lifecycle => throw new NotSupportedException("This store deletes nothing.");
        public Keel.Core.Prompts.IPromptStore Prompts => throw new NotSupportedException("This store holds traces only.");
        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(true);
        public Task WriteBatchAsync(IReadOnlyList<Keel.Core.Recording.TraceRecord> traces, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<Keel.Core.Recording.TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken) => Task.FromResult<Keel.Core.Recording.TraceRecord?>(null);
        public Task<long> CountAsync(CancellationToken cancellationToken) => Task.FromResult(0L);
        public Task<IReadOnlyList<Keel.Core.Recording.TraceRecord>> ListAsync(Keel.Core.Recording.TraceQuery query, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Keel.Core.Recording.TraceRecord>>([]);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
