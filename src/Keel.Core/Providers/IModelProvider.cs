using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Providers;

/// <summary>
/// A configured upstream (one entry under <c>providers:</c>). Failures the client should see are
/// returned as <see cref="ProviderResult.Error"/>; cancellation is thrown as
/// <see cref="OperationCanceledException"/> and mapped by the caller (client gone or timeout).
/// </summary>
public interface IModelProvider
{
    /// <summary>The provider's name in keel.yaml.</summary>
    string Name { get; }

    ValueTask<ProviderResult> ChatAsync(ChatCall call, CancellationToken cancellationToken);

    ValueTask<ProviderResult> EmbedAsync(EmbedCall call, CancellationToken cancellationToken);
}

/// <summary>One chat call to make upstream.</summary>
public sealed class ChatCall
{
    public required ChatCompletionRequest Request { get; init; }

    /// <summary>The client's body; forwardable as is when <see cref="RawBodyUsable"/>.</summary>
    public ReadOnlyMemory<byte> RawBody { get; init; }

    /// <summary>True when no stage changed the request, so the raw bytes are still the request.</summary>
    public bool RawBodyUsable { get; init; }

    public required string UpstreamModel { get; init; }

    public bool Stream { get; init; }

    /// <summary>Limit on opening a new connection; see <see cref="ProviderRequestOptions.ConnectTimeout"/>.</summary>
    public TimeSpan? ConnectTimeout { get; init; }
}

/// <summary>One embeddings call to make upstream.</summary>
public sealed class EmbedCall
{
    public required EmbeddingRequest Request { get; init; }
    public ReadOnlyMemory<byte> RawBody { get; init; }
    public bool RawBodyUsable { get; init; }
    public required string UpstreamModel { get; init; }
    public TimeSpan? ConnectTimeout { get; init; }
}

/// <summary>A response or an error; exactly one is set.</summary>
public readonly record struct ProviderResult(GatewayResponse? Response, GatewayError? Error)
{
    public static ProviderResult Ok(GatewayResponse response) => new(response, null);

    public static ProviderResult Fail(GatewayError error) => new(null, error);
}

/// <summary>Per-call transport settings a provider applies to its HTTP requests.</summary>
public static class ProviderRequestOptions
{
    /// <summary>How long opening a new connection may take (read by the shared handler's connect callback).</summary>
    public static readonly HttpRequestOptionsKey<TimeSpan> ConnectTimeout = new("keel.connect_timeout");
}

/// <summary>A provider with a moderation endpoint (OpenAI's <c>POST /moderations</c>).</summary>
public interface IModerationProvider
{
    /// <summary>Classifies <paramref name="text"/>; never throws for an upstream failure (see <see cref="ModerationResult.Error"/>).</summary>
    ValueTask<ModerationResult> ModerateAsync(string text, string model, CancellationToken cancellationToken);
}

/// <summary>A moderation verdict: flagged or not, the highest-scoring category and its score; or why there is none.</summary>
public sealed record ModerationResult(bool Flagged, string? Category, double Score, string? Error = null);
