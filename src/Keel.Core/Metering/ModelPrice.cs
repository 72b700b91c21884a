namespace Keel.Core.Metering;

/// <summary>Where a deployment's price came from.</summary>
public enum PriceSource
{
    /// <summary>The price catalogue shipped with Keel (Metering/Data/prices.json).</summary>
    Catalogue,

    /// <summary>The deployment's <c>price</c> (or legacy <c>cost</c>) in keel.yaml.</summary>
    Config,

    /// <summary>Keel's built-in local provider: it costs nothing.</summary>
    Free,
}

/// <summary>USD per 1M tokens: input, output, and cached input (prompt tokens served from the provider's cache).</summary>
/// <param name="InputPer1M">USD per 1M input (prompt) tokens.</param>
/// <param name="OutputPer1M">USD per 1M output (completion) tokens.</param>
/// <param name="CachedInputPer1M">USD per 1M cached input tokens; null = no discount, they cost <paramref name="InputPer1M"/>.</param>
/// <param name="Source">Where the price came from.</param>
public sealed record ModelPrice(double InputPer1M, double OutputPer1M, double? CachedInputPer1M = null, PriceSource Source = PriceSource.Config)
{
    /// <summary>The price of the local provider's models.</summary>
    public static ModelPrice Free { get; } = new(0, 0, 0, PriceSource.Free);

    /// <summary>What a cached input token costs: the cached price, or the input price when the model has no discount.</summary>
    public double EffectiveCachedInputPer1M => CachedInputPer1M ?? InputPer1M;
}
