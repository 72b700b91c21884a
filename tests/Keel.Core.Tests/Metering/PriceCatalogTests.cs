using System.Text;
using System.Text.Json;
using Keel.Core.Configuration;
using Keel.Core.Metering;

namespace Keel.Core.Tests.Metering;

public sealed class PriceCatalogTests
{
    private static readonly PriceCatalog Catalog = PriceCatalog.Default;

    private static ProviderConfig Provider(string kind, string? baseUrl) => new() { Name = "p", Kind = kind, BaseUrl = baseUrl };

    [Fact]
    public void Default_EmbeddedFile_IsWellFormedWithDateSourceAndEveryFamily()
    {
        Assert.InRange(Catalog.AsOf, new DateOnly(2025, 1, 1), DateOnly.FromDateTime(DateTime.UtcNow));
        Assert.Contains("pricing page", Catalog.Source, StringComparison.Ordinal);
        var providers = Catalog.Entries.Select(e => e.Provider).ToHashSet();
        foreach (var family in new[] { "openai", "anthropic", "google", "mistral", "deepseek", "qwen", "groq", "together", "fireworks" })
        {
            Assert.Contains(family, providers);
        }

        Assert.Contains(Catalog.Entries, e => e.Model.Contains("llama", StringComparison.OrdinalIgnoreCase));
        foreach (var entry in Catalog.Entries)
        {
            Assert.InRange(entry.Price.InputPer1M, 0, 200);
            Assert.InRange(entry.Price.OutputPer1M, 0, 700);
            Assert.True(entry.Price.CachedInputPer1M is null || entry.Price.CachedInputPer1M <= entry.Price.InputPer1M, entry.Model);
            Assert.Equal(PriceSource.Catalogue, entry.Price.Source);
        }

        // No name (or alias) twice within one provider.
        foreach (var provider in Catalog.Entries.GroupBy(e => e.Provider))
        {
            var names = provider.SelectMany(e => e.Aliases.Prepend(e.Model)).Select(n => n.ToLowerInvariant()).ToList();
            Assert.Equal(names.Count, names.Distinct().Count());
        }
    }

    [Fact]
    public void Default_SourceFile_HasOnlyKnownFields()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "../../../../../src/Keel.Core/Metering/Data/prices.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));

        Assert.Equal(["as_of", "currency", "unit", "source", "notes", "providers"], document.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("USD", document.RootElement.GetProperty("currency").GetString());
        foreach (var model in document.RootElement.GetProperty("providers").EnumerateArray().SelectMany(p => p.GetProperty("models").EnumerateArray()))
        {
            Assert.All(model.EnumerateObject(), p => Assert.Contains(p.Name, new[] { "model", "input", "output", "cached_input", "aliases" }));
        }
    }

    [Theory]
    [InlineData("gpt-4o", 2.5, 10.0, 1.25)]
    [InlineData("gpt-4o-2024-08-06", 2.5, 10.0, 1.25)]          // dated snapshot -> base
    [InlineData("gpt-4o-2024-05-13", 5.0, 15.0, null)]          // its own entry wins
    [InlineData("GPT-4o-Mini", 0.15, 0.6, 0.075)]                // case
    [InlineData("gpt-4o-mini-2024-07-18", 0.15, 0.6, 0.075)]
    [InlineData("gpt-3.5-turbo-0125", 0.5, 1.5, null)]
    [InlineData("openai/gpt-4.1", 2.0, 8.0, 0.5)]                // provider prefix
    [InlineData("claude-3-5-sonnet-20241022", 3.0, 15.0, 0.3)]
    [InlineData("claude-3-5-haiku-latest", 0.8, 4.0, 0.08)]
    [InlineData("claude-sonnet-4-0", 3.0, 15.0, 0.3)]            // alias
    [InlineData("claude-3-5-sonnet@20240620", 3.0, 15.0, 0.3)]   // Vertex naming
    [InlineData("mistral-large-2411", 2.0, 6.0, null)]
    [InlineData("mistral-small-latest", 0.1, 0.3, null)]
    [InlineData("gemini-2.0-flash-001", 0.1, 0.4, 0.025)]
    [InlineData("models/gemini-2.5-pro", 1.25, 10.0, 0.31)]
    [InlineData("gemini-2.5-flash-preview-05-20", 0.3, 2.5, 0.075)]
    [InlineData("deepseek-chat", 0.28, 0.42, 0.028)]
    [InlineData("qwen-plus", 0.4, 1.2, null)]
    [InlineData("llama-3.3-70b-versatile", 0.59, 0.79, null)]    // a name only Groq uses
    public void Find_KnownModelWithoutHost_GivesItsListPrice(string model, double input, double output, double? cached)
    {
        var price = Catalog.Find(null, model);

        Assert.NotNull(price);
        Assert.Equal(input, price.InputPer1M);
        Assert.Equal(output, price.OutputPer1M);
        Assert.Equal(cached, price.CachedInputPer1M);
    }

    [Theory]
    [InlineData("my-own-model")]
    [InlineData("ft:gpt-4o-mini:acme::abc123")]   // fine-tunes are priced differently
    [InlineData("gpt-4o-realtime")]               // not a version suffix: no guess
    [InlineData("")]
    public void Find_UnknownModel_IsNull(string model) => Assert.Null(Catalog.Find(null, model));

    [Fact]
    public void Find_SameOpenModelOnTwoHosts_NeedsTheHostAndGivesEachHostsPrice()
    {
        const string model = "meta-llama/Llama-4-Scout-17B-16E-Instruct";

        var groq = Catalog.Resolve(Provider(ProviderKinds.OpenAi, "https://api.groq.com/openai/v1"), new DeploymentConfig { Provider = "p", Model = model.ToLowerInvariant() });
        var together = Catalog.Resolve(Provider(ProviderKinds.OpenAi, "https://api.together.xyz/v1"), new DeploymentConfig { Provider = "p", Model = model });
        var selfHosted = Catalog.Resolve(Provider(ProviderKinds.OpenAi, "http://10.0.0.5:8000/v1"), new DeploymentConfig { Provider = "p", Model = model });

        Assert.Equal((0.11, 0.34), (groq!.InputPer1M, groq.OutputPer1M));
        Assert.Equal((0.18, 0.59), (together!.InputPer1M, together.OutputPer1M));
        Assert.Null(selfHosted); // ambiguous across hosts, and a self-hosted model has no list price
    }

    [Fact]
    public void Resolve_ConfiguredPrice_WinsOverTheCatalogue()
    {
        var configured = new ModelPrice(1, 2, 0.5, PriceSource.Config);

        var price = Catalog.Resolve(Provider(ProviderKinds.OpenAi, "https://api.openai.com/v1"), new DeploymentConfig { Provider = "p", Model = "gpt-4o", Price = configured });

        Assert.Same(configured, price);
    }

    [Fact]
    public void Resolve_ProviderKinds_LocalIsFreeAzureUsesOpenAiPrices()
    {
        var local = Catalog.Resolve(new ProviderConfig { Name = "local", Kind = ProviderKinds.Local }, new DeploymentConfig { Provider = "local", Model = "echo" });
        var azure = Catalog.Resolve(Provider(ProviderKinds.Azure, "https://acme.openai.azure.com/openai"), new DeploymentConfig { Provider = "p", Model = "gpt-4o-mini" });
        var anthropic = Catalog.Resolve(Provider(ProviderKinds.Anthropic, "https://api.anthropic.com/v1"), new DeploymentConfig { Provider = "p", Model = "claude-3-7-sonnet-latest" });

        Assert.Equal(ModelPrice.Free, local);
        Assert.Equal(0.15, azure!.InputPer1M);
        Assert.Equal(3.0, anthropic!.InputPer1M);
    }

    [Theory]
    [InlineData("""{"source":"s","providers":[]}""", "as_of")]
    [InlineData("""{"as_of":"2025-13-01","source":"s","providers":[]}""", "as_of")]
    [InlineData("""{"as_of":"2025-01-01","source":"s","providers":[{"name":"x","models":[{"model":"m","input":-1,"output":1}]}]}""", "providers.x.models.m.input")]
    [InlineData("""{"as_of":"2025-01-01","source":"s","providers":[{"name":"x","models":[{"model":"m","input":1}]}]}""", "providers.x.models.m.output")]
    [InlineData("""{"as_of":"2025-01-01","source":"s","providers":[{"name":"x","models":[{"model":"m","input":1,"output":1,"cached_input":2}]}]}""", "cached_input")]
    public void Parse_BrokenCatalogue_SaysWhere(string json, string where)
    {
        var error = Assert.Throws<FormatException>(() => PriceCatalog.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Contains(where, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpt-4o-latest", "gpt-4o")]
    [InlineData("o3-mini-2025-01-31", "o3-mini")]
    [InlineData("claude-opus-4-20250514", "claude-opus-4")]
    [InlineData("gemini-1.5-pro-002", "gemini-1.5-pro")]
    [InlineData("gemini-2.0-flash-exp-01-21", "gemini-2.0-flash")]
    [InlineData("gpt-4o", null)]
    [InlineData("llama-3.1-8b-instant", null)]
    public void StripVersionSuffix_Names_DropOnlyVersionParts(string name, string? expected) =>
        Assert.Equal(expected, PriceCatalog.StripVersionSuffix(name));
}
