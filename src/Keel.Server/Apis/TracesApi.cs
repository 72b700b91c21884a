using Keel.Core.Identity;
using System.Globalization;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>Read access to recorded traces.</summary>
internal static class TracesApi
{
    public static IEndpointRouteBuilder MapTracesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/traces").Require(Permission.Read);
        group.MapGet("/", ListAsync);
        group.MapGet("/{traceId}", GetAsync);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, IKeelStore store, string? project, string? model, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!http.Caller().TryScope(project, out var scope))
        {
            return ErrorResults.NotFound($"No project with id '{project}'.");
        }

        DateTimeOffset? before = null;
        if (cursor is not null)
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                return ErrorResults.BadRequest($"Invalid cursor '{cursor}': pass the next_cursor of the previous page.", "cursor");
            }

            before = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }

        if (limit is < 1 or > 1000)
        {
            return ErrorResults.BadRequest("'limit' must be between 1 and 1000.", "limit");
        }

        var pageSize = limit ?? 50;
        var traces = await store.Traces.ListAsync(new TraceQuery { ProjectId = scope, Model = model, Limit = pageSize, Before = before }, cancellationToken);
        var next = traces.Count == pageSize ? traces[^1].StartedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Json(new TracePage(traces, next), ControlPlaneJsonContext.Default.TracePage);
    }

    private static async Task<IResult> GetAsync(HttpContext http, IKeelStore store, string traceId, CancellationToken cancellationToken)
    {
        var trace = await store.Traces.GetAsync(traceId, cancellationToken);
        return trace is null || !http.Caller().CanSee(trace.ProjectId)
            ? ErrorResults.NotFound($"No trace with id '{traceId}'. Traces are written a moment after the request ends.")
            : TypedResults.Json(trace, ControlPlaneJsonContext.Default.TraceRecord);
    }
}
