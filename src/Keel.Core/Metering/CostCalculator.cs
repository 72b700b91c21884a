using System.Text.Json;
using Keel.Core.Wire;

namespace Keel.Core.Metering;

/// <summary>The tokens of one call and what they cost.</summary>
/// <param name="InputTokens">Prompt tokens, cached ones included.</param>
/// <param name="CachedInputTokens">Prompt tokens the provider served from its prompt cache.</param>
/// <param name="OutputTokens">Completion tokens (reasoning tokens included, as providers bill them).</param>
/// <param name="CostUsd">USD; null when the model's price is unknown.</param>
/// <param name="Estimated">True when the tokens were counted by Keel because the provider reported no usage.</param>
public readonly record struct MeteredUsage(int InputTokens, int CachedInputTokens, int OutputTokens, double? CostUsd, bool Estimated);

/// <summary>Cost arithmetic: USD per 1M tokens times tokens, cached prompt tokens at their own price.</summary>
public static class CostCalculator
{
    /// <summary>
    /// USD for <paramref name="inputTokens"/> prompt tokens (of which <paramref name="cachedInputTokens"/>
    /// came from the provider's cache) and <paramref name="outputTokens"/> completion tokens.
    /// </summary>
    public static double Compute(ModelPrice price, long inputTokens, long cachedInputTokens, long outputTokens)
    {
        var input = Math.Max(0, inputTokens);
        var cached = Math.Clamp(cachedInputTokens, 0, input);
        var usd = ((input - cached) * price.InputPer1M) + (cached * price.EffectiveCachedInputPer1M) + (Math.Max(0, outputTokens) * price.OutputPer1M);
        return usd / 1_000_000d;
    }

    /// <summary>Meters a provider's usage report.</summary>
    public static MeteredUsage Meter(ModelPrice? price, Usage usage)
    {
        var cached = CachedTokens(usage);
        double? cost = price is null ? null : Compute(price, usage.PromptTokens, cached, usage.CompletionTokens);
        return new MeteredUsage(usage.PromptTokens, cached, usage.CompletionTokens, cost, Estimated: false);
    }

    /// <summary>Meters tokens Keel counted itself (no usage from the provider).</summary>
    public static MeteredUsage MeterEstimate(ModelPrice? price, int inputTokens, int outputTokens)
    {
        double? cost = price is null ? null : Compute(price, inputTokens, 0, outputTokens);
        return new MeteredUsage(inputTokens, 0, outputTokens, cost, Estimated: true);
    }

    /// <summary>
    /// <c>usage.prompt_tokens_details.cached_tokens</c> (OpenAI, DeepSeek, and Anthropic's cache reads
    /// as Keel translates them), or 0.
    /// </summary>
    public static int CachedTokens(Usage usage)
    {
        if (usage.Extra is { } extra
            && extra.TryGetValue("prompt_tokens_details", out var details)
            && details.ValueKind == JsonValueKind.Object
            && details.TryGetProperty("cached_tokens", out var cached)
            && cached.ValueKind == JsonValueKind.Number
            && cached.TryGetInt32(out var tokens))
        {
            return Math.Max(0, tokens);
        }

        return 0;
    }
}
