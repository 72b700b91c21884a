using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Core.Recording;
using Keel.Core.Tokenization;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

/// <summary>
/// What a call costs and how Keel learns its usage: streams are asked for usage upstream whatever the
/// client asked, and the client still sees exactly the stream it asked for.
/// </summary>
public sealed class CostAndUsageTests
{
    private const string Messages = """[{"role":"user","content":"one two three four five"}]""";

    // The fake reports prompt_tokens = len(messages JSON) / 4 and one completion token per word.
    private static readonly int FakePromptTokens = JsonNode.Parse(Messages)!.ToJsonString().Length / 4;
    private const int FakeCompletionTokens = 8; // "fake reply to: one two three four five"

    private static string Config(FakeProvider fake, string extraProvider = "") => $$"""
        providers:
          up: { kind: openai, base_url: "{{fake.BaseUrl}}"{{extraProvider}} }
        models:
          priced: { provider: up, model: gpt-4o-mini, price: { input: 2, output: 10, cached_input: 0.5 } }
          listed: { provider: up, model: gpt-4o-mini }
          unpriced: { provider: up, model: house-model }
          gpt-4o-mini: { provider: up }
        """;

    private static async Task<(HttpResponseMessage Response, List<string> Events)> StreamAsync(KeelTestServer keel, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        var response = await keel.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add(line["data: ".Length..]);
            }
        }

        return (response, events);
    }

    private static bool HasUsage(string sseData) =>
        sseData != "[DONE]" && JsonNode.Parse(sseData)!["usage"] is JsonObject;

    private static double Cost(int input, int cached, int output, double inPrice, double cachedPrice, double outPrice) =>
        (((input - cached) * inPrice) + (cached * cachedPrice) + (output * outPrice)) / 1e6;

    [Fact]
    public async Task Stream_ClientDidNotAskForUsage_UpstreamIsAskedAndTheClientSeesNoUsageChunk()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var body = $$"""{"model":"priced","stream":true,"messages":{{Messages}}}""";

        var (response, events) = await StreamAsync(keel, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((bool?)fake.Requests.Single().Json!["stream_options"]!["include_usage"]);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, HasUsage);
        Assert.All(events.SkipLast(1), e => Assert.NotEmpty(JsonNode.Parse(e)!["choices"]!.AsArray()));
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(FakePromptTokens, trace.InputTokens);
        Assert.Equal(FakeCompletionTokens, trace.OutputTokens);
        Assert.False(trace.CostEstimated);
        Assert.Equal(Cost(FakePromptTokens, 0, FakeCompletionTokens, 2, 0.5, 10), trace.CostUsd!.Value, 12);
    }

    [Fact]
    public async Task Stream_ClientAskedForUsage_ItsBytesGoUpstreamUntouchedAndItGetsTheUsageChunk()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        // The alias is the upstream model's name and nothing changes the request: its bytes are forwarded.
        var body = $$"""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":{{Messages}},"x_unknown":1}""";

        var (response, events) = await StreamAsync(keel, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstream = fake.Requests.Single();
        Assert.Equal(body, upstream.Body);
        var usage = JsonNode.Parse(Assert.Single(events, HasUsage))!["usage"]!;
        Assert.Equal(FakePromptTokens, (int)usage["prompt_tokens"]!);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(FakeCompletionTokens, trace.OutputTokens);
        // gpt-4o-mini's list price from the catalogue: $0.15 in, $0.60 out per 1M.
        Assert.Equal(Cost(FakePromptTokens, 0, FakeCompletionTokens, 0.15, 0.075, 0.6), trace.CostUsd!.Value, 12);
    }

    [Fact]
    public async Task Stream_ClientSaidIncludeUsageFalse_UpstreamStillAskedClientStillGetsNone()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var body = $$"""{"model":"listed","stream":true,"stream_options":{"include_usage":false,"keep":"me"},"messages":{{Messages}}}""";

        var (_, events) = await StreamAsync(keel, body);

        var options = fake.Requests.Single().Json!["stream_options"]!;
        Assert.True((bool?)options["include_usage"]);
        Assert.Equal("me", (string?)options["keep"]);
        Assert.DoesNotContain(events, HasUsage);
    }

    [Fact]
    public async Task Stream_ProviderWithStreamUsageOff_IsNotAskedAndTheCostIsEstimated()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake, ", stream_usage: false"));
        var body = $$"""{"model":"priced","stream":true,"messages":{{Messages}}}""";

        var (response, events) = await StreamAsync(keel, body);

        Assert.Null(fake.Requests.Single().Json!["stream_options"]);
        Assert.DoesNotContain(events, HasUsage);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.True(trace.CostEstimated);
        var request = System.Text.Json.JsonSerializer.Deserialize(body, Keel.Core.Wire.KeelJsonContext.Default.ChatCompletionRequest)!;
        var input = TokenCounter.CountPrompt(request, "gpt-4o-mini").Count;
        var output = TokenCounter.CountText("gpt-4o-mini", "fake reply to: one two three four five").Count;
        Assert.Equal(input, trace.InputTokens);
        Assert.Equal(output, trace.OutputTokens);
        Assert.Equal(Cost(input, 0, output, 2, 0.5, 10), trace.CostUsd!.Value, 12);
    }

    [Fact]
    public async Task Chat_UsageWithCachedTokens_ChargesThemAtTheCachedPrice()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.CachedTokens = 4;
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/v1/chat/completions", $$"""{"model":"priced","messages":{{Messages}}}""");

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(4, trace.CachedInputTokens);
        Assert.False(trace.CostEstimated);
        Assert.Equal(Cost(FakePromptTokens, 4, FakeCompletionTokens, 2, 0.5, 10), trace.CostUsd!.Value, 12);
        var root = trace.Spans.Single(s => s.Name == "gateway");
        Assert.Equal(4, root.Attributes.GetProperty("keel.usage.cached_input_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_UpstreamReportsNoUsage_TokensAreCountedAndTheCostMarkedEstimated()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.OmitUsage = true;
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var body = $$"""{"model":"listed","messages":{{Messages}}}""";

        using var response = await keel.PostJsonAsync("/v1/chat/completions", body);

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        var request = System.Text.Json.JsonSerializer.Deserialize(body, Keel.Core.Wire.KeelJsonContext.Default.ChatCompletionRequest)!;
        Assert.True(trace.CostEstimated);
        Assert.Equal(TokenCounter.CountPrompt(request, "gpt-4o-mini").Count, trace.InputTokens);
        Assert.Equal(TokenCounter.CountText("gpt-4o-mini", "fake reply to: one two three four five").Count, trace.OutputTokens);
        Assert.True(trace.CostUsd > 0);
    }

    [Fact]
    public async Task Chat_ModelWithoutPrice_HasTokensButNoCost()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/v1/chat/completions", $$"""{"model":"unpriced","messages":{{Messages}}}""");

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(FakePromptTokens, trace.InputTokens);
        Assert.Null(trace.CostUsd);
    }

    [Fact]
    public async Task Chat_UpstreamError_HasNoCost()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Enqueue(new Fault { Status = 400 });
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/v1/chat/completions", $$"""{"model":"priced","messages":{{Messages}}}""");

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(400, trace.StatusCode);
        Assert.Null(trace.CostUsd);
        Assert.Null(trace.InputTokens);
    }

    [Fact]
    public async Task Stream_AnthropicAndLocal_ClientWithoutIncludeUsageSeesNoUsageButTheTraceHasIt()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync($$"""
            providers:
              claude: { kind: anthropic, base_url: "{{fake.BaseUrl}}", api_key: sk-ant-test }
            models:
              sonnet: { provider: claude, model: claude-3-5-sonnet-20241022 }
            """);

        var (anthropic, anthropicEvents) = await StreamAsync(keel, $$"""{"model":"sonnet","stream":true,"messages":{{Messages}}}""");
        var (local, localEvents) = await StreamAsync(keel, $$"""{"model":"local/echo","stream":true,"messages":{{Messages}}}""");
        var (localAsked, localAskedEvents) = await StreamAsync(keel, $$"""{"model":"local/echo","stream":true,"stream_options":{"include_usage":true},"messages":{{Messages}}}""");

        Assert.DoesNotContain(anthropicEvents, HasUsage);
        Assert.DoesNotContain(localEvents, HasUsage);
        Assert.Single(localAskedEvents, HasUsage);
        var claude = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(anthropic));
        Assert.Equal((11, 8), (claude.InputTokens, claude.OutputTokens)); // the fake's message_start / message_delta usage
        Assert.Equal(((11 * 3.0) + (8 * 15.0)) / 1e6, claude.CostUsd!.Value, 12);
        var echo = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(local));
        Assert.True(echo.InputTokens > 0);
        Assert.Equal(0.0, echo.CostUsd);
        Assert.False(echo.CostEstimated);
        Assert.Equal(echo.OutputTokens, (await keel.GetTraceAsync(KeelTestServer.TraceIdOf(localAsked))).OutputTokens);
    }
}
