using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Keel.Core.Pipeline;

namespace Keel.Core.Providers;

/// <summary>Turns an upstream's error answer into the error the client sees: same status, upstream's message.</summary>
public static class UpstreamErrors
{
    private const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>Reads a failed upstream response (bounded) and maps it to a <see cref="GatewayError"/>.</summary>
    public static async Task<GatewayError> FromResponseAsync(string provider, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await ReadBoundedAsync(response.Content, MaxErrorBodyBytes, cancellationToken);
        return FromBody(provider, (int)response.StatusCode, body) with { RetryAfter = RetryAfter(response.Headers) };
    }

    /// <summary>
    /// Understands OpenAI's <c>{"error":{"message","type","code","param"}}</c> and Anthropic's
    /// <c>{"type":"error","error":{"type","message"}}</c>; anything else is quoted, shortened.
    /// </summary>
    public static GatewayError FromBody(string provider, int status, ReadOnlySpan<byte> body)
    {
        var fallbackType = status >= 500 ? "upstream_error" : "invalid_request_error";
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return new GatewayError(status, fallbackType, null, error.GetString() ?? "", null);
                }

                if (error.ValueKind == JsonValueKind.Object)
                {
                    return new GatewayError(
                        status,
                        GetString(error, "type") ?? fallbackType,
                        GetString(error, "code"),
                        GetString(error, "message") ?? $"Provider '{provider}' answered {status}.",
                        GetString(error, "param"));
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: quoted below.
        }

        var text = Encoding.UTF8.GetString(body).Trim();
        if (text.Length > 300)
        {
            text = text[..300] + "…";
        }

        return new GatewayError(status, fallbackType, null, text.Length == 0 ? $"Provider '{provider}' answered {status} with no body." : $"Provider '{provider}' answered {status}: {text}");
    }

    public static async Task<byte[]> ReadBoundedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0 && buffer.Length < limit)
        {
            buffer.Write(chunk, 0, Math.Min(read, limit - (int)buffer.Length));
        }

        return buffer.ToArray();
    }

    /// <summary>The upstream's Retry-After (seconds or a date), or OpenAI's retry-after-ms, when it sent one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        if (headers.TryGetValues("retry-after-ms", out var ms) &&
            double.TryParse(ms.FirstOrDefault(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var millis) && millis >= 0)
        {
            return TimeSpan.FromMilliseconds(millis);
        }

        return headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;
}
