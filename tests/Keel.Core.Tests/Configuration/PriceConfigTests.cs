using Keel.Core.Configuration;
using Keel.Core.Metering;

namespace Keel.Core.Tests.Configuration;

public sealed class PriceConfigTests
{
    private static ConfigLoadResult Parse(string models) =>
        ConfigLoader.Parse($"providers:\n  openai: {{ kind: openai }}\nmodels:\n{models}", "keel.yaml", _ => null);

    [Fact]
    public void Parse_PriceOnASingleDeployment_OverridesTheCatalogue()
    {
        var result = Parse("  mini: { provider: openai, model: gpt-4o-mini, price: { input: 0.1, output: 0.5, cached_input: 0.02 } }\n");

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(new ModelPrice(0.1, 0.5, 0.02, PriceSource.Config), result.Config!.Models["mini"].Deployments[0].Price);
    }

    [Fact]
    public void Parse_PriceInADeploymentList_IsReadPerDeployment()
    {
        var result = Parse("""
              chat:
                deployments:
                  - { provider: openai, model: gpt-4o, price: { input: 2, output: 8 } }
                  - { provider: openai, model: gpt-4o-mini }
            """ + "\n");

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(new ModelPrice(2, 8, null, PriceSource.Config), result.Config!.Models["chat"].Deployments[0].Price);
        Assert.Null(result.Config.Models["chat"].Deployments[1].Price);
    }

    [Fact]
    public void Parse_LegacyCost_StillValidAndMeansTheSame()
    {
        var result = Parse("""
              chat:
                strategy: cost
                deployments:
                  - { provider: openai, model: a, cost: { input: 0.1, output: 0.4 } }
                  - { provider: openai, model: b, cost: { input: 1 } }
            """ + "\n");

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(new ModelPrice(0.1, 0.4, null, PriceSource.Config), result.Config!.Models["chat"].Deployments[0].Price);
        Assert.Equal(new ModelPrice(1, 0, null, PriceSource.Config), result.Config.Models["chat"].Deployments[1].Price);
    }

    [Fact]
    public void Parse_BadPrices_ReportFileLineAndField()
    {
        var result = Parse("""
              a: { provider: openai, price: { input: cheap, output: 1 } }
              b: { provider: openai, price: { input: 1 } }
              c: { provider: openai, price: { input: 1, output: 2, cached_input: 3 } }
              d: { provider: openai, price: { input: 1, output: 2, discount: 3 } }
              e:
                deployments:
                  - { provider: openai, model: x, price: { input: 1, output: 2 }, cost: { input: 1 } }
              f:
                price: { input: 1, output: 2 }
                deployments:
                  - { provider: openai, model: y }
            """ + "\n");

        Assert.False(result.Success);
        var errors = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.StartsWith("keel.yaml:4:", StringComparison.Ordinal) && e.Contains("models.a.price.input: 'cheap' must be a number", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("keel.yaml:5:", StringComparison.Ordinal) && e.Contains("models.b.price.output: is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("keel.yaml:6:", StringComparison.Ordinal) && e.Contains("models.c.price.cached_input: 3 is more than input 1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("keel.yaml:7:", StringComparison.Ordinal) && e.Contains("models.d.price.discount: unknown field 'discount'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("keel.yaml:10:", StringComparison.Ordinal) && e.Contains("models.e.deployments[0].cost: give 'price' or the older 'cost', not both", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("keel.yaml:12:", StringComparison.Ordinal) && e.Contains("models.f.price: with 'deployments', give each deployment its own price", StringComparison.Ordinal));
        Assert.Equal(6, errors.Count);
    }

    [Fact]
    public void Parse_StreamUsage_DefaultsOnAndCanBeTurnedOff()
    {
        var result = ConfigLoader.Parse("providers:\n  a: { kind: openai }\n  b: { kind: openai, base_url: \"http://h/v1\", stream_usage: false }\n", "keel.yaml", _ => null);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.True(result.Config!.Providers["a"].StreamUsage);
        Assert.False(result.Config.Providers["b"].StreamUsage);
    }

    [Fact]
    public void Snapshot_Deployments_CarryTheResolvedPrice()
    {
        var config = Parse("""
              mini: { provider: openai, model: gpt-4o-mini }
              mine: { provider: openai, model: gpt-4o-mini, price: { input: 9, output: 9 } }
              odd: { provider: openai, model: house-model }
            """ + "\n").Config!;

        var snapshot = new Keel.Core.Providers.GatewaySnapshot(config, new Keel.Core.Providers.ProviderFactory(TimeProvider.System).Create);

        Assert.Equal(new ModelPrice(0.15, 0.6, 0.075, PriceSource.Catalogue), snapshot.Models["mini"].Deployments[0].Price);
        Assert.Equal(9, snapshot.Models["mine"].Deployments[0].Price!.InputPer1M);
        Assert.Null(snapshot.Models["odd"].Deployments[0].Price);
        Assert.Equal("openai", snapshot.Models["mini"].Deployments[0].GenAiProvider);
        Assert.Equal("api.openai.com", snapshot.Models["mini"].Deployments[0].ServerAddress);
    }
}
