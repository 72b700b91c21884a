using System.Text.Json;
using Keel.Core.Tokenization;
using Keel.Core.Wire;

namespace Keel.Core.Tests.Tokenization;

public sealed class TokenCounterTests
{
    // The chat example of OpenAI's cookbook ("How to count tokens with tiktoken"), whose counts the
    // cookbook checked against the API: 129 prompt tokens for gpt-3.5-turbo and gpt-4, 124 for gpt-4o.
    private const string CookbookExample = """
        {"messages":[
          {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
          {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
          {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
          {"role":"system","name":"example_user","content":"Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
          {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
          {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]}
        """;

    [Theory]
    [InlineData("gpt-4", 129, "cl100k_base")]
    [InlineData("gpt-4-0613", 129, "cl100k_base")]
    [InlineData("gpt-3.5-turbo", 129, "cl100k_base")]
    [InlineData("gpt-4o", 124, "o200k_base")]
    [InlineData("gpt-4o-mini", 124, "o200k_base")]
    public void CountMessages_CookbookExample_MatchesTheApi(string model, int expected, string encoding)
    {
        var request = Parse(CookbookExample);

        var count = TokenCounter.CountMessages(model, request.Messages!);

        Assert.Equal(new TokenCount(expected, false, encoding), count);
    }

    [Fact]
    public void CountMessages_OneUserMessage_AddsTheOverhead()
    {
        // 3 per message + "user" (1) + "hello world" (2) + 3 to prime the reply.
        var count = TokenCounter.CountMessages("gpt-4o", [new ChatMessage { Role = "user", Content = new MessageContent("hello world") }]);

        Assert.Equal(9, count.Count);
        Assert.False(count.IsEstimate);
    }

    [Fact]
    public void CountMessages_Name_AddsItsTokensAndOne()
    {
        var without = TokenCounter.CountMessages("gpt-4o", [new ChatMessage { Role = "user", Content = new MessageContent("hi") }]);
        var with = TokenCounter.CountMessages("gpt-4o", [new ChatMessage { Role = "user", Name = "bob", Content = new MessageContent("hi") }]);

        Assert.Equal(without.Count + BpeTokenizer.O200kBase.CountTokens("bob") + 1, with.Count);
    }

    [Fact]
    public void CountMessages_NoMessages_OnlyThePriming()
    {
        Assert.Equal(3, TokenCounter.CountMessages("gpt-4o", []).Count);
    }

    [Fact]
    public void CountMessages_TextParts_CountedLikeText()
    {
        var request = Parse("""{"messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"text","text":" world"}]}]}""");

        var count = TokenCounter.CountMessages("gpt-4o", request.Messages!);

        Assert.Equal(3 + 1 + 1 + 1 + 3, count.Count);
        Assert.False(count.IsEstimate);
    }

    [Fact]
    public void CountMessages_ImagePart_IsAnEstimate()
    {
        var request = Parse("""{"messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}""");

        var count = TokenCounter.CountMessages("gpt-4o", request.Messages!);

        Assert.True(count.IsEstimate);
        Assert.Equal(3 + 1 + 1 + TokenCounter.ImageTokensEstimate + 3, count.Count);
    }

    [Fact]
    public void CountPrompt_ToolCallsAndTools_AreEstimates()
    {
        var request = Parse("""
            {"model":"gpt-4o","messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"c1","content":"sunny"}],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
            """);
        var withoutTools = Parse("""{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"}]}""");

        var count = TokenCounter.CountPrompt(request);

        Assert.True(count.IsEstimate);
        Assert.Equal("o200k_base", count.Encoding);
        Assert.True(count.Count > TokenCounter.CountPrompt(withoutTools).Count + 20);
        Assert.False(TokenCounter.CountPrompt(withoutTools).IsEstimate);
    }

    [Theory]
    [InlineData("claude-3-5-haiku-latest")]
    [InlineData("llama3.1:8b")]
    [InlineData(null)]
    [InlineData("")]
    public void CountPrompt_OtherModels_EstimateWithO200k(string? model)
    {
        var request = Parse(CookbookExample);
        request.Model = model;

        var count = TokenCounter.CountPrompt(request);

        Assert.Equal(new TokenCount(124, true, "o200k_base"), count);
    }

    [Theory]
    [InlineData("gpt-4o", "o200k_base")]
    [InlineData("gpt-4o-mini-2024-07-18", "o200k_base")]
    [InlineData("chatgpt-4o-latest", "o200k_base")]
    [InlineData("gpt-4.1-nano", "o200k_base")]
    [InlineData("gpt-4.5-preview", "o200k_base")]
    [InlineData("gpt-5", "o200k_base")]
    [InlineData("gpt-5-mini-2025-08-07", "o200k_base")]
    [InlineData("o1", "o200k_base")]
    [InlineData("o1-mini", "o200k_base")]
    [InlineData("o3-mini-2025-01-31", "o200k_base")]
    [InlineData("o4-mini", "o200k_base")]
    [InlineData("openai/gpt-4o", "o200k_base")]
    [InlineData("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base")]
    [InlineData("GPT-4O", "o200k_base")]
    [InlineData("gpt-4", "cl100k_base")]
    [InlineData("gpt-4-turbo-2024-04-09", "cl100k_base")]
    [InlineData("gpt-4-32k", "cl100k_base")]
    [InlineData("gpt-3.5-turbo-0125", "cl100k_base")]
    [InlineData("gpt-35-turbo", "cl100k_base")]
    [InlineData("text-embedding-3-small", "cl100k_base")]
    [InlineData("text-embedding-ada-002", "cl100k_base")]
    [InlineData("ft:gpt-3.5-turbo:acme::x", "cl100k_base")]
    [InlineData("o1x", null)]
    [InlineData("gpt-4x", null)]
    [InlineData("claude-sonnet-4", null)]
    [InlineData("local/echo", null)]
    [InlineData(null, null)]
    public void EncodingForModel_KnownFamilies(string? model, string? expected)
    {
        Assert.Equal(expected, TokenCounter.EncodingForModel(model));
    }

    [Fact]
    public void CountText_OpenAiModel_IsExact()
    {
        Assert.Equal(new TokenCount(2, false, "cl100k_base"), TokenCounter.CountText("gpt-4", "hello world"));
        Assert.Equal(new TokenCount(2, true, "o200k_base"), TokenCounter.CountText("mistral-large", "hello world"));
    }

    private static ChatCompletionRequest Parse(string json) =>
        JsonSerializer.Deserialize(json, KeelJsonContext.Default.ChatCompletionRequest)!;
}
