using System.Text.Json;
using Keel.Core.Pipeline;
using Keel.Core.Providers;
using Keel.Core.Wire;
using Microsoft.AspNetCore.Http;

namespace Keel.Server;

/// <summary>Writes OpenAI-style error JSON, with every configured secret scrubbed from the message.</summary>
internal static class ErrorWriter
{
    public static Task WriteAsync(HttpContext http, GatewayError error, GatewaySnapshot? snapshot)
    {
        http.Response.StatusCode = error.StatusCode;
        http.Response.ContentType = "application/json";
        if (error.RetryAfter is { } retryAfter)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var envelope = new ErrorEnvelope
        {
            Error = new ErrorBody
            {
                Message = snapshot?.Redact(error.Message) ?? error.Message,
                Type = error.Type,
                Param = error.Param,
                Code = error.Code,
            },
        };
        return JsonSerializer.SerializeAsync(http.Response.Body, envelope, KeelJson.Context.ErrorEnvelope, http.RequestAborted);
    }

    public static byte[] ToBytes(GatewayError error, GatewaySnapshot snapshot) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new ErrorEnvelope { Error = new ErrorBody { Message = snapshot.Redact(error.Message), Type = error.Type, Param = error.Param, Code = error.Code } },
            KeelJson.Context.ErrorEnvelope);
}
