using System.Globalization;
using Keel.Core.Configuration;
using Keel.Core.Providers;
using Keel.Core.Telemetry;

namespace Keel.Core.Tests.Telemetry;

public sealed class PrometheusExporterTests
{
    /// <summary>One sample line of the text format: name, labels, value.</summary>
    internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>
    /// A strict reader of the exposition format: every sample belongs to the family declared by the
    /// closest # TYPE above it, label values are unescaped, every line is well formed.
    /// </summary>
    internal static (List<Sample> Samples, Dictionary<string, string> Types) ParseExposition(string text)
    {
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        string? family = null;
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Equal(4, parts.Length);
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram" });
                Assert.True(types.TryAdd(parts[2], parts[3]), $"family {parts[2]} declared twice");
                family = parts[2];
                continue;
            }

            var name = new string([.. line.TakeWhile(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':')]);
            Assert.NotNull(family);
            Assert.True(name == family || (types[family] == "histogram" && (name == family + "_bucket" || name == family + "_sum" || name == family + "_count")), $"sample {name} outside its family {family}");
            var rest = line[name.Length..];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (rest.StartsWith('{'))
            {
                var i = 1;
                while (rest[i] != '}')
                {
                    var eq = rest.IndexOf('=', i);
                    var label = rest[i..eq];
                    Assert.Equal('"', rest[eq + 1]);
                    var value = new System.Text.StringBuilder();
                    var j = eq + 2;
                    for (; rest[j] != '"'; j++)
                    {
                        if (rest[j] == '\\')
                        {
                            j++;
                            value.Append(rest[j] switch { 'n' => '\n', var c => c });
                        }
                        else
                        {
                            value.Append(rest[j]);
                        }
                    }

                    labels[label] = value.ToString();
                    i = rest[j + 1] == ',' ? j + 2 : j + 1;
                }

                rest = rest[(i + 1)..];
            }

            Assert.StartsWith(" ", rest, StringComparison.Ordinal);
            var number = rest[1..];
            var parsed = number == "+Inf" ? double.PositiveInfinity : double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
            samples.Add(new Sample(name, labels, parsed));
        }

        return (samples, types);
    }

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

        var (samples, types) = ParseExposition(PrometheusExporter.Render(metrics, null, null));

        double Value(string name, params (string, string)[] labels) =>
            samples.Single(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Item1, out var v) && v == l.Item2)).Value;
        Assert.Equal(2, Value("keel_requests_total", ("model", "chat"), ("status", "200")));
        Assert.Equal(1, Value("keel_requests_total", ("model", "chat"), ("provider", "openai"), ("status", "502")));
        Assert.Equal("histogram", types["keel_request_duration_seconds"]);
        Assert.Equal(3, Value("keel_request_duration_seconds_count", ("model", "chat")));
        Assert.Equal(2.124, Value("keel_request_duration_seconds_sum", ("model", "chat")), 9);
        Assert.Equal(1, Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "0.005")));
        Assert.Equal(2, Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "0.25")));
        Assert.Equal(3, Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "+Inf")));
        Assert.Equal(1, Value("keel_time_to_first_token_seconds_count", ("model", "chat")));
        Assert.Equal(150, Value("keel_tokens_total", ("type", "input")));
        Assert.Equal(40, Value("keel_tokens_total", ("type", "cached_input")));
        Assert.Equal(30, Value("keel_tokens_total", ("type", "output")));
        Assert.Equal(0.0015, Value("keel_cost_usd_total", ("model", "chat")), 12);
        Assert.Equal(2, Value("keel_guardrail_verdicts_total", ("scanner", "pii"), ("action", "redact")));
        Assert.Equal(1, Value("keel_guardrail_verdicts_total", ("scanner", "injection"), ("action", "block")));
        Assert.Equal(0, Value("keel_cache_hits_total"));
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

        var (samples, _) = ParseExposition(PrometheusExporter.Render(metrics, null, null));

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

        var (samples, _) = ParseExposition(PrometheusExporter.Render(metrics, null, null));

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

        var (samples, _) = ParseExposition(PrometheusExporter.Render(metrics, null, null));

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

        var (samples, types) = ParseExposition(PrometheusExporter.Render(new KeelMetrics(), null, snapshot));

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

        var (samples, _) = ParseExposition(PrometheusExporter.Render(metrics, null, null));
        Assert.Equal(100_000, samples.Single(s => s.Name == "keel_requests_total").Value);
        Assert.Equal(25_000, samples.Single(s => s.Name == "keel_cost_usd_total").Value, 6);
        Assert.Equal(300_000, samples.Single(s => s.Name == "keel_tokens_total" && s.Labels["type"] == "output").Value);
        Assert.Equal(100_000, samples.Single(s => s.Name == "keel_time_to_first_token_seconds_count").Value);
    }
}
