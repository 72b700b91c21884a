using System.Net;
using System.Text.Json.Nodes;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>A Keel whose store holds traces with known numbers, and scores on some of them.</summary>
public sealed class SummaryFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset Day1 = new(2025, 5, 1, 0, 0, 0, TimeSpan.Zero);

    public KeelTestServer Keel { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Keel = await KeelTestServer.StartAsync();
        var traces = new List<TraceRecord>();
        // m1, day 1: ten calls, latencies 10..100 ms, two failed (500), five streamed (ttft 1..5 ms).
        for (var i = 1; i <= 10; i++)
        {
            var failed = i is 3 or 7;
            traces.Add(TraceQueryFixture.Trace($"m1-{i}", TimeSpan.FromMinutes(i), "m1", "p", failed ? 500 : 200, i * 10, failed ? null : 0.01,
                user: i <= 7 ? "u1" : null) with
            {
                ProjectId = i <= 6 ? "p1" : "p2",
                KeyId = i <= 5 ? "k1" : "k2",
                InputTokens = failed ? null : 100,
                OutputTokens = failed ? null : 10,
                CachedInputTokens = failed ? null : 40,
                TtftMs = i <= 5 ? i : null,
            });
        }

        // m2, day 2: four calls of 1-4 s, one with an estimated cost.
        for (var i = 1; i <= 4; i++)
        {
            traces.Add(TraceQueryFixture.Trace($"m2-{i}", TimeSpan.FromDays(1) + TimeSpan.FromMinutes(i), "m2", "p", 200, i * 1000, 0.5, user: "u2") with
            {
                ProjectId = "p2",
                KeyId = "k2",
                InputTokens = 1000,
                OutputTokens = 500,
                CostEstimated = i == 4,
            });
        }

        await Keel.Services.GetRequiredService<IKeelStore>().Traces.WriteBatchAsync(traces, CancellationToken.None);
        foreach (var (trace, name, value) in new[] { ("m1-1", "thumbs", "true"), ("m1-2", "thumbs", "false"), ("m2-1", "relevance", "0.8"), ("m2-2", "relevance", "0.6"), ("m2-3", "verdict", "\"correct\"") })
        {
            using var response = await Keel.PostJsonAsync("/api/scores", $$"""{"trace_id":"{{trace}}","name":"{{name}}","value":{{value}}}""");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
    }

    public async Task DisposeAsync() => await Keel.DisposeAsync();
}

/// <summary>GET /api/metrics/summary: totals, groupings, percentiles and score averages over a time range.</summary>
public sealed class MetricsSummaryTests(SummaryFixture fixture) : IClassFixture<SummaryFixture>
{
    private const string Range = "from=2025-05-01T00:00:00Z&to=2025-05-03T00:00:00Z";

    private async Task<JsonNode> SummaryAsync(string query)
    {
        using var response = await fixture.Keel.Client.GetAsync("/api/metrics/summary?" + query);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await KeelTestServer.ReadJsonAsync(response);
    }

    private static JsonNode Group(JsonNode summary, string? key) =>
        summary["groups"]!.AsArray().Single(g => (string?)g!["key"] == key)!;

    private static double Score(JsonNode group, string name) =>
        (double)group["scores"]!.AsArray().Single(s => (string?)s!["name"] == name)!["average"]!;

    [Fact]
    public async Task Summary_ByModel_AddsUpRequestsErrorsTokensCostAndPercentiles()
    {
        var summary = await SummaryAsync(Range + "&group_by=model");

        Assert.Equal("model", (string?)summary["group_by"]);
        Assert.Equal(["m1", "m2"], summary["groups"]!.AsArray().Select(g => (string?)g!["key"]));
        var m1 = Group(summary, "m1");
        Assert.Equal(10, (int)m1["requests"]!);
        Assert.Equal(2, (int)m1["errors"]!);
        Assert.Equal(800, (int)m1["input_tokens"]!);
        Assert.Equal(320, (int)m1["cached_input_tokens"]!);
        Assert.Equal(80, (int)m1["output_tokens"]!);
        Assert.Equal(0.08, (double)m1["cost_usd"]!, 9);
        Assert.Equal((50.0, 100.0, 100.0), ((double)m1["latency_ms"]!["p50"]!, (double)m1["latency_ms"]!["p95"]!, (double)m1["latency_ms"]!["p99"]!));
        Assert.Equal((3.0, 5.0), ((double)m1["ttft_ms"]!["p50"]!, (double)m1["ttft_ms"]!["p95"]!));
        Assert.Equal(0.5, Score(m1, "thumbs"));
        var m2 = Group(summary, "m2");
        Assert.Equal((2000.0, 4000.0), ((double)m2["latency_ms"]!["p50"]!, (double)m2["latency_ms"]!["p95"]!));
        Assert.Null(m2["ttft_ms"]);
        Assert.Equal(1, (int)m2["cost_estimated_requests"]!);
        Assert.Equal(0.7, Score(m2, "relevance"), 9);
        Assert.DoesNotContain(m2["scores"]!.AsArray(), s => (string?)s!["name"] == "verdict"); // categorical: no average
        var total = summary["total"]!;
        Assert.Equal(14, (int)total["requests"]!);
        Assert.Equal(2.08, (double)total["cost_usd"]!, 9);
        Assert.Equal(70.0, (double)total["latency_ms"]!["p50"]!);
        Assert.Equal(0.5, Score(total, "thumbs"));
        Assert.Equal(2, (int)total["scores"]!.AsArray().Single(s => (string?)s!["name"] == "relevance")!["count"]!);
    }

    [Theory]
    [InlineData("project", "p2:8,p1:6")]
    [InlineData("key", "k2:9,k1:5")]
    [InlineData("user", "u1:7,u2:4,:3")]
    [InlineData("day", "2025-05-01:10,2025-05-02:4")]
    public async Task Summary_GroupBy_CountsEachGroup(string groupBy, string expected)
    {
        var summary = await SummaryAsync($"{Range}&group_by={groupBy}");

        var groups = summary["groups"]!.AsArray().Select(g => $"{(string?)g!["key"]}:{(int)g["requests"]!}");
        Assert.Equal(expected.Split(','), groups);
    }

    [Fact]
    public async Task Summary_TimeRange_CountsOnlyTracesInside()
    {
        var day2 = await SummaryAsync("from=2025-05-02T00:00:00Z&to=2025-05-03T00:00:00Z");
        var none = await SummaryAsync("from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z");

        Assert.Equal(4, (int)day2["total"]!["requests"]!);
        Assert.Empty(day2["groups"]!.AsArray());
        Assert.Equal(0, (int)none["total"]!["requests"]!);
        Assert.Null(none["total"]!["latency_ms"]);
    }

    [Theory]
    [InlineData("group_by=colour", "group_by")]
    [InlineData("from=2025-05-03T00:00:00Z&to=2025-05-01T00:00:00Z", "from")]
    [InlineData("to=soon", "to")]
    [InlineData("grouping=model", "grouping")]
    public async Task Summary_BadQuery_Is400NamingTheParameter(string query, string param)
    {
        using var response = await fixture.Keel.Client.GetAsync("/api/metrics/summary?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["param"]);
    }
}
