using System.Text.Json;
using Keel.Core.Providers.Local;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline.Stages;

/// <summary>Parses the wire body into the typed request and checks its shape and size.</summary>
internal sealed class IngressStage : IGatewayStage
{
    public string Name => "ingress";

    public int Order => StageOrder.Ingress;

    public ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        if (context.BodyTooLarge)
        {
            context.Fail(GatewayError.TooLarge(context.Snapshot.Config.Server.MaxRequestBodyBytes));
            return ValueTask.CompletedTask;
        }

        if (Parse(context) is { } error)
        {
            context.Fail(error);
            return ValueTask.CompletedTask;
        }

        Recording.TraceDimensions.Apply(context);
        context.CurrentSpan?.Set("gen_ai.request.model", context.RequestedModel).Set("keel.stream", context.IsStreaming);
        return next(context);
    }

    private static GatewayError? Parse(GatewayContext context)
    {
        var body = context.RawBody.Span;
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            return GatewayError.InvalidRequest("The request body is empty; send a JSON object.", null, "invalid_json");
        }

        try
        {
            if (context.Operation == GatewayOperation.Chat)
            {
                var request = JsonSerializer.Deserialize(body, KeelJsonContext.Default.ChatCompletionRequest);
                if (request is null)
                {
                    return NotAnObject();
                }

                if (RequestValidator.Validate(request) is { } invalid)
                {
                    return invalid;
                }

                context.Chat = request;
                context.RequestedModel = request.Model;
                context.IsStreaming = request.Stream == true;
            }
            else
            {
                var request = JsonSerializer.Deserialize(body, KeelJsonContext.Default.EmbeddingRequest);
                if (request is null)
                {
                    return NotAnObject();
                }

                if (string.IsNullOrWhiteSpace(request.Model))
                {
                    return GatewayError.InvalidRequest("You must provide a model parameter.", "model", "missing_required_parameter");
                }

                if (EmbeddingInputs.Validate(request.Input) is { } inputError)
                {
                    return GatewayError.InvalidRequest(inputError, "input", "invalid_value");
                }

                if (request.EncodingFormat is not (null or "float" or "base64"))
                {
                    return GatewayError.InvalidRequest($"Invalid value for 'encoding_format': '{request.EncodingFormat}'. Supported values are: 'float' and 'base64'.", "encoding_format", "invalid_value");
                }

                context.Embeddings = request;
                context.RequestedModel = request.Model;
            }
        }
        catch (JsonException ex)
        {
            return GatewayError.InvalidRequest(Describe(ex), ParamOf(ex.Path), "invalid_json");
        }

        return null;
    }

    private static GatewayError NotAnObject() =>
        GatewayError.InvalidRequest("The request body must be a JSON object.", null, "invalid_json");

    private static string Describe(JsonException ex)
    {
        var where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : "";
        var path = ParamOf(ex.Path);
        // System.Text.Json says "The JSON value could not be converted to System.String" for a type mismatch.
        if (ex.Message.Contains("could not be converted", StringComparison.Ordinal) && path is not null)
        {
            return $"Invalid type for '{path}'{where}.";
        }

        var reason = ex.InnerException?.Message ?? ex.Message;
        foreach (var marker in (ReadOnlySpan<string>)[" Path:", " LineNumber:"])
        {
            var cut = reason.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0)
            {
                reason = reason[..cut];
            }
        }

        return $"We could not parse the JSON body of your request{where}: {reason}";
    }

    /// <summary>"$.messages[0].role" -> "messages[0].role".</summary>
    private static string? ParamOf(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) || jsonPath == "$" ? null : jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath;
}
