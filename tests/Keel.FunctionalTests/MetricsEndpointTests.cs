using System.Net;
using System.Text;
using Keel.Core.Recording;
using Keel.Core.Telemetry;
using Keel.Tests.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>GET /metrics after real traffic, read with a strict parser of the text format.</summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_AfterRequests_CountRequestsLatencyTokensCostBreakersAndRecorder()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync($$"""
            providers:
              up: { kind: openai, base_url: "{{fake.BaseUrl}}" }
            models:
              chat: { provider: up, model: gpt-4o-mini }
            """);
        for (var i = 0; i < 2; i++)
        {
            using var ok = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"chat","messages":[{"role":"user","content":"one two three"}]}""");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var stream = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"chat","stream":true,"messages":[{"role":"user","content":"one two three"}]}"""))
        {
            await stream.Content.ReadAsStringAsync();
        }

        fake.Enqueue(new Fault { Status = 400 });
        using (await keel.PostJsonAsync("/v1/chat/completions", """{"model":"chat","messages":[{"role":"user","content":"x"}]}"""))
        {
        }

        using (await keel.PostJsonAsync("/v1/chat/completions", """{"model":"local/echo","messages":[{"role":"user","content":"x"}]}"""))
        {
        }

        keel.Services.GetRequiredService<KeelMetrics>().GuardrailVerdict("pii", "redact");
        await keel.Services.GetRequiredService<TraceRecorder>().FlushAsync(CancellationToken.None);

        using var response = await keel.Client.GetAsync("/metrics");
        var (samples, types) = PrometheusText.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(3, samples.Value("keel_requests_total", ("model", "chat"), ("provider", "up"), ("status", "200")));
        Assert.Equal(1, samples.Value("keel_requests_total", ("model", "chat"), ("provider", "up"), ("status", "400")));
        Assert.Equal(1, samples.Value("keel_requests_total", ("model", "local/echo"), ("provider", "local"), ("status", "200")));
        Assert.Equal(4, samples.Value("keel_request_duration_seconds_count", ("model", "chat")));
        Assert.Equal(4, samples.Value("keel_request_duration_seconds_bucket", ("model", "chat"), ("le", "+Inf")));
        Assert.Equal(1, samples.Value("keel_time_to_first_token_seconds_count", ("model", "chat")));
        // The fake counts prompt tokens as len(messages JSON) / 4 and one completion token per word.
        var prompt = """[{"role":"user","content":"one two three"}]""".Length / 4;
        Assert.Equal(3 * prompt, samples.Value("keel_tokens_total", ("model", "chat"), ("type", "input")));
        Assert.Equal(3 * 6, samples.Value("keel_tokens_total", ("model", "chat"), ("type", "output")));
        Assert.Equal(3 * ((prompt * 0.15) + (6 * 0.6)) / 1e6, samples.Value("keel_cost_usd_total", ("model", "chat")), 12);
        Assert.Equal(0, samples.Value("keel_cost_usd_total", ("model", "local/echo")));
        Assert.Equal(0, samples.Value("keel_cache_hits_total"));
        Assert.Equal(1, samples.Value("keel_guardrail_verdicts_total", ("scanner", "pii"), ("action", "redact")));
        Assert.Equal(1, samples.Value("keel_circuit_breaker_state", ("model", "chat"), ("deployment", "up/gpt-4o-mini"), ("state", "closed")));
        Assert.Equal(0, samples.Value("keel_circuit_breaker_state", ("model", "chat"), ("deployment", "up/gpt-4o-mini"), ("state", "open")));
        Assert.Equal(0, samples.Value("keel_deployment_in_flight", ("model", "chat")));
        Assert.Equal("gauge", types["keel_recorder_queue_depth"]);
        Assert.Equal(0, samples.Value("keel_recorder_queue_depth"));
        Assert.Equal(5, samples.Value("keel_recorder_written_total"));
        Assert.Equal(0, samples.Value("keel_recorder_dropped_total"));
        Assert.Equal("counter", types["keel_recorder_spooled_total"]);
        Assert.Equal(0, samples.Value("keel_recorder_spooled_total"));
        Assert.Equal(0, samples.Value("keel_recorder_replayed_total"));
    }

    [Fact]
    public async Task Metrics_WithAMasterKey_NeedTheKey()
    {
        await using var keel = await KeelTestServer.StartAsync("auth:\n  master_key: sk-keel-master-1234\n");

        using var anonymous = await keel.Client.GetAsync("/metrics");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sk-keel-master-1234");
        using var authorised = await keel.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, authorised.StatusCode);
        Assert.Contains("# TYPE keel_requests_total counter", await authorised.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
