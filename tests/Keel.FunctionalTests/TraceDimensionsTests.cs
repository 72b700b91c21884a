using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Keel.Core.Recording;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

/// <summary>Sessions, end users, tags and metadata on traces, and the OpenTelemetry GenAI attributes of the root span.</summary>
public sealed class TraceDimensionsTests
{
    private static async Task<TraceRecord> SendAsync(KeelTestServer keel, string body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await keel.Client.SendAsync(request);
        return await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
    }

    [Fact]
    public async Task Chat_KeelHeaders_SetSessionUserAndTagsAndWinOverTheBody()
    {
        await using var keel = await KeelTestServer.StartAsync();

        var trace = await SendAsync(
            keel,
            """{"model":"local/echo","user":"body-user","metadata":{"session_id":"body-session","tags":"from-body","team":"search"},"messages":[{"role":"user","content":"hi"}]}""",
            ("x-keel-session-id", "s-42"), ("x-keel-user-id", "u-7"), ("x-keel-tags", " prod , beta,prod,, "));

        Assert.Equal("s-42", trace.SessionId);
        Assert.Equal("u-7", trace.UserId);
        Assert.Equal(["prod", "beta", "from-body"], trace.Tags);
        Assert.Equal("search", trace.Metadata!.Value.GetProperty("team").GetString());
    }

    [Fact]
    public async Task Chat_NoHeaders_FallBackToMetadataAndTheUserField()
    {
        await using var keel = await KeelTestServer.StartAsync();

        var trace = await SendAsync(keel, """{"model":"local/echo","user":"end-user-1","metadata":{"session_id":"conv-9","tags":"a,b"},"messages":[{"role":"user","content":"hi"}]}""");
        var bare = await SendAsync(keel, """{"model":"local/echo","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal("conv-9", trace.SessionId);
        Assert.Equal("end-user-1", trace.UserId);
        Assert.Equal(["a", "b"], trace.Tags);
        Assert.Null(bare.SessionId);
        Assert.Null(bare.UserId);
        Assert.Null(bare.Tags);
        Assert.Null(bare.Metadata);
    }

    [Fact]
    public async Task Chat_RootSpan_CarriesGenAiSemanticConventionAttributes()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync($$"""
            providers:
              up: { kind: openai, base_url: "{{fake.BaseUrl}}" }
            models:
              chat: { provider: up, model: gpt-4o-mini }
            """);

        var trace = await SendAsync(
            keel,
            """{"model":"chat","temperature":0.2,"top_p":0.9,"max_tokens":64,"seed":7,"stop":["END"],"messages":[{"role":"user","content":"hi"}]}""",
            ("x-keel-session-id", "conv-1"), ("x-keel-user-id", "u-1"), ("x-keel-tags", "t1"));

        var root = trace.Spans.Single(s => s.Name == "gateway").Attributes;
        string? S(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        Assert.Equal("chat", S("gen_ai.operation.name"));
        Assert.Equal("chat", S("gen_ai.request.model"));
        Assert.Equal("gpt-4o-mini", S("gen_ai.response.model"));
        Assert.Equal("chatcmpl-fake", S("gen_ai.response.id"));
        Assert.Equal(["stop"], root.GetProperty("gen_ai.response.finish_reasons").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("openai", S("gen_ai.provider.name"));
        Assert.Equal("127.0.0.1", S("server.address"));
        Assert.Equal(0.2, root.GetProperty("gen_ai.request.temperature").GetDouble());
        Assert.Equal(0.9, root.GetProperty("gen_ai.request.top_p").GetDouble());
        Assert.Equal(64, root.GetProperty("gen_ai.request.max_tokens").GetInt32());
        Assert.Equal(7, root.GetProperty("gen_ai.request.seed").GetInt64());
        Assert.Equal(["END"], root.GetProperty("gen_ai.request.stop_sequences").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(trace.InputTokens, root.GetProperty("gen_ai.usage.input_tokens").GetInt32());
        Assert.Equal(trace.OutputTokens, root.GetProperty("gen_ai.usage.output_tokens").GetInt32());
        Assert.Equal(trace.CostUsd, root.GetProperty("keel.cost_usd").GetDouble());
        Assert.False(root.GetProperty("keel.cost_estimated").GetBoolean());
        Assert.Equal("conv-1", S("gen_ai.conversation.id"));
        Assert.Equal("conv-1", S("session.id"));
        Assert.Equal("u-1", S("user.id"));
        Assert.Equal(["t1"], root.GetProperty("keel.tags").EnumerateArray().Select(e => e.GetString()));
        var call = trace.Spans.Single(s => s.Name == "call").Attributes;
        Assert.Equal("openai", call.GetProperty("gen_ai.provider.name").GetString());
    }

    [Fact]
    public async Task Chat_Error_RootSpanHasErrorType()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Enqueue(new Fault { Status = 400 });
        await using var keel = await KeelTestServer.StartAsync($$"""
            providers:
              up: { kind: openai, base_url: "{{fake.BaseUrl}}" }
            models:
              chat: { provider: up }
            """);

        var trace = await SendAsync(keel, """{"model":"chat","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal("fake_400", trace.Spans.Single(s => s.Name == "gateway").Attributes.GetProperty("error.type").GetString());
    }
}
