using BenchmarkDotNet.Attributes;
using Keel.Core.Telemetry;

namespace Keel.Benchmarks;

/// <summary>
/// What the metrics cost a request: one <see cref="KeelMetrics.RecordRequest"/> per request (status
/// counter, duration and TTFT histograms, three token counters, cost), a guardrail verdict, and the
/// scrape (rendering the text) for comparison. The label strings are built at run time, as the
/// request path's are, so their hashing is measured too.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class MetricsBenchmarks
{
    private readonly KeelMetrics _metrics = new();
    private string _model = "";
    private string _provider = "";
    private string _scanner = "";
    private string _action = "";

    [GlobalSetup]
    public void Setup()
    {
        // Twenty model/provider series already there, as in a running gateway.
        for (var i = 0; i < 20; i++)
        {
            _metrics.RecordRequest($"model-{i}", $"provider-{i % 4}", 200, 0.5, 0.1, 100, 0, 50, 0.001);
        }

        _model = string.Concat("model-", "7");
        _provider = string.Concat("provider-", "3");
        _scanner = string.Concat("p", "ii");
        _action = string.Concat("red", "act");
    }

    [Benchmark(Description = "RecordRequest (streamed: ttft, cached tokens, cost)")]
    public void RecordRequest() => _metrics.RecordRequest(_model, _provider, 200, 0.734, 0.121, 812, 256, 190, 0.00042);

    [Benchmark(Description = "RecordRequest (error: no tokens, no cost)")]
    public void RecordError() => _metrics.RecordRequest(_model, _provider, 502, 0.012, null, 0, 0, 0, null);

    [Benchmark(Description = "GuardrailVerdict")]
    public void GuardrailVerdict() => _metrics.GuardrailVerdict(_scanner, _action);

    [Benchmark(Description = "Render /metrics (20 series, no snapshot)")]
    public int Render() => PrometheusExporter.Render(_metrics, null, null).Length;
}
