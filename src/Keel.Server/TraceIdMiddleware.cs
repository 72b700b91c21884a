using Keel.Core.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Keel.Server;

/// <summary>Gives every request a trace id and returns it in x-keel-trace-id, whatever the outcome.</summary>
internal sealed class TraceIdMiddleware(RequestDelegate next)
{
    public const string HeaderName = "x-keel-trace-id";
    private static readonly object ItemKey = new();

    public Task InvokeAsync(HttpContext http)
    {
        var traceId = TraceBuilder.NewTraceId();
        http.Items[ItemKey] = traceId;
        http.Response.Headers[HeaderName] = traceId;
        return next(http);
    }

    public static string GetTraceId(HttpContext http) =>
        http.Items.TryGetValue(ItemKey, out var id) && id is string s ? s : TraceBuilder.NewTraceId();
}
