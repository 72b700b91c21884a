using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

public sealed class LocalProviderTests
{
    [Fact]
    public async Task ChatCompletions_LocalEcho_AnswersWithLastUserMessageAndRecordsTrace()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var response = await keel.PostJsonAsync("/v1/chat/completions",
            """{"model":"local/echo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Hello, Keel — 你好"}]}""");

        Assert.Equal(200, (int)response.StatusCode);
        var json = await KeelTestServer.ReadJsonAsync(response);
        Assert.Equal("chat.completion", (string?)json["object"]);
        Assert.Equal("Hello, Keel — 你好", (string?)json["choices"]![0]!["message"]!["content"]);
        Assert.Equal("stop", (string?)json["choices"]![0]!["finish_reason"]);

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal("local/echo", trace.Model);
        Assert.Equal("local", trace.Provider);
        Assert.Equal(200, trace.StatusCode);
        Assert.True(trace.InputTokens > 0);
        Assert.Contains("你好", trace.RequestBody);
        Assert.Equal(["gateway", "identity", "ingress", "resolve", "call", "attempt"], trace.Spans.Select(s => s.Name)); // stages with nothing to do (prompt, guardrails) leave no span
    }

    [Fact]
    public async Task ChatCompletions_LocalExtractive_QuotesTheRelevantSentenceAndSaysItIsNonGenerative()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var body = new JsonObject
        {
            ["model"] = "local/extractive",
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = "The office opens at 9am. Parking is free on weekends. The cafeteria serves vegan lunches on Fridays." },
                new JsonObject { ["role"] = "user", ["content"] = "When is parking free?" }),
        };

        using var response = await keel.PostJsonAsync("/v1/chat/completions", body.ToJsonString());

        var content = (string)(await KeelTestServer.ReadJsonAsync(response))["choices"]![0]!["message"]!["content"]!;
        Assert.StartsWith("[non-generative", content);
        Assert.Contains("Parking is free on weekends.", content);
        Assert.DoesNotContain("cafeteria", content);
    }

    [Fact]
    public async Task Embeddings_HashEmbed_IsDeterministicNormalisedAndHonoursDimensions()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var first = await keel.PostJsonAsync("/v1/embeddings", """{"model":"local/hash-embed","input":["the cat sat","the cat sat"],"dimensions":64}""");
        var json = await KeelTestServer.ReadJsonAsync(first);

        var a = json["data"]![0]!["embedding"]!.AsArray().Select(v => (double)v!).ToArray();
        var b = json["data"]![1]!["embedding"]!.AsArray().Select(v => (double)v!).ToArray();
        Assert.Equal(64, a.Length);
        Assert.Equal(a, b);
        Assert.Equal(1.0, Math.Sqrt(a.Sum(x => x * x)), 5);
    }
}
