using System.Collections.Frozen;

namespace Keel.Core.Configuration;

/// <summary>The whole of keel.yaml, validated. Immutable: a reload builds a new one.</summary>
public sealed record KeelConfig
{
    /// <summary>Where the config came from (a file path, or "(defaults)").</summary>
    public string Source { get; init; } = "(defaults)";
    public ServerConfig Server { get; init; } = new();
    public AuthConfig Auth { get; init; } = new();
    public RecordingConfig Recording { get; init; } = new();
    public FrozenDictionary<string, ProviderConfig> Providers { get; init; } = FrozenDictionary<string, ProviderConfig>.Empty;
    public FrozenDictionary<string, ModelConfig> Models { get; init; } = FrozenDictionary<string, ModelConfig>.Empty;
    public GuardrailsConfig Guardrails { get; init; } = new();
    public TelemetryConfig Telemetry { get; init; } = new();

    /// <summary>The config used when there is no file: the built-in local provider alone.</summary>
    public static KeelConfig Default { get; } = ConfigLoader.WithBuiltIns(new KeelConfig());
}

/// <summary>Where traces are exported besides Keel's own store.</summary>
public sealed record TelemetryConfig
{
    /// <summary>OTLP/HTTP collector base URL (traces go to <c>{endpoint}/v1/traces</c>, protobuf); null = no export.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>Headers sent with each export (e.g. an API key of a hosted backend).</summary>
    public FrozenDictionary<string, string> OtlpHeaders { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; init; } = "keel";
}

public sealed record ServerConfig
{
    /// <summary>Largest accepted request body; bigger bodies get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary>
    /// Run gateway requests on the socket event threads instead of handing each I/O completion to the
    /// thread pool (read at start only). See docs/configuration.md, "server.inline_io".
    /// </summary>
    public bool InlineIo { get; init; } = true;
}

public sealed record AuthConfig
{
    /// <summary>The admin key. Null = no key: only loopback clients are served.</summary>
    public string? MasterKey { get; init; }
}

public sealed record RecordingConfig
{
    /// <summary>Store request and response bodies on traces.</summary>
    public bool StoreBodies { get; init; } = true;
    /// <summary>Bounded queue between the request path and the store writer.</summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Traces older than this many days are deleted (projects may set their own); null = kept.</summary>
    public int? RetentionDays { get; init; }
}

public static class ProviderKinds
{
    public const string OpenAi = "openai";
    public const string Azure = "azure";
    public const string Anthropic = "anthropic";
    public const string Local = "local";

    public static readonly IReadOnlyList<string> All = [OpenAi, Azure, Anthropic, Local];
}

public sealed record ProviderConfig
{
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public string? BaseUrl { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>Azure OpenAI's api-version query parameter.</summary>
    public string? ApiVersion { get; init; }
    public FrozenDictionary<string, string> Headers { get; init; } = FrozenDictionary<string, string>.Empty;
    /// <summary>Total time allowed for one upstream call (whole stream included).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>
    /// Ask this (OpenAI-compatible) provider for usage on streams with <c>stream_options.include_usage</c>,
    /// so streamed calls are metered from the provider's own count. Off for servers that reject it.
    /// </summary>
    public bool StreamUsage { get; init; } = true;
}

public sealed record ModelConfig
{
    /// <summary>The name clients use in "model".</summary>
    public required string Alias { get; init; }

    /// <summary>Where calls go; a plain <c>{ provider, model }</c> alias is a route of one deployment.</summary>
    public required IReadOnlyList<DeploymentConfig> Deployments { get; init; }

    /// <summary>How a deployment is picked: a name from <see cref="BalancingStrategies"/>.</summary>
    public string Strategy { get; init; } = BalancingStrategies.Weighted;

    /// <summary>Other aliases to try, in order, when this one fails with an error in <see cref="FallbackOn"/>.</summary>
    public IReadOnlyList<string> Fallbacks { get; init; } = [];

    /// <summary>Which error classes move the request on to the fallbacks.</summary>
    public ErrorClasses FallbackOn { get; init; } = ErrorClasses.DefaultFallback;

    /// <summary>Retries within this alias (another deployment when there is one), after the first attempt.</summary>
    public int Retries { get; init; } = 2;

    /// <summary>Most retries as a share of requests, so an outage does not multiply the load.</summary>
    public double RetryBudget { get; init; } = 0.2;

    public TimeoutsConfig Timeouts { get; init; } = new();

    public BreakerConfig Breaker { get; init; } = new();

    /// <summary>The guardrail policy for this alias; null = the default policy; <c>none</c> = no guardrails.</summary>
    public string? Guardrails { get; init; }
}

/// <summary>One provider + upstream model that can serve an alias.</summary>
public sealed record DeploymentConfig
{
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public double Weight { get; init; } = 1;
    /// <summary>Requests per minute this deployment may take; null = no limit.</summary>
    public int? Rpm { get; init; }
    /// <summary>Tokens per minute this deployment may take; null = no limit.</summary>
    public int? Tpm { get; init; }
    /// <summary>
    /// The price of this deployment's tokens (keel.yaml <c>price</c>, or the older <c>cost</c>); null
    /// = the price catalogue's. Used for the cost of each call and by the cost strategy.
    /// </summary>
    public Metering.ModelPrice? Price { get; init; }

    /// <summary>"provider/model", as shown in x-keel-deployment and the route health.</summary>
    public string Id => $"{Provider}/{Model}";
}

public sealed record TimeoutsConfig
{
    /// <summary>Opening a new connection to the provider.</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Until response headers (non-streaming) or the first chunk (streaming), per attempt.</summary>
    public TimeSpan FirstToken { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>The whole call through this alias: every attempt and backoff, the whole stream.</summary>
    public TimeSpan Total { get; init; } = TimeSpan.FromMinutes(10);
}

public sealed record BreakerConfig
{
    /// <summary>Open when this share of calls in the window failed…</summary>
    public double FailureRatio { get; init; } = 0.5;
    /// <summary>…and at least this many calls were made in it.</summary>
    public int MinRequests { get; init; } = 10;
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long an open breaker refuses calls before letting one probe through.</summary>
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>Classes of upstream failure, for retry and fallback decisions.</summary>
[Flags]
public enum ErrorClasses
{
    None = 0,
    /// <summary>429.</summary>
    RateLimit = 1,
    /// <summary>5xx, and answers that are not valid JSON.</summary>
    ServerError = 2,
    /// <summary>No first token, or no end, in time.</summary>
    Timeout = 4,
    /// <summary>The provider could not be reached, or the connection broke.</summary>
    Connection = 8,
    /// <summary>The prompt is longer than the model's context window.</summary>
    ContextLength = 16,
    /// <summary>The provider refused the content.</summary>
    ContentPolicy = 32,
    /// <summary>Any other 4xx: the caller's mistake; never retried, never a fallback.</summary>
    Client = 64,

    /// <summary>Worth another attempt at the same alias.</summary>
    Retryable = RateLimit | ServerError | Timeout | Connection,
    DefaultFallback = RateLimit | ServerError | Timeout | Connection | ContextLength,
}

/// <summary>The names of the balancing strategies.</summary>
public static class BalancingStrategies
{
    public const string Weighted = "weighted";
    public const string RoundRobin = "round-robin";
    public const string LeastBusy = "least-busy";
    public const string LowestLatency = "lowest-latency";
    public const string Cost = "cost";

    public static readonly IReadOnlyList<string> All = [Weighted, RoundRobin, LeastBusy, LowestLatency, Cost];
}
