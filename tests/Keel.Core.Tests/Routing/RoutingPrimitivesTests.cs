using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Providers;
using Keel.Core.Routing;
using Keel.Tests.Common;

namespace Keel.Core.Tests.Routing;

public sealed class CircuitBreakerTests
{
    private static readonly BreakerConfig Config = new() { FailureRatio = 0.5, MinRequests = 4, Window = TimeSpan.FromSeconds(10), Cooldown = TimeSpan.FromSeconds(5) };

    private static void Call(CircuitBreaker breaker, bool success)
    {
        Assert.True(breaker.TryAcquire(out var probe));
        breaker.Record(success, probe);
    }

    [Fact]
    public void Record_FailureRatioReachedWithEnoughCalls_Opens()
    {
        var time = new TestTimeProvider();
        var breaker = new CircuitBreaker(Config, time);

        Call(breaker, true);
        Call(breaker, false);
        Call(breaker, true);
        Assert.Equal(BreakerState.Closed, breaker.State);
        Call(breaker, false);

        Assert.Equal(BreakerState.Open, breaker.State);
        Assert.False(breaker.IsSelectable);
        Assert.False(breaker.TryAcquire(out _));
    }

    [Fact]
    public void Record_FailuresBelowMinimumCalls_StaysClosed()
    {
        var breaker = new CircuitBreaker(Config, new TestTimeProvider());

        Call(breaker, false);
        Call(breaker, false);
        Call(breaker, false);

        Assert.Equal(BreakerState.Closed, breaker.State);
    }

    [Fact]
    public void Record_OldFailuresOutsideTheWindow_AreForgotten()
    {
        var time = new TestTimeProvider();
        var breaker = new CircuitBreaker(Config, time);
        Call(breaker, false);
        Call(breaker, false);
        Call(breaker, false);

        time.Advance(TimeSpan.FromSeconds(11));
        Call(breaker, false);

        Assert.Equal(BreakerState.Closed, breaker.State);
    }

    [Fact]
    public void TryAcquire_AfterCooldown_AllowsExactlyOneProbeAndItsSuccessCloses()
    {
        var time = new TestTimeProvider();
        var breaker = new CircuitBreaker(Config, time);
        for (var i = 0; i < 4; i++)
        {
            Call(breaker, false);
        }

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(BreakerState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire(out var probe));
        Assert.True(probe);
        Assert.False(breaker.IsSelectable);
        Assert.False(breaker.TryAcquire(out _));

        breaker.Record(true, probe);

        Assert.Equal(BreakerState.Closed, breaker.State);
        Assert.True(breaker.TryAcquire(out var notProbe));
        Assert.False(notProbe);
    }

    [Fact]
    public void Record_ProbeFails_ReopensForAnotherCooldown()
    {
        var time = new TestTimeProvider();
        var breaker = new CircuitBreaker(Config, time);
        for (var i = 0; i < 4; i++)
        {
            Call(breaker, false);
        }

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(breaker.TryAcquire(out var probe));
        breaker.Record(false, probe);

        Assert.Equal(BreakerState.Open, breaker.State);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(breaker.IsSelectable);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(breaker.IsSelectable);
        Assert.Equal(2, breaker.TimesOpened);
    }
}

public sealed class RetryBudgetTests
{
    [Fact]
    public void TryAcquireRetry_BeyondTheRatioOfRequests_IsRefused()
    {
        var budget = new RetryBudget(new TestTimeProvider());
        for (var i = 0; i < 1000; i++)
        {
            budget.RecordRequest();
        }

        var granted = 0;
        while (budget.TryAcquireRetry(0.2) && granted < 10_000)
        {
            granted++;
        }

        Assert.Equal(200, granted);
    }

    [Fact]
    public void TryAcquireRetry_QuietTraffic_StillHasTheFloor()
    {
        var budget = new RetryBudget(new TestTimeProvider());
        budget.RecordRequest();

        var granted = 0;
        while (budget.TryAcquireRetry(0.2) && granted < 100)
        {
            granted++;
        }

        Assert.Equal(RetryBudget.MinRetriesPerWindow, granted);
    }

    [Fact]
    public void TryAcquireRetry_AfterTheWindow_IsReplenished()
    {
        var time = new TestTimeProvider();
        var budget = new RetryBudget(time);
        for (var i = 0; i < RetryBudget.MinRetriesPerWindow; i++)
        {
            Assert.True(budget.TryAcquireRetry(0.2));
        }

        Assert.False(budget.TryAcquireRetry(0.2));
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.True(budget.TryAcquireRetry(0.2));
    }
}

public sealed class BalancingPolicyTests
{
    private static (ModelRoute Route, List<Deployment> Deployments, TestTimeProvider Time) Route(string strategy, params DeploymentConfig[] deployments)
    {
        var time = new TestTimeProvider();
        var providers = deployments.Select(d => d.Provider).Distinct().Select(p => $"  {p}: {{ kind: openai, base_url: \"http://127.0.0.1:9/v1\" }}");
        var config = ConfigLoader.Parse($"providers:\n{string.Join("\n", providers)}\n", "t.yaml", _ => null).Config!;
        var model = new ModelConfig { Alias = "r", Deployments = deployments, Strategy = strategy };
        var snapshot = new GatewaySnapshot(config, new ProviderFactory(time).Create, new RouteStateRegistry(time));
        var route = snapshot.BuildRoute(model);
        return (route, [.. route.Deployments], time);
    }

    private static DeploymentConfig D(string provider, double weight = 1, double? cost = null) =>
        new() { Provider = provider, Model = "m", Weight = weight, Price = cost is { } c ? new Keel.Core.Metering.ModelPrice(c, c) : null };

    [Fact]
    public void Weighted_ManyPicks_FollowTheWeights()
    {
        var (route, deployments, _) = Route(BalancingStrategies.Weighted, D("a", 3), D("b", 1));
        var random = new Random(42);

        var a = Enumerable.Range(0, 20_000).Count(_ => route.Policy.Pick(deployments, route, random) == deployments[0]);

        Assert.InRange(a / 20_000.0, 0.74, 0.76);
    }

    [Fact]
    public void RoundRobin_Picks_CycleThroughAll()
    {
        var (route, deployments, _) = Route(BalancingStrategies.RoundRobin, D("a"), D("b"), D("c"));

        var picks = Enumerable.Range(0, 6).Select(_ => route.Policy.Pick(deployments, route, new Random(1)).Provider.Name);

        Assert.Equal(["a", "b", "c", "a", "b", "c"], picks);
    }

    [Fact]
    public void LeastBusy_Pick_TakesTheFewestInFlight()
    {
        var (route, deployments, _) = Route(BalancingStrategies.LeastBusy, D("a"), D("b"), D("c"));
        deployments[0].State.Begin();
        deployments[0].State.Begin();
        deployments[2].State.Begin();

        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal("b", route.Policy.Pick(deployments, route, Random.Shared).Provider.Name));
    }

    [Fact]
    public void LowestLatency_Pick_PrefersTheFastestButExploresStaleOnes()
    {
        var (route, deployments, time) = Route(BalancingStrategies.LowestLatency, D("fast"), D("slow"));
        deployments[0].State.Begin();
        deployments[0].State.End(true, 50, 0);
        deployments[1].State.Begin();
        deployments[1].State.End(true, 400, 0);
        var random = new Random(7);

        var fast = Enumerable.Range(0, 1000).Count(_ => route.Policy.Pick(deployments, route, random).Provider.Name == "fast");
        Assert.InRange(fast, 950, 999);

        // "fast" keeps being measured; "slow" has not been for a while (it may have recovered): it is tried again.
        time.Advance(TimeSpan.FromSeconds(31));
        deployments[0].State.Begin();
        deployments[0].State.End(true, 50, 0);
        Assert.Equal("slow", route.Policy.Pick(deployments, route, random).Provider.Name);
    }

    [Fact]
    public void Cost_Pick_TakesTheCheapestAndUnpricedLast()
    {
        var (route, deployments, _) = Route(BalancingStrategies.Cost, D("unpriced"), D("dear", cost: 5), D("cheap", cost: 0.1));

        Assert.Equal("cheap", route.Policy.Pick(deployments, route, Random.Shared).Provider.Name);
        Assert.Equal("dear", route.Policy.Pick(deployments[..2], route, Random.Shared).Provider.Name);
    }
}

public sealed class ErrorClassifierTests
{
    [Theory]
    [InlineData(429, null, "Rate limit reached", ErrorClasses.RateLimit)]
    [InlineData(500, null, "boom", ErrorClasses.ServerError)]
    [InlineData(529, "overloaded_error", "Overloaded", ErrorClasses.ServerError)]
    [InlineData(504, "upstream_timeout", "slow", ErrorClasses.Timeout)]
    [InlineData(502, "upstream_unreachable", "refused", ErrorClasses.Connection)]
    [InlineData(502, "upstream_invalid_response", "not json", ErrorClasses.ServerError)]
    [InlineData(400, "context_length_exceeded", "too long", ErrorClasses.ContextLength)]
    [InlineData(400, null, "prompt is too long: 210000 tokens > 200000 maximum", ErrorClasses.ContextLength)]
    [InlineData(400, "content_filter", "filtered", ErrorClasses.ContentPolicy)]
    [InlineData(400, "invalid_value", "bad role", ErrorClasses.Client)]
    [InlineData(401, "invalid_api_key", "bad key", ErrorClasses.Client)]
    public void Classify_UpstreamError_GivesItsClass(int status, string? code, string message, ErrorClasses expected)
    {
        Assert.Equal(expected, ErrorClassifier.Classify(new GatewayError(status, "t", code, message)));
    }
}

public sealed class RouteConfigTests
{
    private const string Providers = "providers:\n  openai: { kind: openai, timeout: 45s }\n  azure: { kind: azure, base_url: https://x.openai.azure.com/openai, api_version: 2024-10-21 }\n";

    [Fact]
    public void Parse_IssueContractExample_LoadsTheRoute()
    {
        var yaml = Providers + """
            models:
              chat:
                strategy: least-busy        # weighted | round-robin | least-busy | lowest-latency | cost
                deployments:
                  - { provider: openai, model: gpt-4o-mini, weight: 3 }
                  - { provider: azure, model: gpt-4o-mini, weight: 1, rpm: 600 }
                fallbacks: [chat-backup]
                retries: 2
                timeouts: { connect: 2s, first_token: 10s, total: 60s }
              chat-backup: { provider: openai, model: gpt-4.1-mini }
            """;

        var result = ConfigLoader.Parse(yaml, "k.yaml", _ => null);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        var chat = result.Config!.Models["chat"];
        Assert.Equal(BalancingStrategies.LeastBusy, chat.Strategy);
        Assert.Equal(2, chat.Deployments.Count);
        Assert.Equal(3, chat.Deployments[0].Weight);
        Assert.Equal(600, chat.Deployments[1].Rpm);
        Assert.Equal(["chat-backup"], chat.Fallbacks);
        Assert.Equal(TimeSpan.FromSeconds(2), chat.Timeouts.Connect);
        Assert.Equal(TimeSpan.FromSeconds(10), chat.Timeouts.FirstToken);
        Assert.Equal(TimeSpan.FromSeconds(60), chat.Timeouts.Total);
        var backup = result.Config.Models["chat-backup"];
        Assert.Equal(0, backup.Retries);
        Assert.Equal(TimeSpan.FromSeconds(45), backup.Timeouts.Total);
    }

    [Theory]
    [InlineData("  m: { strategy: fastest, provider: openai }", "models.m.strategy", "unknown strategy 'fastest'")]
    [InlineData("  m: { provider: openai, fallbacks: [nope] }", "models.m.fallbacks", "unknown model alias 'nope'")]
    [InlineData("  m: { provider: openai, fallbacks: [m] }", "models.m.fallbacks", "cannot fall back to itself")]
    [InlineData("  m: { provider: openai, deployments: [ { provider: openai } ] }", "models.m.provider", "not both")]
    [InlineData("  m: { deployments: [] }", "models.m.deployments", "non-empty list")]
    [InlineData("  m: { deployments: [ { provider: openai, weight: -1 } ] }", "models.m.deployments[0].weight", "must be a number")]
    [InlineData("  m: { deployments: [ { provider: ghost } ] }", "models.m.deployments[0].provider", "unknown provider 'ghost'")]
    [InlineData("  m: { provider: openai, fallback_on: [sometimes] }", "models.m.fallback_on", "unknown error class")]
    [InlineData("  m: { provider: openai, timeouts: { total: forever } }", "models.m.timeouts.total", "not a duration")]
    [InlineData("  m: { provider: openai, breaker: { failure_ratio: 2 } }", "models.m.breaker.failure_ratio", "must be a number")]
    [InlineData("  m: { provider: openai, retry_budget: 1.5 }", "models.m.retry_budget", "must be a number")]
    public void Parse_BadRoute_NamesTheField(string model, string field, string message)
    {
        var result = ConfigLoader.Parse(Providers + "models:\n" + model + "\n", "k.yaml", _ => null);

        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }
}
