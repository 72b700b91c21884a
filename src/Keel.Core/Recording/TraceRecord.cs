namespace Keel.Core.Recording;

/// <summary>One request as stored: what was asked, what was answered, how long it took, what it used.</summary>
public sealed record TraceRecord
{
    public required string TraceId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>"chat" or "embeddings".</summary>
    public required string Operation { get; init; }
    public string? ProjectId { get; init; }
    public string? KeyId { get; init; }
    /// <summary>The model name the client asked for.</summary>
    public string? Model { get; init; }
    public string? Provider { get; init; }
    public string? UpstreamModel { get; init; }
    public bool Stream { get; init; }
    /// <summary>The HTTP status the client got (499 when the client went away).</summary>
    public int StatusCode { get; init; }
    public string? ErrorCode { get; init; }
    public string? ErrorMessage { get; init; }
    /// <summary>The request body as the client sent it (UTF-8), recorded without a copy.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ReadOnlyMemory<byte>? RequestBodyUtf8 { get; init; }

    /// <summary>The response body (UTF-8): upstream's bytes, or the chat.completion rebuilt from a stream.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ReadOnlyMemory<byte>? ResponseBodyUtf8 { get; init; }

    public string? RequestBody => RequestBodyUtf8 is { } body ? System.Text.Encoding.UTF8.GetString(body.Span) : null;

    public string? ResponseBody => ResponseBodyUtf8 is { } body ? System.Text.Encoding.UTF8.GetString(body.Span) : null;
    public double LatencyMs { get; init; }
    /// <summary>Time to the first streamed chunk (streams only).</summary>
    public double? TtftMs { get; init; }
    public int? InputTokens { get; init; }
    public int? OutputTokens { get; init; }

    /// <summary>The registry prompt the request was rendered from, if any.</summary>
    public string? PromptName { get; init; }
    public int? PromptVersion { get; init; }

    /// <summary>The experiment and arm the request was assigned to, if any.</summary>
    public string? ExperimentId { get; init; }
    public string? ExperimentArm { get; init; }

    /// <summary>Prompt tokens the provider served from its prompt cache (part of <see cref="InputTokens"/>).</summary>
    public int? CachedInputTokens { get; init; }

    /// <summary>What the call cost in USD; null when the model's price is unknown or nothing was billed.</summary>
    public double? CostUsd { get; init; }

    /// <summary>True when the tokens (and so the cost) were counted by Keel: the provider reported no usage.</summary>
    public bool CostEstimated { get; init; }

    /// <summary>The conversation the call belongs to (<c>x-keel-session-id</c> or <c>metadata.session_id</c>).</summary>
    public string? SessionId { get; init; }

    /// <summary>The application's end user (<c>x-keel-user-id</c> or the request's <c>user</c>).</summary>
    public string? UserId { get; init; }

    /// <summary>Tags (<c>x-keel-tags</c> and <c>metadata.tags</c>).</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>The request's <c>metadata</c> object as JSON text.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? MetadataJson { get; init; }

    /// <summary>The request's <c>metadata</c> object.</summary>
    public System.Text.Json.JsonElement? Metadata => MetadataJson is null ? null : ParseJson(MetadataJson);

    /// <summary>Spans the application sent for this trace over OTLP (filled by <c>GET /api/traces/{id}</c>).</summary>
    public IReadOnlyList<SpanRecord>? AppSpans { get; init; }

    /// <summary>Scores and feedback on the trace (filled by <c>GET /api/traces/{id}</c>; null in lists).</summary>
    public IReadOnlyList<Feedback.ScoreRecord>? Scores { get; init; }

    /// <summary>The spans as stored: one JSON array in UTF-8 (see <see cref="SpanJson"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ReadOnlyMemory<byte>? SpansUtf8 { get; init; }

    /// <summary>The spans, in start order (empty in trace lists, which leave them out).</summary>
    public IReadOnlyList<SpanRecord> Spans => SpanJson.Parse(SpansUtf8);

    private static System.Text.Json.JsonElement ParseJson(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

/// <summary>One span of a trace, as stored.</summary>
public sealed record SpanRecord
{
    public required string SpanId { get; init; }
    public string? ParentSpanId { get; init; }
    public required string Name { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public double DurationMs { get; init; }
    public bool IsError { get; init; }
    public string? StatusMessage { get; init; }
    /// <summary>Attributes as a JSON object.</summary>
    public System.Text.Json.JsonElement Attributes { get; init; }
}

/// <summary>A page of trace summaries (no bodies, no spans).</summary>
public sealed record TraceQuery
{
    public int Limit { get; init; } = 50;

    /// <summary>Only traces of this project; null = every project (admins).</summary>
    public string? ProjectId { get; init; }
    public string? Model { get; init; }
    /// <summary>Traces started strictly before this (cursor for the next page).</summary>
    public DateTimeOffset? Before { get; init; }
}
