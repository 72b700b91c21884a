using System.Collections.Frozen;
using Keel.Core.Configuration;

namespace Keel.Core.Routing;

/// <summary>Picks one deployment among the candidates (all selectable: breaker closed or probing, capacity left).</summary>
public interface IBalancingPolicy
{
    string Name { get; }

    Deployment Pick(IReadOnlyList<Deployment> candidates, ModelRoute route, Random random);
}

/// <summary>The strategies by name, resolved once.</summary>
public sealed class BalancingPolicies
{
    private readonly FrozenDictionary<string, IBalancingPolicy> _byName;

    public BalancingPolicies(IEnumerable<IBalancingPolicy>? policies = null)
    {
        _byName = (policies ?? Defaults()).ToFrozenDictionary(p => p.Name, StringComparer.Ordinal);
    }

    public static IEnumerable<IBalancingPolicy> Defaults() =>
        [new WeightedPolicy(), new RoundRobinPolicy(), new LeastBusyPolicy(), new LowestLatencyPolicy(), new CostPolicy()];

    public IBalancingPolicy Get(string name) =>
        _byName.TryGetValue(name, out var policy) ? policy : throw new KeyNotFoundException($"No balancing strategy '{name}'; the config validator should have refused it.");

    internal static Deployment WeightedPick(IReadOnlyList<Deployment> candidates, Random random)
    {
        double total = 0;
        foreach (var d in candidates)
        {
            total += d.Config.Weight;
        }

        if (total <= 0)
        {
            return candidates[random.Next(candidates.Count)];
        }

        var point = random.NextDouble() * total;
        foreach (var d in candidates)
        {
            point -= d.Config.Weight;
            if (point < 0)
            {
                return d;
            }
        }

        return candidates[^1];
    }
}

/// <summary>Random in proportion to the weights.</summary>
internal sealed class WeightedPolicy : IBalancingPolicy
{
    public string Name => BalancingStrategies.Weighted;

    public Deployment Pick(IReadOnlyList<Deployment> candidates, ModelRoute route, Random random) =>
        BalancingPolicies.WeightedPick(candidates, random);
}

/// <summary>Each deployment in turn (weights are ignored).</summary>
internal sealed class RoundRobinPolicy : IBalancingPolicy
{
    public string Name => BalancingStrategies.RoundRobin;

    public Deployment Pick(IReadOnlyList<Deployment> candidates, ModelRoute route, Random random) =>
        candidates[(int)(route.State.NextCursor() % candidates.Count)];
}

/// <summary>Fewest calls in flight; ties broken at random so equal deployments share the load.</summary>
internal sealed class LeastBusyPolicy : IBalancingPolicy
{
    public string Name => BalancingStrategies.LeastBusy;

    public Deployment Pick(IReadOnlyList<Deployment> candidates, ModelRoute route, Random random)
    {
        Deployment? best = null;
        var ties = 0;
        foreach (var d in candidates)
        {
            var busy = d.State.InFlight;
            if (best is null || busy < best.State.InFlight)
            {
                best = d;
                ties = 1;
            }
            else if (busy == best.State.InFlight && random.Next(++ties) == 0)
            {
                best = d;
            }
        }

        return best!;
    }
}

/// <summary>
/// Lowest moving-average latency. Deployments never measured, or not measured for a while (e.g.
/// one that just recovered), are tried first, and a small share of calls explores at random, so
/// the averages stay true.
/// </summary>
internal sealed class LowestLatencyPolicy : IBalancingPolicy
{
    public const double Exploration = 0.05;
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(30);

    public string Name => BalancingStrategies.LowestLatency;

    public Deployment Pick(IReadOnlyList<Deployment> candidates, ModelRoute route, Random random)
    {
        var stale = candidates.Where(d => d.State.LatencyAge > StaleAfter).ToList();
        if (stale.Count > 0)
        {
            return stale[random.Next(stale.Count)];
        }

        if (candidates.Count > 1 && random.NextDouble() < Exploration)
        {
            return candidates[random.Next(candidates.Count)];
        }

        var best = candidates[0];
        foreach (var d in candidates)
        {
            if (d.State.LatencyMs < best.State.LatencyMs)
            {
                best = d;
            }
        }

        return best;
    }
}

/// <summary>
/// Cheapest by input + output price (the configured price, else the catalogue's); deployments whose
/// price is unknown come last.
/// </summary>
internal sealed class CostPolicy : IBalancingPolicy
{
    public string Name => BalancingStrategies.Cost;

    public Deployment Pick(IReadOnlyList<Deployment> candidates, ModelRoute route, Random random)
    {
        var cheapest = candidates.Min(Price);
        var ties = candidates.Where(d => Price(d) == cheapest).ToList();
        return ties.Count == 1 ? ties[0] : BalancingPolicies.WeightedPick(ties, random);
    }

    private static double Price(Deployment d) => d.Price is { } price ? price.InputPer1M + price.OutputPer1M : double.MaxValue;
}
