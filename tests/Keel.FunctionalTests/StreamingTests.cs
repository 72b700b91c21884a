using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

/// <summary>Server-Sent Events through Keel: relayed as they arrive, faults turned into clean endings.</summary>
public sealed class StreamingTests
{
    private static string Config(FakeProvider fake) => $$"""
        providers:
          up: { kind: openai, base_url: "{{fake.BaseUrl}}", api_key: sk-stream-test-key }
        models:
          gpt-test: { provider: up }
        """;

    private const string StreamBody = """{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three four five"}]}""";

    private static async Task<HttpResponseMessage> SendStreamAsync(KeelTestServer keel, string body = StreamBody)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        return await keel.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Reads SSE "data:" payloads with the time each arrived.</summary>
    private static async Task<List<(string Data, TimeSpan At)>> ReadEventsAsync(HttpResponseMessage response)
    {
        var clock = Stopwatch.StartNew();
        var events = new List<(string, TimeSpan)>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((line["data: ".Length..], clock.Elapsed));
            }
        }

        return events;
    }

    [Fact]
    public async Task Stream_OpenAiUpstream_RelaysEveryChunkThenDoneAndRecordsTheAnswer()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await SendStreamAsync(keel);
        var events = await ReadEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("[DONE]", events[^1].Data);
        var text = string.Concat(events.SkipLast(1).Select(e => (string?)JsonNode.Parse(e.Data)!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"]));
        Assert.Equal("fake reply to: one two three four five", text);

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.True(trace.Stream);
        Assert.NotNull(trace.TtftMs);
        Assert.True(trace.OutputTokens > 0);
        Assert.Equal("fake reply to: one two three four five", (string?)JsonNode.Parse(trace.ResponseBody!)!["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public async Task Stream_SlowUpstream_ChunksLeaveKeelAsTheyArrive()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { ChunkDelay = TimeSpan.FromMilliseconds(150) });

        using var response = await SendStreamAsync(keel);
        var events = await ReadEventsAsync(response);

        // 9 chunks 150 ms apart: if Keel buffered, they would all arrive at once at the end.
        var spread = events[^2].At - events[0].At;
        Assert.True(spread > TimeSpan.FromMilliseconds(800), $"chunks arrived within {spread.TotalMilliseconds} ms: buffered");
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.True(trace.TtftMs < trace.LatencyMs - 500, $"ttft {trace.TtftMs} vs latency {trace.LatencyMs}");
    }

    [Fact]
    public async Task Stream_UpstreamCutMidway_EndsWithSseErrorEventAndKeepsPartialOutput()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { CutAfterChunks = 3 });

        using var response = await SendStreamAsync(keel);
        var events = await ReadEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(events.Count == 4, string.Join("\n", events.Select(e => e.Data)));
        var error = JsonNode.Parse(events[^1].Data)!["error"]!;
        Assert.Equal("upstream_unreachable", (string?)error["code"]);
        Assert.DoesNotContain(events, e => e.Data == "[DONE]");

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(502, trace.StatusCode);
        Assert.Equal("fake reply", (string?)JsonNode.Parse(trace.ResponseBody!)!["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public async Task Stream_UpstreamEndsWithoutDone_EndsWithSseErrorEvent()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { EndWithoutDoneAfterChunks = 2 });

        using var response = await SendStreamAsync(keel);
        var events = await ReadEventsAsync(response);

        Assert.Equal(3, events.Count);
        Assert.Contains("ended before [DONE]", (string?)JsonNode.Parse(events[^1].Data)!["error"]!["message"]);
    }

    [Fact]
    public async Task Stream_MalformedChunk_EndsWithUpstreamInvalidError()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { MalformedJson = true });

        using var response = await SendStreamAsync(keel);
        var events = await ReadEventsAsync(response);

        Assert.Equal(2, events.Count);
        Assert.Equal("upstream_invalid_response", (string?)JsonNode.Parse(events[^1].Data)!["error"]!["code"]);
    }

    [Fact]
    public async Task Stream_UpstreamFailsBeforeFirstChunk_ClientGetsTheErrorStatus()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { CutAfterChunks = 0 });

        using var response = await SendStreamAsync(keel);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Stream_ClientDisconnects_CancelsTheUpstreamCall()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { ChunkDelay = TimeSpan.FromMilliseconds(500) });

        var response = await SendStreamAsync(keel);
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        Assert.True(await stream.ReadAsync(buffer) > 0);
        response.Dispose();

        for (var i = 0; i < 100 && fake.CancelledCount == 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, fake.CancelledCount);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(499, trace.StatusCode);
    }

    [Fact]
    public async Task Stream_ToolCallDeltas_AreRelayedAndReassembledInTheTrace()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.ToolCall = ("get_weather", """{"city":"Paris"}""");

        using var response = await SendStreamAsync(keel,
            """{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}""");
        var events = await ReadEventsAsync(response);

        Assert.Equal("[DONE]", events[^1].Data);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        var call = JsonNode.Parse(trace.ResponseBody!)!["choices"]![0]!["message"]!["tool_calls"]![0]!;
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("""{"city":"Paris"}""", (string?)call["function"]!["arguments"]);
        Assert.Equal("tool_calls", (string?)JsonNode.Parse(trace.ResponseBody!)!["choices"]![0]!["finish_reason"]);
    }
}
