using Keel.Core.Configuration;
using Keel.Core.Pipeline;

namespace Keel.Core.Routing;

/// <summary>Sorts an upstream error into the class that decides retry and fallback.</summary>
public static class ErrorClassifier
{
    public static ErrorClasses Classify(GatewayError error)
    {
        var code = error.Code ?? "";
        var message = error.Message;
        switch (error.StatusCode)
        {
            case 429:
                return ErrorClasses.RateLimit;
            case 504 when code == "upstream_timeout":
            case 408:
                return ErrorClasses.Timeout;
            case 502 when code == "upstream_unreachable":
                return ErrorClasses.Connection;
            case >= 500:
                return ErrorClasses.ServerError;
        }

        if (code is "context_length_exceeded" or "string_above_max_length" ||
            message.Contains("maximum context length", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("context window", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("too many tokens", StringComparison.OrdinalIgnoreCase))
        {
            return ErrorClasses.ContextLength;
        }

        if (code is "content_policy_violation" or "content_filter" ||
            message.Contains("content management policy", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("content policy", StringComparison.OrdinalIgnoreCase))
        {
            return ErrorClasses.ContentPolicy;
        }

        return ErrorClasses.Client;
    }

    /// <summary>The config name of a class ("rate_limit"…), for spans and docs.</summary>
    public static string Name(ErrorClasses errorClass) => errorClass switch
    {
        ErrorClasses.None => "ok",
        ErrorClasses.RateLimit => "rate_limit",
        ErrorClasses.ServerError => "server_error",
        ErrorClasses.Timeout => "timeout",
        ErrorClasses.Connection => "connection",
        ErrorClasses.ContextLength => "context_length",
        ErrorClasses.ContentPolicy => "content_policy",
        _ => "client_error",
    };
}
