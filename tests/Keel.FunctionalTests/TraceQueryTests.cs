using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>A Keel whose store holds a small, known set of traces, written through the real SQLite store.</summary>
public sealed class TraceQueryFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset T0 = new(2025, 5, 1, 0, 0, 0, TimeSpan.Zero);

    public KeelTestServer Keel { get; private set; } = null!;

    public static TraceRecord Trace(string id, TimeSpan at, string model, string provider, int status, double latencyMs, double? cost,
        string? user = null, string? session = null, string[]? tags = null, string? ask = null, string? answer = null) => new()
        {
            TraceId = id,
            StartedAt = T0 + at,
            Operation = "chat",
            ProjectId = "project-1",
            KeyId = "key-1",
            Model = model,
            Provider = provider,
            UpstreamModel = model,
            StatusCode = status,
            LatencyMs = latencyMs,
            CostUsd = cost,
            InputTokens = cost is null ? null : 10,
            OutputTokens = cost is null ? null : 5,
            UserId = user,
            SessionId = session,
            Tags = tags,
            RequestBodyUtf8 = ask is null ? null : Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{ask}}"}]}"""),
            ResponseBodyUtf8 = answer is null ? null : Encoding.UTF8.GetBytes($$$"""{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"{{{answer}}}"}}]}"""),
        };

    public async Task InitializeAsync()
    {
        Keel = await KeelTestServer.StartAsync();
        var store = Keel.Services.GetRequiredService<IKeelStore>();
        await store.Traces.WriteBatchAsync(
        [
            Trace("a", TimeSpan.FromSeconds(1), "gpt-a", "p1", 200, 100, 0.001, "u1", "s1", ["prod", "web"], "the quick brown fox", "it jumps"),
            Trace("b", TimeSpan.FromSeconds(2), "gpt-b", "p2", 429, 50, null, "u2", "s1", ["prod"], "a lazy dog"),
            Trace("c", TimeSpan.FromSeconds(3), "gpt-a", "p1", 500, 3000, 0.05, "u1", "s2", ["beta"], "quick question"),
            Trace("d", TimeSpan.FromSeconds(4), "gpt-b", "p2", 200, 8000, 0.2, ask: "dessert?", answer: "Crème brûlée, of course"),
            Trace("e", TimeSpan.FromDays(1), "gpt-a", "p1", 499, 20, 0.0001, "u3", tags: ["web"], ask: "fox news"),
            Trace("f", TimeSpan.FromDays(2), "local/echo", "local", 200, 1, 0, "u1", "s2", ["prod", "beta"], "echo this"),
        ],
        CancellationToken.None);
    }

    public async Task DisposeAsync() => await Keel.DisposeAsync();
}

/// <summary>GET /api/traces: every filter, the cursor, and bad queries.</summary>
public sealed class TraceQueryTests(TraceQueryFixture fixture) : IClassFixture<TraceQueryFixture>
{
    private static string Iso(TimeSpan at) => (TraceQueryFixture.T0 + at).ToString("O", System.Globalization.CultureInfo.InvariantCulture);

    private async Task<List<string>> IdsAsync(string query)
    {
        using var response = await fixture.Keel.Client.GetAsync("/api/traces?" + query);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {await response.Content.ReadAsStringAsync()}");
        var page = await KeelTestServer.ReadJsonAsync(response);
        return [.. page["data"]!.AsArray().Select(t => (string)t!["trace_id"]!)];
    }

    [Theory]
    [InlineData("", "f,e,d,c,b,a")]
    [InlineData("model=gpt-a", "e,c,a")]
    [InlineData("provider=p2", "d,b")]
    [InlineData("status=ok", "f,d,a")]
    [InlineData("status=error", "e,c,b")]
    [InlineData("status=429", "b")]
    [InlineData("status=200", "f,d,a")]
    [InlineData("user=u1", "f,c,a")]
    [InlineData("session=s1", "b,a")]
    [InlineData("tag=prod", "f,b,a")]
    [InlineData("tag=prod&tag=beta", "f")]
    [InlineData("tag=web&model=gpt-a&status=error", "e")]
    [InlineData("min_cost=0.001", "d,c,a")]
    [InlineData("max_cost=0.001", "f,e,a")]
    [InlineData("min_cost=0.01&max_cost=0.1", "c")]
    [InlineData("min_latency_ms=3000", "d,c")]
    [InlineData("max_latency_ms=50", "f,e,b")]
    [InlineData("q=quick", "c,a")]
    [InlineData("q=QUICK%20fox", "a")]
    [InlineData("q=jumps", "a")]                    // in the answer
    [InlineData("q=creme%20brulee", "d")]           // accents folded
    [InlineData("q=fox&user=u3", "e")]
    [InlineData("q=nothing-like-this", "")]
    [InlineData("q=%22%2A%28", "f,e,d,c,b,a")]      // no word in it: no text filter, and never an FTS syntax error
    [InlineData("user=nobody", "")]
    public async Task List_Filter_ReturnsTheMatchingTracesNewestFirst(string query, string expected)
    {
        Assert.Equal(expected.Split(',', StringSplitOptions.RemoveEmptyEntries), await IdsAsync(query));
    }

    [Fact]
    public async Task List_TimeRange_IsFromInclusiveToExclusiveInIsoOrUnixMilliseconds()
    {
        var from = (TraceQueryFixture.T0 + TimeSpan.FromSeconds(2)).ToUnixTimeMilliseconds();

        Assert.Equal(["c", "b"], await IdsAsync($"from={from}&to={Uri.EscapeDataString(Iso(TimeSpan.FromSeconds(4)))}"));
        Assert.Equal(["e", "d"], await IdsAsync($"from={Uri.EscapeDataString(Iso(TimeSpan.FromSeconds(4)))}&to={Uri.EscapeDataString(Iso(TimeSpan.FromDays(2)))}"));
        Assert.Equal(["a"], await IdsAsync($"q=fox&to={Uri.EscapeDataString(Iso(TimeSpan.FromHours(1)))}"));
    }

    [Fact]
    public async Task List_Trace_HasCostTagsAndDimensions()
    {
        using var response = await fixture.Keel.Client.GetAsync("/api/traces?session=s1&limit=1");
        var trace = (await KeelTestServer.ReadJsonAsync(response))["data"]![0]!;

        Assert.Equal("b", (string?)trace["trace_id"]);
        Assert.Equal("u2", (string?)trace["user_id"]);
        Assert.Equal("s1", (string?)trace["session_id"]);
        Assert.Equal(["prod"], trace["tags"]!.AsArray().Select(t => (string?)t));
        Assert.False((bool)trace["cost_estimated"]!);
        Assert.Null(trace["cost_usd"]);
        Assert.Null(trace["request_body"]);
    }

    [Theory]
    [InlineData("status=oops", "status")]
    [InlineData("status=99", "status")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("from=yesterday", "from")]
    [InlineData("min_cost=-1", "min_cost")]
    [InlineData("max_latency_ms=abc", "max_latency_ms")]
    [InlineData("cursor=abc", "cursor")]
    [InlineData("min_latency=5", "min_latency")]
    public async Task List_BadQuery_Is400NamingTheParameter(string query, string param)
    {
        using var response = await fixture.Keel.Client.GetAsync("/api/traces?" + query);
        var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (string?)error["param"]);
    }
}

/// <summary>Paging through traces that share a start time.</summary>
public sealed class TracePagingTests
{
    private static async Task<(List<string> Ids, string? Next)> PageAsync(KeelTestServer keel, string query)
    {
        var page = JsonNode.Parse(await keel.Client.GetStringAsync("/api/traces?" + query))!;
        return ([.. page["data"]!.AsArray().Select(t => (string)t!["trace_id"]!)], (string?)page["next_cursor"]);
    }

    private static async Task<List<List<string>>> AllPagesAsync(KeelTestServer keel, string query)
    {
        var pages = new List<List<string>>();
        string? cursor = null;
        do
        {
            var (ids, next) = await PageAsync(keel, query + (cursor is null ? "" : "&cursor=" + cursor));
            pages.Add(ids);
            cursor = next;
        }
        while (cursor is not null && pages.Count < 100);

        return pages;
    }

    [Theory]
    [InlineData("limit=3")]
    [InlineData("limit=3&model=m")]
    [InlineData("limit=3&tag=t")]
    [InlineData("limit=3&q=needle")]
    [InlineData("limit=4&status=ok&min_latency_ms=0")]
    public async Task List_ManyTracesInOneMillisecond_PagesNeitherSkipNorRepeat(string query)
    {
        await using var keel = await KeelTestServer.StartAsync();
        var store = keel.Services.GetRequiredService<IKeelStore>();
        // 3 traces a millisecond before, 7 in the same millisecond, 2 after: 12, in write order.
        var traces = new List<TraceRecord>();
        for (var i = 0; i < 12; i++)
        {
            var at = TimeSpan.FromMilliseconds(i < 3 ? i : i < 10 ? 3 : i);
            traces.Add(TraceQueryFixture.Trace($"t{i:D2}", at, "m", "p", 200, 10, 0.001, tags: ["t"], ask: "find the needle"));
        }

        await store.Traces.WriteBatchAsync(traces[..6], CancellationToken.None);
        await store.Traces.WriteBatchAsync(traces[6..], CancellationToken.None);

        var pages = await AllPagesAsync(keel, query);
        var all = pages.SelectMany(p => p).ToList();

        Assert.True(pages.Count > 2, $"{pages.Count} pages");
        Assert.Equal(12, all.Count);
        Assert.Equal(12, all.Distinct().Count());
        // Newest first; within the shared millisecond, the later-written first.
        Assert.Equal(["t11", "t10", "t09", "t08", "t07", "t06", "t05", "t04", "t03", "t02", "t01", "t00"], all);
        Assert.DoesNotContain(pages, p => p.Count == 0);
    }

    [Fact]
    public async Task List_TraceWrittenAgain_KeepsItsPlaceAndIndexes()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var store = keel.Services.GetRequiredService<IKeelStore>();
        var first = TraceQueryFixture.Trace("x", TimeSpan.Zero, "m", "p", 200, 10, 0.001, tags: ["old"], ask: "alpha");
        await store.Traces.WriteBatchAsync([first, TraceQueryFixture.Trace("y", TimeSpan.FromSeconds(1), "m", "p", 200, 10, 0.001)], CancellationToken.None);

        // A replay (the same trace id) with new tags and text: the row is updated, its indexes follow.
        await store.Traces.WriteBatchAsync([first with { Tags = ["new"], RequestBodyUtf8 = Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"beta"}]}""") }], CancellationToken.None);

        Assert.Equal(2, await store.Traces.CountAsync(CancellationToken.None));
        Assert.Equal(["y", "x"], (await PageAsync(keel, "")).Ids);
        Assert.Empty((await PageAsync(keel, "tag=old")).Ids);
        Assert.Equal(["x"], (await PageAsync(keel, "tag=new")).Ids);
        Assert.Empty((await PageAsync(keel, "q=alpha")).Ids);
        Assert.Equal(["x"], (await PageAsync(keel, "q=beta")).Ids);
    }
}
