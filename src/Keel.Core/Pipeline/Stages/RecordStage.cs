using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Keel.Core.Recording;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// The fixed head: owns the root span, and when the request is over (for a stream: when its last
/// chunk has gone) turns the context into a <see cref="TraceRecord"/> and hands it to the recorder.
/// Requests that fail identity are not stored, so anonymous clients cannot fill the store.
/// </summary>
internal sealed class RecordStage(TraceRecorder recorder) : IGatewayStage
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
            context.Response = new StreamingResponse { StatusCode = stream.StatusCode, Chunks = ObserveAsync(stream.Chunks, context, root, started) };
            return;
        }

        Finish(context, root, started, ttftMs: null, streamed: null, streamError: null);
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> ObserveAsync(
        IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, GatewayContext context, Span root, long started,
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
        }

        root.End();
        if (context.Identity is null)
        {
            return;
        }

        var storeBodies = context.Snapshot.Config.Recording.StoreBodies;
        Usage? usage = streamed?.Usage ?? (context.Response as JsonBodyResponse)?.Usage;
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

        if (usage is not null)
        {
            root.Set("gen_ai.usage.input_tokens", usage.PromptTokens).Set("gen_ai.usage.output_tokens", usage.CompletionTokens);
        }

        context.NotifyFinished(usage is null ? 0 : (long)usage.PromptTokens + usage.CompletionTokens, costUsd: null);

        var served = context.ServedBy;
        recorder.Record(new TraceRecord
        {
            TraceId = context.TraceId,
            StartedAt = context.StartedAt,
            Operation = context.Operation == GatewayOperation.Chat ? "chat" : "embeddings",
            ProjectId = context.Identity.ProjectId ?? Identity.Projects.Default,
            KeyId = context.Identity.KeyId,
            Model = context.RequestedModel,
            Provider = served?.Provider.Name,
            UpstreamModel = served?.Config.Model,
            Stream = context.IsStreaming,
            StatusCode = error?.StatusCode ?? context.Response?.StatusCode ?? 200,
            ErrorCode = error?.Code ?? error?.Type,
            ErrorMessage = error is null ? null : context.Snapshot.Redact(error.Message),
            RequestBodyUtf8 = storeBodies && !context.BodyTooLarge ? context.RecordedRequestBody ?? context.RawBody : (ReadOnlyMemory<byte>?)null,
            ResponseBodyUtf8 = responseBody,
            LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            TtftMs = ttftMs,
            InputTokens = usage?.PromptTokens,
            OutputTokens = usage?.CompletionTokens,
            PromptName = context.PromptName,
            PromptVersion = context.PromptVersion,
            ExperimentId = context.ExperimentId,
            ExperimentArm = context.ExperimentArm,
            SpansUtf8 = SpanJson.Write(context.Trace.Spans),
        });
    }
}
