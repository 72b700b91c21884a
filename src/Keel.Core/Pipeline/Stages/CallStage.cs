using System.Runtime.CompilerServices;
using Keel.Core.Logging;
using Keel.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// The fixed tail: calls the routed provider under its timeout. A client that goes away cancels
/// the upstream call; a timeout becomes 504.
/// </summary>
internal sealed partial class CallStage(ILogger<CallStage> logger) : IGatewayStage
{
    public string Name => "call";

    public int Order => int.MaxValue;

    public async ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var route = context.Route!;
        var span = context.CurrentSpan;
        span?.Set("gen_ai.system", route.ProviderKind).Set("gen_ai.request.model", route.UpstreamModel).Set("keel.provider", route.ProviderName);

        var timeout = new CancellationTokenSource(route.Timeout);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, timeout.Token);
        var handedOff = false;
        try
        {
            ProviderResult result;
            if (context.Operation == GatewayOperation.Chat)
            {
                result = await route.Provider.ChatAsync(new ChatCall
                {
                    Request = context.Chat!,
                    RawBody = context.RawBody,
                    RawBodyUsable = !context.RequestModified,
                    UpstreamModel = route.UpstreamModel,
                    Stream = context.IsStreaming,
                }, linked.Token);
            }
            else
            {
                result = await route.Provider.EmbedAsync(new EmbedCall
                {
                    Request = context.Embeddings!,
                    RawBody = context.RawBody,
                    RawBodyUsable = !context.RequestModified,
                    UpstreamModel = route.UpstreamModel,
                }, linked.Token);
            }

            if (result.Error is { } error)
            {
                Log.UpstreamError(logger, route.ProviderName, error.StatusCode, error.Code);
                context.Fail(error);
                return;
            }

            if (result.Response is StreamingResponse stream && span is not null)
            {
                // The span and the timeout live until the stream ends, not until this stage returns.
                span.EndsLater = true;
                handedOff = true;
                context.Response = new StreamingResponse
                {
                    StatusCode = stream.StatusCode,
                    Chunks = GuardStreamAsync(stream.Chunks, context, route, span, timeout, linked),
                };
                return;
            }

            context.Response = result.Response;
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            context.Fail(GatewayError.UpstreamTimeout(route.ProviderName, route.Timeout));
        }
        finally
        {
            if (!handedOff)
            {
                linked.Dispose();
                timeout.Dispose();
            }
        }
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> GuardStreamAsync(
        IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, GatewayContext context, ResolvedModel route, Span span,
        CancellationTokenSource timeout, CancellationTokenSource linked, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var enumerator = chunks.GetAsyncEnumerator(linked.Token);
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
                catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested && timeout.IsCancellationRequested)
                {
                    throw new UpstreamStreamException(GatewayError.UpstreamTimeout(route.ProviderName, route.Timeout));
                }
                catch (UpstreamStreamException ex)
                {
                    Log.StreamBroken(logger, route.ProviderName, ex.Error.Code);
                    span.SetError(ex.Error.Message);
                    throw;
                }

                yield return enumerator.Current;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
            span.End();
            linked.Dispose();
            timeout.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.UpstreamError, LogLevel.Information, "Provider {Provider} answered {StatusCode} ({ErrorCode}).")]
        public static partial void UpstreamError(ILogger logger, string provider, int statusCode, string? errorCode);

        [LoggerMessage(KeelEventIds.UpstreamStreamBroken, LogLevel.Warning, "Stream from provider {Provider} failed mid-way ({ErrorCode}).")]
        public static partial void StreamBroken(ILogger logger, string provider, string? errorCode);
    }
}
