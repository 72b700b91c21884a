using Keel.Core.Configuration;
using Keel.Core.Identity;
using Keel.Core.Storage;
using Keel.Core.Telemetry.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>
/// <c>POST /v1/traces</c>: OTLP/HTTP ingest (protobuf or JSON). Applications instrumented with OpenTelemetry send
/// their own spans (retrieval, tool calls, agent steps) with the key they call models with; the spans are stored in
/// the key's project and shown with the gateway trace of the same trace id.
/// </summary>
internal static class OtlpApi
{
    public static IEndpointRouteBuilder MapOtlpApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/traces", IngestAsync).Require(Permission.CallModels);
        return app;
    }

    private static async Task<IResult> IngestAsync(HttpContext http, IAppSpanStore store, GatewayState state, CancellationToken cancellationToken)
    {
        var limit = state.Current.Config.Server.MaxRequestBodyBytes;
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit)
            {
                return new GatewayErrorResult(Core.Pipeline.GatewayError.TooLarge(limit));
            }
        }

        var json = http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true;
        if (!json && http.Request.ContentType?.StartsWith("application/x-protobuf", StringComparison.OrdinalIgnoreCase) != true)
        {
            return new GatewayErrorResult(new Core.Pipeline.GatewayError(415, "invalid_request_error", "unsupported_media_type",
                "OTLP/HTTP bodies are application/x-protobuf or application/json."));
        }

        List<IngestedSpan> spans;
        try
        {
            spans = json ? OtlpTraceDecoder.DecodeJson(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)) : OtlpTraceDecoder.DecodeProtobuf(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        }
        catch (FormatException ex)
        {
            return ErrorResults.BadRequest($"The OTLP request could not be read: {ex.Message}", null);
        }

        var caller = http.Caller();
        if (spans.Count > 0)
        {
            await store.WriteAppSpansAsync(caller.ProjectId ?? Projects.Default, spans, cancellationToken);
        }

        // An empty ExportTraceServiceResponse: no partial_success, in the encoding of the request.
        return json ? Results.Text("{}", "application/json") : Results.Bytes([], "application/x-protobuf");
    }
}
