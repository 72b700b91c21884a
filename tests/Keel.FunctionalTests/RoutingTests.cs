using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Core.Recording;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

/// <summary>One test per failure class: which deployment served, how many attempts, what the client saw, what the trace says.</summary>
public sealed class RoutingTests
{
    private const string Chat = """{"model":"chat","messages":[{"role":"user","content":"hi"}]}""";

    /// <summary>Two fakes as deployments a and b of alias "chat" (round-robin: a is tried first).</summary>
    private static string TwoDeployments(FakeProvider a, FakeProvider b, string extra = "", string models = "") => $$"""
        providers:
          a: { kind: openai, base_url: "{{a.BaseUrl}}" }
          b: { kind: openai, base_url: "{{b.BaseUrl}}" }
        models:
          chat:
            strategy: round-robin
            deployments:
              - { provider: a, model: m }
              - { provider: b, model: m }
        {{extra}}
        {{models}}
        """;

    private static IEnumerable<SpanRecord> Attempts(TraceRecord trace) => trace.Spans.Where(s => s.Name == "attempt");

    private static string? Attr(SpanRecord span, string name) => span.Attributes.TryGetProperty(name, out var value) ? value.ToString() : null;

    [Theory]
    [InlineData(429, "rate_limit")]
    [InlineData(500, "server_error")]
    [InlineData(503, "server_error")]
    public async Task Chat_RetryableStatusOnFirstDeployment_IsRetriedOnTheOther(int status, string errorClass)
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b, "    retries: 1"));
        a.Enqueue(new Fault { Status = status });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b/m", response.Headers.GetValues("x-keel-deployment").Single());
        Assert.Equal("2", response.Headers.GetValues("x-keel-attempts").Single());
        Assert.Equal((1, 1), (a.CallCount, b.CallCount));
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(200, trace.StatusCode);
        Assert.Equal("b", trace.Provider);
        Assert.Equal([errorClass, "ok"], Attempts(trace).Select(s => Attr(s, "keel.outcome")));
        Assert.Equal(["a/m", "b/m"], Attempts(trace).Select(s => Attr(s, "keel.deployment")));
    }

    [Fact]
    public async Task Chat_FirstTokenTimeout_IsRetriedOnTheOther()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b, "    retries: 1\n    timeouts: { first_token: 300ms, total: 10s }"));
        a.Enqueue(new Fault { Delay = TimeSpan.FromSeconds(5) });

        var clock = Stopwatch.StartNew();
        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
        Assert.Equal("b/m", response.Headers.GetValues("x-keel-deployment").Single());
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(["timeout", "ok"], Attempts(trace).Select(s => Attr(s, "keel.outcome")));
    }

    [Fact]
    public async Task Chat_ConnectionRefused_IsRetriedOnTheOther()
    {
        await using var b = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              dead: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
              b: { kind: openai, base_url: "{{b.BaseUrl}}" }
            models:
              chat:
                strategy: round-robin
                retries: 1
                deployments:
                  - { provider: dead, model: m }
                  - { provider: b, model: m }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(["connection", "ok"], Attempts(trace).Select(s => Attr(s, "keel.outcome")));
    }

    [Fact]
    public async Task Chat_ContextLengthExceeded_FallsBackToTheLongerContextAliasWithoutRetrying()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              a: { kind: openai, base_url: "{{a.BaseUrl}}" }
              b: { kind: openai, base_url: "{{b.BaseUrl}}" }
            models:
              chat: { provider: a, model: small, retries: 2, fallbacks: [long] }
              long: { provider: b, model: big-context }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);
        a.Enqueue(new Fault { Status = 400, Body = """{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}""" });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((1, 1), (a.CallCount, b.CallCount));
        Assert.Equal("big-context", (string?)b.Requests.Single().Json!["model"]);
        Assert.Equal("b/big-context", response.Headers.GetValues("x-keel-deployment").Single());
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal("long", Attr(trace.Spans.Single(s => s.Name == "call"), "keel.fallback"));
    }

    [Fact]
    public async Task Chat_ContentPolicyRefusal_IsPassedOnUnlessConfiguredAsFallbackTrigger()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        const string Refusal = """{"error":{"message":"Your request was rejected by our content management policy.","type":"invalid_request_error","code":"content_policy_violation"}}""";
        var models = $$"""
            providers:
              a: { kind: openai, base_url: "{{a.BaseUrl}}" }
              b: { kind: openai, base_url: "{{b.BaseUrl}}" }
            models:
              chat: { provider: a, model: m, fallbacks: [other] }
              strict: { provider: a, model: m, fallbacks: [other], fallback_on: [content_policy] }
              other: { provider: b, model: m }
            """;
        await using var keel = await KeelTestServer.StartAsync(models);
        a.Enqueue(new Fault { Status = 400, Body = Refusal });
        a.Enqueue(new Fault { Status = 400, Body = Refusal });

        using var passedOn = await keel.PostJsonAsync("/v1/chat/completions", Chat);
        using var fellBack = await keel.PostJsonAsync("/v1/chat/completions", Chat.Replace("\"chat\"", "\"strict\"", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, passedOn.StatusCode);
        Assert.Equal("content_policy_violation", (string?)(await KeelTestServer.ReadJsonAsync(passedOn))["error"]!["code"]);
        Assert.Equal(HttpStatusCode.OK, fellBack.StatusCode);
        Assert.Equal(1, b.CallCount);
    }

    [Fact]
    public async Task Chat_CallerError_IsNeverRetriedNorFallenBack()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b, "    retries: 2\n    fallbacks: [backup]", "  backup: { provider: b, model: m }"));
        a.Enqueue(new Fault { Status = 400, Body = """{"error":{"message":"Invalid 'messages[0].name'.","type":"invalid_request_error","code":"invalid_value"}}""" });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal((1, 0), (a.CallCount, b.CallCount));
        Assert.Equal("1", response.Headers.GetValues("x-keel-attempts").Single());
    }

    [Fact]
    public async Task Chat_RetryAfter_IsWaitedForBeforeRetrying()
    {
        await using var a = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              a: { kind: openai, base_url: "{{a.BaseUrl}}" }
            models:
              chat: { provider: a, model: m, retries: 1 }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);
        a.Enqueue(new Fault { Status = 429, RetryAfter = "1" });

        var clock = Stopwatch.StartNew();
        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"retried after {clock.Elapsed.TotalMilliseconds} ms");
        Assert.Equal(2, a.CallCount);
    }

    [Fact]
    public async Task Chat_AllAttemptsFail_ClientSeesTheLastErrorWithRetryAfter()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b, "    retries: 1"));
        a.Enqueue(new Fault { Status = 503 });
        b.Enqueue(new Fault { Status = 429, RetryAfter = "7" });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        Assert.Equal("7", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal("2", response.Headers.GetValues("x-keel-attempts").Single());
    }

    [Fact]
    public async Task Chat_ClientGoesAwayDuringBackoff_CancelsThePendingRetry()
    {
        await using var a = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              a: { kind: openai, base_url: "{{a.BaseUrl}}" }
            models:
              chat: { provider: a, model: m, retries: 1 }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);
        a.Enqueue(new Fault { Status = 429, RetryAfter = "3" });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));

        var send = keel.Client.PostAsync("/v1/chat/completions", new StringContent(Chat, Encoding.UTF8, "application/json"), cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        var traces = await WaitForTracesAsync(keel, 1, TimeSpan.FromSeconds(2));

        Assert.Equal(499, traces[0].StatusCode);
        Assert.Equal(1, a.CallCount);
    }

    [Fact]
    public async Task Chat_TotalTimeout_Returns504WithinIt()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b, "    retries: 1\n    timeouts: { first_token: 5s, total: 600ms }"));
        a.Enqueue(new Fault { Delay = TimeSpan.FromSeconds(5) });

        var clock = Stopwatch.StartNew();
        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
        Assert.Contains("total timeout", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["message"]);
    }

    [Fact]
    public async Task Breaker_RepeatedFailures_OpenItSoTheDeploymentIsSkippedThenAProbeClosesIt()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b,
            "    retries: 1\n    breaker: { failure_ratio: 0.5, min_requests: 2, window: 30s, cooldown: 1s }"));
        for (var i = 0; i < 2; i++)
        {
            a.Enqueue(new Fault { Status = 500 });
        }

        for (var i = 0; i < 6; i++)
        {
            using var r = await keel.PostJsonAsync("/v1/chat/completions", Chat);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        // a failed twice (2/2 >= 50%): open, so the last requests never reached it.
        Assert.Equal(2, a.CallCount);
        var health = JsonNode.Parse(await keel.Client.GetStringAsync("/api/routes/health"))!;
        var deployments = health["routes"]!.AsArray().Single(r => (string?)r!["alias"] == "chat")!["deployments"]!.AsArray();
        Assert.Equal("open", (string?)deployments[0]!["breaker"]);
        Assert.Equal("closed", (string?)deployments[1]!["breaker"]);
        Assert.Equal(2, (int)deployments[0]!["failures"]!);

        await Task.Delay(1200);
        for (var i = 0; i < 4; i++)
        {
            using var r = await keel.PostJsonAsync("/v1/chat/completions", Chat);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        Assert.True(a.CallCount >= 3, "the half-open probe never reached the recovered deployment");
        health = JsonNode.Parse(await keel.Client.GetStringAsync("/api/routes/health"))!;
        Assert.Equal("closed", (string?)health["routes"]!.AsArray().Single(r => (string?)r!["alias"] == "chat")!["deployments"]![0]!["breaker"]);
    }

    [Fact]
    public async Task Stream_FailureBeforeFirstChunk_FailsOverTransparently()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(TwoDeployments(a, b, "    retries: 1"));
        a.Enqueue(new Fault { CutAfterChunks = 0 });
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"chat","stream":true,"messages":[{"role":"user","content":"hello there"}]}""", Encoding.UTF8, "application/json"),
        };

        using var response = await keel.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b/m", response.Headers.GetValues("x-keel-deployment").Single());
        Assert.EndsWith("data: [DONE]\n\n", body);
        Assert.DoesNotContain("\"error\"", body);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(["connection", "ok"], Attempts(trace).Select(s => Attr(s, "keel.outcome")));
        Assert.Equal("fake reply to: hello there", (string?)JsonNode.Parse(trace.ResponseBody!)!["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public async Task Capacity_RpmReached_SendsTheNextRequestElsewhere()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              a: { kind: openai, base_url: "{{a.BaseUrl}}" }
              b: { kind: openai, base_url: "{{b.BaseUrl}}" }
            models:
              chat:
                strategy: cost
                deployments:
                  - { provider: a, model: m, rpm: 2, cost: { input: 0.1, output: 0.4 } }
                  - { provider: b, model: m, cost: { input: 1, output: 4 } }
              solo: { deployments: [ { provider: a, model: m, rpm: 1 } ] }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);

        for (var i = 0; i < 4; i++)
        {
            using var r = await keel.PostJsonAsync("/v1/chat/completions", Chat);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        // The cheap deployment takes what its rpm allows, the rest goes to the other one.
        Assert.Equal((2, 2), (a.CallCount, b.CallCount));
        using var first = await keel.PostJsonAsync("/v1/chat/completions", Chat.Replace("\"chat\"", "\"solo\"", StringComparison.Ordinal));
        using var second = await keel.PostJsonAsync("/v1/chat/completions", Chat.Replace("\"chat\"", "\"solo\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal((HttpStatusCode)429, second.StatusCode);
        Assert.Equal("deployments_at_capacity", (string?)(await KeelTestServer.ReadJsonAsync(second))["error"]!["code"]);
    }

    [Fact]
    public async Task Strategy_LeastBusy_SendsConcurrentCallsToTheIdleDeployment()
    {
        await using var a = await FakeProvider.StartAsync();
        await using var b = await FakeProvider.StartAsync();
        var yaml = TwoDeployments(a, b).Replace("strategy: round-robin", "strategy: least-busy", StringComparison.Ordinal);
        await using var keel = await KeelTestServer.StartAsync(yaml);
        a.Enqueue(new Fault { Delay = TimeSpan.FromMilliseconds(800) });
        b.Enqueue(new Fault { Delay = TimeSpan.FromMilliseconds(800) });

        var slow1 = keel.PostJsonAsync("/v1/chat/completions", Chat);
        await Task.Delay(150);
        var slow2 = keel.PostJsonAsync("/v1/chat/completions", Chat);
        await Task.Delay(150);
        using var r1 = await slow1;
        using var r2 = await slow2;

        Assert.NotEqual(r1.Headers.GetValues("x-keel-deployment").Single(), r2.Headers.GetValues("x-keel-deployment").Single());
    }

    private static async Task<IReadOnlyList<TraceRecord>> WaitForTracesAsync(KeelTestServer keel, int count, TimeSpan within)
    {
        var store = (Keel.Core.Storage.IKeelStore)keel.Services.GetService(typeof(Keel.Core.Storage.IKeelStore))!;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            var traces = await store.Traces.ListAsync(new TraceQuery { Limit = 10 }, CancellationToken.None);
            if (traces.Count >= count)
            {
                return traces;
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException($"fewer than {count} traces after {within}");
    }
}
