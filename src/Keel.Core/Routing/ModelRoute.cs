using Keel.Core.Configuration;
using Keel.Core.Providers;
using Polly;
using Polly.Retry;

namespace Keel.Core.Routing;

/// <summary>A deployment bound to its provider instance and its run-time state.</summary>
public sealed record Deployment(DeploymentConfig Config, ProviderConfig Provider, IModelProvider Client, DeploymentState State)
{
    public string Id => Config.Id;

    /// <summary>What its tokens cost: the configured price, else the catalogue's; null when unknown.</summary>
    public Metering.ModelPrice? Price { get; init; }

    /// <summary>Its <c>gen_ai.provider.name</c> (see <see cref="Telemetry.GenAiConventions.ProviderNameOf"/>).</summary>
    public string GenAiProvider { get; init; } = "openai";

    /// <summary>The provider's host and port, for <c>server.address</c> / <c>server.port</c>; null for the local provider.</summary>
    public string? ServerAddress { get; init; }

    public int? ServerPort { get; init; }
}

/// <summary>A model alias ready to serve: its deployments, strategy and resilience settings.</summary>
public sealed class ModelRoute
{
    /// <summary>The per-request state the retry pipeline's predicates read.</summary>
    public static readonly ResiliencePropertyKey<AttemptBudget> BudgetKey = new("keel.attempt_budget");

    public ModelRoute(ModelConfig config, IReadOnlyList<Deployment> deployments, IBalancingPolicy policy, RouteState state, TimeProvider time)
    {
        Config = config;
        Deployments = deployments;
        Policy = policy;
        State = state;
        Retry = BuildRetryPipeline(config, time);
    }

    /// <summary>Composed once per route: backoff with jitter, Retry-After honoured, the retry budget checked.</summary>
    public ResiliencePipeline<AttemptOutcome> Retry { get; }

    public string Alias => Config.Alias;

    private static ResiliencePipeline<AttemptOutcome> BuildRetryPipeline(ModelConfig config, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time };
        if (config.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = config.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(5),
                ShouldHandle = static args => ValueTask.FromResult(
                    args.Outcome.Result is { } result &&
                    args.Context.Properties.TryGetValue(BudgetKey, out var budget) &&
                    budget.CanRetry(result)),
                DelayGenerator = static args => ValueTask.FromResult(args.Outcome.Result?.Error?.RetryAfter),
            });
        }

        return builder.Build();
    }
    public ModelConfig Config { get; }
    public IReadOnlyList<Deployment> Deployments { get; }
    public IBalancingPolicy Policy { get; }
    public RouteState State { get; }
}

/// <summary>Whether the request may still afford a retry: the route's budget and its remaining time.</summary>
public sealed class AttemptBudget(ModelRoute route, TimeProvider time, DateTimeOffset deadline)
{
    /// <summary>A Retry-After longer than this is not waited for: the request moves on to its fallbacks.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    public bool CanRetry(AttemptOutcome outcome)
    {
        if (!outcome.Retryable)
        {
            return false;
        }

        var wait = outcome.Error?.RetryAfter ?? TimeSpan.Zero;
        if (wait > MaxRetryAfter || time.GetUtcNow() + wait >= deadline)
        {
            return false;
        }

        return route.State.RetryBudget.TryAcquireRetry(route.Config.RetryBudget);
    }
}

/// <summary>What one attempt (or a whole route) ended with.</summary>
public sealed record AttemptOutcome(Pipeline.GatewayResponse? Response, Pipeline.GatewayError? Error, ErrorClasses Class, bool Retryable)
{
    public bool Success => Response is not null;

    public static AttemptOutcome Ok(Pipeline.GatewayResponse response) => new(response, null, ErrorClasses.None, false);

    public static AttemptOutcome Fail(Pipeline.GatewayError error, ErrorClasses errorClass, bool? retryable = null) =>
        new(null, error, errorClass, retryable ?? (errorClass & ErrorClasses.Retryable) != 0);
}
