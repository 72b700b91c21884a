namespace Keel.Core.Pipeline;

/// <summary>
/// An error as a value: what the client is told (OpenAI error JSON fields plus the HTTP status).
/// Stages set <see cref="GatewayContext.Error"/> and return instead of throwing.
/// </summary>
public sealed record GatewayError(int StatusCode, string Type, string? Code, string Message, string? Param = null)
{
    /// <summary>How long the client should wait before trying again (sent as Retry-After).</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static GatewayError InvalidRequest(string message, string? param = null, string? code = null) =>
        new(400, "invalid_request_error", code, message, param);

    public static GatewayError Unauthorized(string message, string code = "invalid_api_key") =>
        new(401, "invalid_request_error", code, message);

    public static GatewayError ModelNotFound(string model, string message) =>
        new(404, "invalid_request_error", "model_not_found", message, "model");

    public static GatewayError TooLarge(long limit) =>
        new(413, "invalid_request_error", "request_too_large", $"The request body is larger than the limit of {limit} bytes (server.max_request_body_bytes).");

    public static GatewayError UpstreamUnreachable(string provider, string detail) =>
        new(502, "upstream_error", "upstream_unreachable", $"Provider '{provider}' could not be reached: {detail}");

    public static GatewayError UpstreamTimeout(string provider, TimeSpan timeout) =>
        new(504, "upstream_error", "upstream_timeout", $"Provider '{provider}' did not answer within {timeout.TotalSeconds:0.###} s.");

    public static GatewayError UpstreamInvalid(string provider, string detail) =>
        new(502, "upstream_error", "upstream_invalid_response", $"Provider '{provider}' sent a response Keel could not read: {detail}");
}

/// <summary>Thrown by a provider's chunk stream when the upstream fails after streaming began.</summary>
public sealed class UpstreamStreamException(GatewayError error, Exception? inner = null)
    : Exception(error.Message, inner)
{
    public GatewayError Error { get; } = error;
}
