using Keel.Core.Wire;

namespace Keel.Core.Pipeline;

/// <summary>
/// What the pipeline answers. A response is a value that stages may wrap (e.g. an output guardrail
/// wraps the chunk stream); the HTTP layer writes it after the pipeline returns.
/// </summary>
public abstract class GatewayResponse
{
    public int StatusCode { get; init; } = 200;
}

/// <summary>A complete JSON body (chat.completion, embeddings list), forwarded as bytes.</summary>
public sealed class JsonBodyResponse : GatewayResponse
{
    public required ReadOnlyMemory<byte> Body { get; init; }
    /// <summary>Token usage read from the body, when it had one.</summary>
    public Usage? Usage { get; init; }
}

/// <summary>
/// A chat completion stream: each item is the JSON payload of one OpenAI chat.completion.chunk,
/// relayed as one SSE "data:" event as soon as it arrives. A failure after the start throws
/// <see cref="UpstreamStreamException"/> from the enumerator.
/// </summary>
public sealed class StreamingResponse : GatewayResponse
{
    public required IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks { get; init; }
}
