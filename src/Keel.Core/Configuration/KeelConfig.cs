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

    /// <summary>The config used when there is no file: the built-in local provider alone.</summary>
    public static KeelConfig Default { get; } = ConfigLoader.WithBuiltIns(new KeelConfig());
}

public sealed record ServerConfig
{
    /// <summary>Largest accepted request body; bigger bodies get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 10 * 1024 * 1024;
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
}

public sealed record ModelConfig
{
    /// <summary>The name clients use in "model".</summary>
    public required string Alias { get; init; }
    public required string Provider { get; init; }
    /// <summary>The model name sent upstream.</summary>
    public required string UpstreamModel { get; init; }
}
