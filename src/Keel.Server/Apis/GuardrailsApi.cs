using Keel.Core.Identity;
using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Keel.Core.Configuration;
using Keel.Core.Guardrails;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary><c>POST /v1/guardrails/scan</c>: test a policy on text without calling a model.</summary>
internal static class GuardrailsApi
{
    private const int MaxTexts = 1000;
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static IEndpointRouteBuilder MapGuardrailsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/guardrails/scan", ScanAsync).Require(Permission.CallModels);
        return app;
    }

    private static async Task<IResult> ScanAsync(HttpContext http, GatewayState state, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException ex)
        {
            return ErrorResults.BadRequest($"The body is not valid JSON: {ex.Message.Split(" Path:", 2)[0]}", null);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ErrorResults.BadRequest("The body must be a JSON object: {\"input\": \"text\" or [\"text\", ...], \"policy\"?: \"name\", \"direction\"?: \"input\"|\"output\"}.", null);
            }

            var texts = new List<string>();
            var single = false;
            var hasInput = root.TryGetProperty("input", out var input) || root.TryGetProperty("text", out input);
            if (!hasInput)
            {
                return ErrorResults.BadRequest("'input' is required: a string, or an array of strings.", "input");
            }
            if (input.ValueKind == JsonValueKind.String)
            {
                texts.Add(input.GetString()!);
                single = true;
            }
            else if (input.ValueKind == JsonValueKind.Array && input.GetArrayLength() is > 0 and <= MaxTexts
                && input.EnumerateArray().All(static e => e.ValueKind == JsonValueKind.String))
            {
                texts.AddRange(input.EnumerateArray().Select(static e => e.GetString()!));
            }
            else
            {
                return ErrorResults.BadRequest($"'input' must be a string or an array of 1 to {MaxTexts} strings.", "input");
            }

            string? policyName = null;
            if (root.TryGetProperty("policy", out var policyNode) && policyNode.ValueKind != JsonValueKind.Null)
            {
                if (policyNode.ValueKind != JsonValueKind.String)
                {
                    return ErrorResults.BadRequest("'policy' must be the name of a guardrail policy.", "policy");
                }
                policyName = policyNode.GetString();
            }

            var direction = ScanDirection.Input;
            if (root.TryGetProperty("direction", out var directionNode))
            {
                switch (directionNode.ValueKind == JsonValueKind.String ? directionNode.GetString() : null)
                {
                    case "input":
                        break;
                    case "output":
                        direction = ScanDirection.Output;
                        break;
                    default:
                        return ErrorResults.BadRequest("'direction' must be \"input\" or \"output\".", "direction");
                }
            }

            var policy = GuardrailScan.ResolvePolicy(state.Current.Guardrails, policyName, out var policyError);
            if (policy is null)
            {
                return new GatewayErrorResult(new Core.Pipeline.GatewayError(404, "invalid_request_error", "policy_not_found", policyError!, "policy"));
            }

            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteString("policy", policy.Name);
                writer.WriteString("direction", direction == ScanDirection.Input ? "input" : "output");
                if (!single)
                {
                    writer.WriteStartArray("results");
                }
                foreach (var text in texts)
                {
                    var verdict = GuardrailScan.Scan(policy, text, direction, out var scanError);
                    if (verdict is null)
                    {
                        return ErrorResults.BadRequest(scanError!, "direction");
                    }
                    if (single)
                    {
                        GuardrailScan.WriteFields(writer, verdict);
                    }
                    else
                    {
                        GuardrailScan.Write(writer, verdict);
                    }
                }
                if (!single)
                {
                    writer.WriteEndArray();
                }
                writer.WriteEndObject();
            }
            return Results.Bytes(buffer.WrittenMemory.ToArray(), "application/json");
        }
    }
}
