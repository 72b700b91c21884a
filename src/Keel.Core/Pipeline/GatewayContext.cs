using System.Net;
using Keel.Core.Providers;
using Keel.Core.Routing;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline;

public enum GatewayOperation
{
    Chat,
    Embeddings,
}

/// <summary>Who is calling, as established by the identity stage.</summary>
public sealed record CallerIdentity(string KeyId, string Role, string? ProjectId);

/// <summary>
/// Everything one gateway request carries through the pipeline. Independent of HttpContext so the
/// pipeline can run (and be tested) without a server; stages narrow it as the request moves on.
/// </summary>
public sealed class GatewayContext
{
    public GatewayContext(GatewayOperation operation, GatewaySnapshot snapshot, ReadOnlyMemory<byte> body, string traceId, TimeProvider time)
    {
        Operation = operation;
        Snapshot = snapshot;
        RawBody = body;
        TraceId = traceId;
        Trace = new TraceBuilder(time);
        StartedAt = time.GetUtcNow();
    }

    public GatewayOperation Operation { get; }

    /// <summary>The config in force when the request arrived; a reload mid-request does not change it.</summary>
    public GatewaySnapshot Snapshot { get; }

    /// <summary>The request body exactly as the client sent it.</summary>
    public ReadOnlyMemory<byte> RawBody { get; }

    /// <summary>Set by the HTTP layer when the body went over the size limit (the body is then empty).</summary>
    public bool BodyTooLarge { get; init; }

    public string TraceId { get; }
    public DateTimeOffset StartedAt { get; }
    public TraceBuilder Trace { get; }

    /// <summary>The span of the stage now running.</summary>
    public Span? CurrentSpan { get; set; }

    /// <summary>Reads a request header (case-insensitive), or null.</summary>
    public Func<string, string?> GetHeader { get; init; } = static _ => null;

    public IPAddress? RemoteAddress { get; init; }

    /// <summary>Set by the HTTP layer when the URL carries something that looks like an API key (refused).</summary>
    public bool KeyInQuery { get; init; }

    public CancellationToken RequestAborted { get; init; }

    /// <summary>
    /// Set by the HTTP layer when a write found the client gone; the abort token may fire a moment
    /// later, so this is what tells the recorder the answer never fully arrived.
    /// </summary>
    public bool ClientDisconnected { get; set; }

    /// <summary>True once the client is known to have gone away.</summary>
    public bool ClientGone => ClientDisconnected || RequestAborted.IsCancellationRequested;

    public CallerIdentity? Identity { get; set; }

    /// <summary>The parsed chat request (after ingress).</summary>
    public ChatCompletionRequest? Chat { get; set; }

    /// <summary>The parsed embeddings request (after ingress).</summary>
    public EmbeddingRequest? Embeddings { get; set; }

    /// <summary>
    /// True once a stage changed the parsed request. Until then the raw body can be forwarded as is,
    /// which keeps every byte the client sent and skips a serialisation.
    /// </summary>
    public bool RequestModified { get; set; }

    /// <summary>
    /// What the trace stores as the request body when a stage changed the request in a way the record must show
    /// (e.g. an input guardrail redacted personal data); null = the body as the client sent it.
    /// </summary>
    public ReadOnlyMemory<byte>? RecordedRequestBody { get; set; }

    /// <summary>The model name the client asked for.</summary>
    public string? RequestedModel { get; set; }

    public bool IsStreaming { get; set; }

    /// <summary>The route chosen by the resolve stage.</summary>
    public ModelRoute? Route { get; set; }

    /// <summary>The deployment of the last attempt (the one that served, when the call succeeded).</summary>
    public Deployment? ServedBy { get; set; }

    /// <summary>Usage seen so far in a streamed answer (set by the record stage as chunks pass).</summary>
    public Usage? ObservedUsage { get; set; }

    /// <summary>The registry prompt the request was rendered from (set by the stage that renders it).</summary>
    public string? PromptName { get; set; }
    public int? PromptVersion { get; set; }

    /// <summary>The experiment and arm this request was assigned to, if any.</summary>
    public string? ExperimentId { get; set; }
    public string? ExperimentArm { get; set; }

    /// <summary>The conversation the request belongs to (<c>x-keel-session-id</c>, else <c>metadata.session_id</c>).</summary>
    public string? SessionId { get; set; }

    /// <summary>The application's end user (<c>x-keel-user-id</c>, else the request's <c>user</c>).</summary>
    public string? EndUserId { get; set; }

    /// <summary>Tags for filtering traces (<c>x-keel-tags</c> and <c>metadata.tags</c>).</summary>
    public IReadOnlyList<string>? Tags { get; set; }

    /// <summary>The request's <c>metadata</c> object as JSON, kept on the trace.</summary>
    public string? MetadataJson { get; set; }

    public GatewayResponse? Response { get; set; }

    public GatewayError? Error { get; set; }

    /// <summary>Response headers stages want the client to see (e.g. x-keel-deployment).</summary>
    public Dictionary<string, string> ResponseHeaders => _responseHeaders ??= new(StringComparer.OrdinalIgnoreCase);

    /// <summary>True when a stage added response headers (saves allocating the dictionary to ask).</summary>
    public bool HasResponseHeaders => _responseHeaders is { Count: > 0 };

    /// <summary>Typed per-request state that later stages add without changing this class.</summary>
    public Dictionary<Type, object> Features => _features ??= [];

    private Dictionary<string, string>? _responseHeaders;
    private Dictionary<Type, object>? _features;
    private Action? _afterResponse;

    /// <summary>
    /// Set by a front that writes the response itself and then calls <see cref="ResponseWritten"/>: the
    /// record stage may then build and queue the trace after the client has its answer instead of before.
    /// </summary>
    public bool RecordsAfterResponse { get; init; }

    /// <summary>Leaves <paramref name="work"/> until <see cref="ResponseWritten"/> (only when <see cref="RecordsAfterResponse"/>).</summary>
    internal void AfterResponse(Action work) => _afterResponse = work;

    /// <summary>The response is written (or could not be): runs the work the record stage left for now, once.</summary>
    public void ResponseWritten()
    {
        var work = _afterResponse;
        _afterResponse = null;
        work?.Invoke();
    }

    /// <summary>
    /// Registers work to do when the request is over (for a stream: after its last chunk), with the tokens it used
    /// and its cost in USD when known. The record stage runs these, once, whatever the outcome.
    /// </summary>
    public void OnFinished(Action<GatewayContext, long, double?> callback) => (_finished ??= []).Add(callback);

    /// <summary>Runs the callbacks of <see cref="OnFinished"/> (called by the record stage).</summary>
    public void NotifyFinished(long tokens, double? costUsd)
    {
        if (_finished is null)
        {
            return;
        }
        var callbacks = _finished;
        _finished = null;
        foreach (var callback in callbacks)
        {
            callback(this, tokens, costUsd);
        }
    }

    private List<Action<GatewayContext, long, double?>>? _finished;

    /// <summary>Short-circuits the request with an error.</summary>
    public void Fail(GatewayError error)
    {
        Error = error;
        CurrentSpan?.SetError(error.Message);
    }
}
