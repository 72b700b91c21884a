using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

/// <summary>OpenAI-format clients reaching an Anthropic upstream through Keel's translation.</summary>
public sealed class AnthropicGatewayTests
{
    private static string Config(FakeProvider fake) => $$"""
        providers:
          claude: { kind: anthropic, base_url: "{{fake.BaseUrl}}", api_key: sk-ant-test-secret-42 }
        models:
          fast: { provider: claude, model: claude-3-5-haiku-latest }
        """;

    [Fact]
    public async Task ChatCompletions_AnthropicProvider_TranslatesBothWays()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/v1/chat/completions",
            """{"model":"fast","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"hello claude"}],"max_tokens":100,"stop":"END"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(fake.Requests);
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Equal("sk-ant-test-secret-42", sent.Headers["x-api-key"]);
        Assert.Equal("claude-3-5-haiku-latest", (string?)sent.Json!["model"]);
        Assert.Equal("Be terse.", sent.Json["system"]!.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string?)sent.Json["system"] : (string?)sent.Json["system"]![0]!["text"]);
        Assert.Equal("END", (string?)sent.Json["stop_sequences"]![0]);

        var json = await KeelTestServer.ReadJsonAsync(response);
        Assert.Equal("chat.completion", (string?)json["object"]);
        Assert.Equal("fake reply to: hello claude", (string?)json["choices"]![0]!["message"]!["content"]);
        Assert.Equal("stop", (string?)json["choices"]![0]!["finish_reason"]);
        Assert.Equal(11, (int)json["usage"]!["prompt_tokens"]!);
        Assert.Equal(7, (int)json["usage"]!["completion_tokens"]!);

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal("claude", trace.Provider);
        Assert.Equal(11, trace.InputTokens);
    }

    [Fact]
    public async Task ChatCompletions_AnthropicToolUse_BecomesOpenAiToolCall()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.ToolCall = ("get_weather", """{"city":"Paris"}""");

        using var response = await keel.PostJsonAsync("/v1/chat/completions",
            """{"model":"fast","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"required"}""");

        var sent = Assert.Single(fake.Requests).Json!;
        Assert.Equal("get_weather", (string?)sent["tools"]![0]!["name"]);
        Assert.Equal("any", (string?)sent["tool_choice"]!["type"]);
        var choice = (await KeelTestServer.ReadJsonAsync(response))["choices"]![0]!;
        Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
        var call = choice["message"]!["tool_calls"]![0]!;
        Assert.Equal("toolu_fake1", (string?)call["id"]);
        Assert.Equal("Paris", (string?)JsonNode.Parse((string)call["function"]!["arguments"]!)!["city"]);
    }

    [Fact]
    public async Task Stream_AnthropicEvents_BecomeOpenAiChunksWithUsage()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b c"}]}""", Encoding.UTF8, "application/json"),
        };

        using var response = await keel.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();

        Assert.Equal("[DONE]", lines[^1]);
        var chunks = lines.SkipLast(1).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string?)c["object"]));
        Assert.Equal("fake reply to: a b c", string.Concat(chunks.Select(c => (string?)c["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"])));
        Assert.Contains(chunks, c => (string?)c["choices"]!.AsArray().FirstOrDefault()?["finish_reason"] == "stop");
        Assert.Equal(11, (int)chunks[^1]["usage"]!["prompt_tokens"]!);

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(11, trace.InputTokens);
        Assert.Equal("fake reply to: a b c", (string?)JsonNode.Parse(trace.ResponseBody!)!["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public async Task ChatCompletions_AnthropicOverloaded_PassesStatusAndMessage()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { Status = 529, Body = """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""" });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"fast","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(529, (int)response.StatusCode);
        var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;
        Assert.Equal("Overloaded", (string?)error["message"]);
        Assert.Equal("overloaded_error", (string?)error["type"]);
    }
}
