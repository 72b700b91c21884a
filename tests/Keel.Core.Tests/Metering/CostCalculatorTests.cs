using System.Text.Json;
using Keel.Core.Metering;
using Keel.Core.Wire;

namespace Keel.Core.Tests.Metering;

public sealed class CostCalculatorTests
{
    private static readonly ModelPrice Gpt4oMini = new(0.15, 0.6, 0.075);

    private static Usage UsageOf(string json) => JsonSerializer.Deserialize(json, KeelJsonContext.Default.Usage)!;

    [Fact]
    public void Compute_PlainTokens_IsPricePerMillionTimesTokens()
    {
        // 1,000 in at $0.15/M + 500 out at $0.60/M = 0.00015 + 0.0003
        Assert.Equal(0.00045, CostCalculator.Compute(Gpt4oMini, 1_000, 0, 500), 12);
    }

    [Fact]
    public void Compute_CachedTokens_AreChargedAtTheCachedPrice()
    {
        // 10,000 prompt tokens of which 8,000 cached: 2,000 x 0.15 + 8,000 x 0.075 (+ 0 output) per 1M
        Assert.Equal(((2_000 * 0.15) + (8_000 * 0.075)) / 1e6, CostCalculator.Compute(Gpt4oMini, 10_000, 8_000, 0), 12);
    }

    [Fact]
    public void Compute_NoCachedPrice_CachedTokensCostTheInputPrice()
    {
        var noDiscount = new ModelPrice(2, 4);

        Assert.Equal(CostCalculator.Compute(noDiscount, 1_000, 0, 10), CostCalculator.Compute(noDiscount, 1_000, 900, 10), 12);
    }

    [Fact]
    public void Compute_MoreCachedThanPrompt_IsClampedToThePrompt()
    {
        Assert.Equal(CostCalculator.Compute(Gpt4oMini, 100, 100, 0), CostCalculator.Compute(Gpt4oMini, 100, 5_000, 0), 12);
    }

    [Fact]
    public void Meter_OpenAiUsageWithPromptTokensDetails_ReadsCachedTokens()
    {
        var usage = UsageOf("""{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}""");

        var metered = CostCalculator.Meter(Gpt4oMini, usage);

        Assert.Equal((2006, 1920, 300), (metered.InputTokens, metered.CachedInputTokens, metered.OutputTokens));
        Assert.Equal(((86 * 0.15) + (1920 * 0.075) + (300 * 0.6)) / 1e6, metered.CostUsd!.Value, 12);
        Assert.False(metered.Estimated);
    }

    [Fact]
    public void Meter_UnknownPrice_KeepsTokensWithoutCost()
    {
        var metered = CostCalculator.Meter(null, UsageOf("""{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}"""));

        Assert.Equal((10, 0, 5), (metered.InputTokens, metered.CachedInputTokens, metered.OutputTokens));
        Assert.Null(metered.CostUsd);
    }

    [Fact]
    public void MeterEstimate_CountedTokens_AreMarkedEstimated()
    {
        var metered = CostCalculator.MeterEstimate(Gpt4oMini, 1_000_000, 1_000_000);

        Assert.True(metered.Estimated);
        Assert.Equal(0.75, metered.CostUsd!.Value, 12);
    }

    [Theory]
    [InlineData("""{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}""", 0)]
    [InlineData("""{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":null}""", 0)]
    [InlineData("""{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":"x"}}""", 0)]
    [InlineData("""{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":7}}""", 7)]
    public void CachedTokens_UsageShapes_ReadWhatIsThere(string json, int expected) =>
        Assert.Equal(expected, CostCalculator.CachedTokens(UsageOf(json)));

    [Fact]
    public void Estimate_ChatWithoutUsage_CountsPromptAndAnswerWithTheUpstreamModel()
    {
        var request = JsonSerializer.Deserialize("""{"model":"fast","messages":[{"role":"user","content":"hello world"}]}""", KeelJsonContext.Default.ChatCompletionRequest)!;

        var (input, output) = UsageEstimator.Chat(request, "gpt-4o", "Hello! How can I help you today?");

        // gpt-4o (o200k_base): 3 + role "user" (1) + "hello world" (2) + 3 priming = 9; the answer is 9 tokens.
        Assert.Equal(9, input);
        Assert.Equal(9, output);
    }

    [Fact]
    public void AnswerText_CompletionBody_JoinsContentAndToolCalls()
    {
        var body = """{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}"""u8;

        Assert.Equal("hif{\"a\":1}", UsageEstimator.AnswerText(body));
        Assert.Equal("", UsageEstimator.AnswerText("not json"u8));
    }
}
