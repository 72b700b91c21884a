using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Keel.Core.Metering;
using Keel.Core.Recording;
using Keel.Core.Telemetry;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// The fixed head: owns the root span, and when the request is over (for a stream: when its last
/// chunk has gone) turns the context into a <see cref="TraceRecord"/> and hands it to the recorder.
/// Requests that fail identity are not stored, so anonymous clients cannot fill the store (they are
/// counted in the metrics). It meters the call (tokens and cost, from the provider's usage or Keel's
/// own count), sets the OpenTelemetry GenAI attributes on the root span, and counts the request.
/// </summary>
/// <remarks>
/// Keel asks providers for usage on streams even when the client did not
/// (<c>stream_options.include_usage</c>); the usage-only chunk that then ends the stream is dropped
/// here, after it has been read, so the client sees exactly the stream it asked for.
/// </remarks>
internal sealed class RecordStage(TraceRecorder recorder, KeelMetrics metrics, Telemetry.Otlp.OtlpExporter exporter) : IGatewayStage
{
    public string Name => "gateway";

    public int Order => int.MinValue;

    public async ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var root = context.CurrentSpan!;
        var started = Stopwatch.GetTimestamp();
        root.Set("gen_ai.operation.name", context.Operation == GatewayOperation.Chat ? "chat" : "embeddings");
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            context.Fail(new GatewayError(499, "client_closed_request", "client_closed_request", "The client closed the request."));
        }

        if (context.Response is StreamingResponse stream && context.Error is null)
        {
            root.EndsLater = true;
            var dropUsageChunk = context.Chat?.StreamOptions?.IncludeUsage != true;
            context.Response = new StreamingResponse { StatusCode = stream.StatusCode, Chunks = ObserveAsync(stream.Chunks, context, root, started, dropUsageChunk) };
            return;
        }

        Finish(context, root, started, ttftMs: null, streamed: null, streamError: null);
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> ObserveAsync(
        IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, GatewayContext context, Span root, long started, bool dropUsageChunk,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var accumulator = new StreamAccumulator();
        double? ttft = null;
        GatewayError? streamError = null;
        var enumerator = chunks.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (UpstreamStreamException ex)
                {
                    streamError = ex.Error;
                    throw;
                }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                {
                    streamError = new GatewayError(499, "client_closed_request", "client_closed_request", "The client closed the request mid-stream.");
                    throw;
                }

                ttft ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                accumulator.Add(enumerator.Current.Span);
                context.ObservedUsage = accumulator.Usage;
                if (dropUsageChunk && accumulator.LastWasUsageOnly)
                {
                    continue;
                }

                yield return enumerator.Current;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
            if (streamError is null && context.ClientGone)
            {
                streamError = new GatewayError(499, "client_closed_request", "client_closed_request", "The client closed the request mid-stream.");
            }

            Finish(context, root, started, ttft, accumulator, streamError);
        }
    }

    private void Finish(GatewayContext context, Span root, long started, double? ttftMs, StreamAccumulator? streamed, GatewayError? streamError)
    {
        var error = streamError ?? context.Error;
        if (error is not null)
        {
            root.SetError(error.Message);
            root.Set(GenAiConventions.ErrorType, error.Code ?? error.Type);
        }

        var latencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var status = error?.StatusCode ?? context.Response?.StatusCode ?? 200;
        var metered = Meter(context, streamed, error);
        context.NotifyFinished(metered is { } used ? (long)used.InputTokens + used.OutputTokens : 0, metered?.CostUsd);
        var served = context.ServedBy;
        metrics.RecordRequest(
            context.Route?.Alias ?? "", served?.Provider.Name ?? "", status, latencyMs / 1000, ttftMs / 1000,
            metered?.InputTokens ?? 0, metered?.CachedInputTokens ?? 0, metered?.OutputTokens ?? 0, metered?.CostUsd);
        if (context.Identity is null)
        {
            root.End();
            return;
        }

        if (streamed is null && context.RecordsAfterResponse)
        {
            // Building the trace (attributes, span JSON) is not part of the answer: the client gets it first.
            context.AfterResponse(() => Record(context, root, status, error, latencyMs, ttftMs, null, metered));
            return;
        }

        Record(context, root, status, error, latencyMs, ttftMs, streamed, metered);
    }

    private void Record(
        GatewayContext context, Span root, int status, GatewayError? error, double latencyMs, double? ttftMs, StreamAccumulator? streamed, MeteredUsage? metered)
    {
        var served = context.ServedBy;
        var identity = context.Identity!;
        SetAttributes(context, root, streamed, metered);
        root.End();

        var storeBodies = context.Snapshot.Config.Recording.StoreBodies;
        ReadOnlyMemory<byte>? responseBody = null;
        if (storeBodies)
        {
            if (streamed is not null)
            {
                responseBody = JsonSerializer.SerializeToUtf8Bytes(streamed.ToResponse(), KeelJson.Context.ChatCompletionResponse);
            }
            else if (context.Response is JsonBodyResponse json)
            {
                responseBody = json.Body;
            }
        }

        var record = new TraceRecord
        {
            TraceId = context.TraceId,
            StartedAt = context.StartedAt,
            Operation = context.Operation == GatewayOperation.Chat ? "chat" : "embeddings",
            ProjectId = identity.ProjectId ?? Identity.Projects.Default,
            KeyId = identity.KeyId,
            Model = context.RequestedModel,
            Provider = served?.Provider.Name,
            UpstreamModel = served?.Config.Model,
            Stream = context.IsStreaming,
            StatusCode = status,
            ErrorCode = error?.Code ?? error?.Type,
            ErrorMessage = error is null ? null : context.Snapshot.Redact(error.Message),
            RequestBodyUtf8 = storeBodies && !context.BodyTooLarge ? context.RecordedRequestBody ?? context.RawBody : (ReadOnlyMemory<byte>?)null,
            ResponseBodyUtf8 = responseBody,
            LatencyMs = latencyMs,
            TtftMs = ttftMs,
            InputTokens = metered?.InputTokens,
            OutputTokens = metered?.OutputTokens,
            CachedInputTokens = metered is { CachedInputTokens: > 0 } m ? m.CachedInputTokens : null,
            CostUsd = metered?.CostUsd,
            CostEstimated = metered?.Estimated ?? false,
            SessionId = context.SessionId,
            UserId = context.EndUserId,
            Tags = context.Tags,
            MetadataJson = context.MetadataJson,
            PromptName = context.PromptName,
            PromptVersion = context.PromptVersion,
            ExperimentId = context.ExperimentId,
            ExperimentArm = context.ExperimentArm,
            SpansUtf8 = SpanJson.Write(context.Trace.Spans, context.Snapshot.Redactor),
        };
        recorder.Record(record);
        exporter.Enqueue(record, context.Snapshot.Config.Telemetry);
    }

    /// <summary>
    /// Tokens and cost: the provider's usage when it reported one; otherwise Keel's own count of
    /// the prompt and of what was answered (streamed so far, for a stream that broke), flagged as
    /// estimated. Null when no provider answered anything (nothing was billed).
    /// </summary>
    private static MeteredUsage? Meter(GatewayContext context, StreamAccumulator? streamed, GatewayError? error)
    {
        var served = context.ServedBy;
        var price = served?.Price;
        if ((streamed?.Usage ?? (context.Response as JsonBodyResponse)?.Usage) is { } usage)
        {
            return CostCalculator.Meter(price, usage);
        }

        if (served is null)
        {
            return null;
        }

        var model = served.Config.Model;
        if (streamed is not null)
        {
            if (streamed.Chunks == 0 || context.Chat is not { } streamedRequest)
            {
                return null;
            }

            var (input, output) = UsageEstimator.Chat(streamedRequest, model, streamed.GeneratedText());
            return CostCalculator.MeterEstimate(price, input, output);
        }

        if (error is not null || context.Response is not JsonBodyResponse body)
        {
            return null;
        }

        if (context.Chat is { } chat)
        {
            var (input, output) = UsageEstimator.Chat(chat, model, UsageEstimator.AnswerText(body.Body.Span));
            return CostCalculator.MeterEstimate(price, input, output);
        }

        return context.Embeddings is { } embeddings ? CostCalculator.MeterEstimate(price, UsageEstimator.EmbeddingInput(embeddings, model), 0) : null;
    }

    /// <summary>The OpenTelemetry GenAI attributes of the call, on the root span.</summary>
    private static void SetAttributes(GatewayContext context, Span root, StreamAccumulator? streamed, MeteredUsage? metered)
    {
        root.Set(GenAiConventions.RequestModel, context.RequestedModel);
        if (context.Chat is { } chat)
        {
            SetIfPresent(root, GenAiConventions.RequestTemperature, chat.Temperature);
            SetIfPresent(root, GenAiConventions.RequestTopP, chat.TopP);
            SetIfPresent(root, GenAiConventions.RequestMaxTokens, chat.OutputTokenLimit);
            SetIfPresent(root, GenAiConventions.RequestFrequencyPenalty, chat.FrequencyPenalty);
            SetIfPresent(root, GenAiConventions.RequestPresencePenalty, chat.PresencePenalty);
            SetIfPresent(root, GenAiConventions.RequestSeed, chat.Seed);
            if (chat.N is > 1 and var n)
            {
                root.Set(GenAiConventions.RequestChoiceCount, n);
            }

            if (chat.Stop is not null && chat.GetStopSequences() is { Count: > 0 } stops)
            {
                root.Set(GenAiConventions.RequestStopSequences, stops);
            }

            if (chat.ResponseFormat?.Type is { } format)
            {
                root.Set(GenAiConventions.OutputType, format is "json_object" or "json_schema" ? "json" : "text");
            }
        }
        else if (context.Embeddings?.EncodingFormat is { } encoding)
        {
            root.Set(GenAiConventions.RequestEncodingFormats, new[] { encoding });
        }

        if (context.ServedBy is { } served)
        {
            root.Set(GenAiConventions.ProviderName, served.GenAiProvider);
            if (served.ServerAddress is { } address)
            {
                root.Set(GenAiConventions.ServerAddress, address).Set(GenAiConventions.ServerPort, served.ServerPort);
            }
        }

        var facts = streamed is not null
            ? new ResponseFacts(streamed.Id, streamed.Model, [.. streamed.FinishReasons])
            : context.Response is JsonBodyResponse json && context.Operation == GatewayOperation.Chat ? ResponseFacts.Read(json.Body.Span) : default;
        SetIfPresent(root, GenAiConventions.ResponseId, facts.Id is { Length: > 0 } ? facts.Id : null);
        SetIfPresent(root, GenAiConventions.ResponseModel, facts.Model is { Length: > 0 } ? facts.Model : null);
        if (facts.FinishReasons is { Length: > 0 } reasons)
        {
            root.Set(GenAiConventions.ResponseFinishReasons, reasons);
        }

        if (metered is { } usage)
        {
            root.Set(GenAiConventions.UsageInputTokens, usage.InputTokens).Set(GenAiConventions.UsageOutputTokens, usage.OutputTokens);
            if (usage.CachedInputTokens > 0)
            {
                root.Set(GenAiConventions.KeelCachedInputTokens, usage.CachedInputTokens);
            }

            SetIfPresent(root, GenAiConventions.KeelCostUsd, usage.CostUsd);
            root.Set(GenAiConventions.KeelCostEstimated, usage.Estimated);
        }

        if (context.SessionId is { } session)
        {
            root.Set(GenAiConventions.ConversationId, session).Set(GenAiConventions.SessionId, session);
        }

        SetIfPresent(root, GenAiConventions.UserId, context.EndUserId);
        if (context.Tags is { Count: > 0 } tags)
        {
            root.Set(GenAiConventions.KeelTags, tags);
        }
    }

    private static void SetIfPresent<T>(Span span, string key, T? value)
        where T : struct
    {
        if (value is { } v)
        {
            span.Set(key, v);
        }
    }

    private static void SetIfPresent(Span span, string key, string? value)
    {
        if (value is not null)
        {
            span.Set(key, value);
        }
    }
}
