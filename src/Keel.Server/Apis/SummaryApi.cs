using Keel.Core.Identity;
using Keel.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>Usage summaries: <c>GET /api/metrics/summary</c>.</summary>
internal static class SummaryApi
{
    /// <summary>The summary's range when the query gives none: the last day.</summary>
    private static readonly TimeSpan DefaultRange = TimeSpan.FromDays(1);

    public static IEndpointRouteBuilder MapSummaryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/metrics/summary", SummaryAsync).Require(Permission.Read);
        return app;
    }

    private static async Task<IResult> SummaryAsync(HttpContext http, HttpRequest request, ITraceSummaryStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!http.Caller().TryScope(request.Query["project"].ToString(), out var project))
        {
            return ErrorResults.NotFound($"No project with id '{request.Query["project"]}'.");
        }

        var query = new QueryParameters(request.Query);
        query.Allow("from", "to", "group_by", "project");
        var to = query.Time("to") ?? time.GetUtcNow();
        var from = query.Time("from") ?? to - DefaultRange;
        var groupBy = SummaryGrouping.None;
        if (query.String("group_by") is { } grouping && !Enum.TryParse(grouping, ignoreCase: true, out groupBy))
        {
            query.Fail("group_by", $"'group_by' must be one of model, project, key, user, day, not '{grouping}'.");
        }

        if (from >= to)
        {
            query.Fail("from", "'from' must be before 'to'.");
        }

        if (query.Error is { } error)
        {
            return error.ToResult();
        }

        var summary = await store.SummarizeAsync(new SummaryQuery(from, to, groupBy, project), cancellationToken);
        return TypedResults.Json(summary, ControlPlaneJsonContext.Default.TraceSummary);
    }
}
