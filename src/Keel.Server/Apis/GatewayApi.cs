using System.Buffers;
using System.Text.Json;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.Server.Apis;

/// <summary>The OpenAI-compatible surface: chat completions, embeddings, models.</summary>
internal static class GatewayApi
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static IEndpointRouteBuilder MapGatewayApi(this IEndpointRouteBuilder app)
    {
        // Both "/v1/..." and the bare paths, as clients configured with a base URL without /v1 use them.
        foreach (var prefix in new[] { "/v1", "" })
        {
            app.MapPost($"{prefix}/chat/completions", (HttpContext http) => HandleAsync(http, GatewayOperation.Chat)).AllowInline();
            app.MapPost($"{prefix}/embeddings", (HttpContext http) => HandleAsync(http, GatewayOperation.Embeddings)).AllowInline();
            app.MapGet($"{prefix}/models", ListModelsAsync).AllowInline();
        }

        return app;
    }

    private static async Task HandleAsync(HttpContext http, GatewayOperation operation)
    {
        var services = http.RequestServices;
        var snapshot = services.GetRequiredService<GatewayState>().Current;
        var limit = snapshot.Config.Server.MaxRequestBodyBytes;
        ReadOnlyMemory<byte> body;
        bool tooLarge;
        try
        {
            (body, tooLarge) = await ReadBodyAsync(http.Request, limit, http.RequestAborted);
        }
        catch (Exception ex) when (http.RequestAborted.IsCancellationRequested || ex is Microsoft.AspNetCore.Http.BadHttpRequestException or IOException)
        {
            // The client went away (or broke the framing) before its body arrived: nothing to answer.
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        if (InlineIo.ShouldLeaveEventThread(body.Length))
        {
            // Parsing and scanning a body this large would hold up the event thread's other connections.
            await Task.Yield();
        }

        var context = new GatewayContext(operation, snapshot, body, TraceIdMiddleware.GetTraceId(http), services.GetRequiredService<TimeProvider>())
        {
            BodyTooLarge = tooLarge,
            GetHeader = HttpIdentity.HeaderReader(http.Request),
            RemoteAddress = http.Connection.RemoteIpAddress,
            KeyInQuery = HttpIdentity.HasKeyInQuery(http.Request),
            RequestAborted = http.RequestAborted,
            RecordsAfterResponse = true,
        };

        await services.GetRequiredService<GatewayPipeline>().InvokeAsync(context);
        try
        {
            await WriteResponseAsync(http, context, snapshot);
        }
        finally
        {
            context.ResponseWritten();
        }
    }

    private static async Task WriteResponseAsync(HttpContext http, GatewayContext context, Core.Providers.GatewaySnapshot snapshot)
    {
        if (context.HasResponseHeaders)
        {
            foreach (var (name, value) in context.ResponseHeaders)
            {
                http.Response.Headers[name] = value;
            }
        }

        if (context.Error is { } error)
        {
            if (!http.RequestAborted.IsCancellationRequested)
            {
                await ErrorWriter.WriteAsync(http, error, snapshot);
            }

            return;
        }

        switch (context.Response)
        {
            case JsonBodyResponse json:
                http.Response.StatusCode = json.StatusCode;
                http.Response.ContentType = "application/json";
                http.Response.ContentLength = json.Body.Length;
                await http.Response.BodyWriter.WriteAsync(json.Body, http.RequestAborted);
                break;
            case StreamingResponse stream:
                await WriteStreamAsync(http, context, stream, snapshot);
                break;
            default:
                await ErrorWriter.WriteAsync(http, new GatewayError(500, "server_error", "no_response", "The pipeline produced no response."), snapshot);
                break;
        }
    }

    /// <summary>
    /// Relays chunks as SSE events, flushing each as it arrives. The status line waits for the first
    /// chunk, so an upstream that fails before producing anything still gets a proper error status.
    /// </summary>
    private static async Task WriteStreamAsync(HttpContext http, GatewayContext context, StreamingResponse stream, Core.Providers.GatewaySnapshot snapshot)
    {
        var enumerator = stream.Chunks.GetAsyncEnumerator(http.RequestAborted);
        try
        {
            bool hasChunk;
            try
            {
                hasChunk = await enumerator.MoveNextAsync();
            }
            catch (UpstreamStreamException ex)
            {
                await ErrorWriter.WriteAsync(http, ex.Error, snapshot);
                return;
            }

            http.Response.StatusCode = stream.StatusCode;
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers["X-Accel-Buffering"] = "no";
            var writer = http.Response.BodyWriter;
            while (hasChunk)
            {
                writer.Write(DataPrefix);
                writer.Write(enumerator.Current.Span);
                writer.Write(EventEnd);
                var flush = await writer.FlushAsync(http.RequestAborted);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    context.ClientDisconnected = true;
                    return;
                }

                try
                {
                    hasChunk = await enumerator.MoveNextAsync();
                }
                catch (UpstreamStreamException ex)
                {
                    // Headers are gone: the error becomes the last event, and there is no [DONE].
                    writer.Write(DataPrefix);
                    writer.Write(ErrorWriter.ToBytes(ex.Error, snapshot));
                    writer.Write(EventEnd);
                    await writer.FlushAsync(http.RequestAborted);
                    return;
                }
            }

            writer.Write(Done);
            await writer.FlushAsync(http.RequestAborted);
        }
        catch (Exception ex) when (http.RequestAborted.IsCancellationRequested || ex is IOException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // The client went away; disposing the stream below cancels the upstream call.
            context.ClientDisconnected = true;
        }
        finally
        {
            await enumerator.DisposeAsync();
        }
    }

    /// <summary>Reads the body up to <paramref name="limit"/>; beyond it stops reading and reports too large.</summary>
    private static async Task<(ReadOnlyMemory<byte> Body, bool TooLarge)> ReadBodyAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > limit)
        {
            return (ReadOnlyMemory<byte>.Empty, true);
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            if (result.Buffer.Length > limit)
            {
                reader.AdvanceTo(result.Buffer.End);
                return (ReadOnlyMemory<byte>.Empty, true);
            }

            if (result.IsCompleted)
            {
                var body = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return (body, false);
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async Task ListModelsAsync(HttpContext http)
    {
        var snapshot = http.RequestServices.GetRequiredService<GatewayState>().Current;
        if (HttpIdentity.Authenticate(http, snapshot, out var error) is null)
        {
            await ErrorWriter.WriteAsync(http, error!, snapshot);
            return;
        }

        var list = new ModelList
        {
            Data = [.. snapshot.Models.Values.OrderBy(m => m.Alias, StringComparer.Ordinal).Select(m => new ModelInfo { Id = m.Alias, OwnedBy = m.Deployments[0].Provider.Name, Created = 0 })],
        };
        http.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(http.Response.Body, list, KeelJson.Context.ModelList, http.RequestAborted);
    }
}
