using Keel.Core.Recording;
using Keel.Core.Identity;
using Keel.Core.Feedback;
using Keel.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>Read access to recorded traces: filtered, paged lists and one trace with its spans and scores.</summary>
internal static class TracesApi
{
    private static readonly string[] ListParameters =
    [
        "limit", "cursor", "from", "to", "model", "provider", "status", "user", "session", "tag",
        "min_cost", "max_cost", "min_latency_ms", "max_latency_ms", "q", "project",
    ];

    public static IEndpointRouteBuilder MapTracesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/traces").Require(Permission.Read);
        group.MapGet("/", ListAsync);
        group.MapGet("/{traceId}", GetAsync);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, HttpRequest request, ITraceQueryStore store, CancellationToken cancellationToken)
    {
        if (!http.Caller().TryScope(request.Query["project"].ToString(), out var project))
        {
            return ErrorResults.NotFound($"No project with id '{request.Query["project"]}'.");
        }

        var query = new QueryParameters(request.Query);
        query.Allow(ListParameters);
        var limit = query.Integer("limit", 1, 1000) ?? 50;
        TraceCursor? after = null;
        if (query.String("cursor") is { } token)
        {
            if (TraceCursor.TryParse(token, out var cursor))
            {
                after = cursor;
            }
            else
            {
                query.Fail("cursor", $"Invalid cursor '{token}': pass the next_cursor of the previous page.");
            }
        }

        var filter = ReadFilter(query);
        if (query.Error is { } error)
        {
            return error.ToResult();
        }

        var page = await store.QueryAsync(filter with { ProjectId = project }, limit, after, cancellationToken);
        return TypedResults.Json(new TracePage(page.Data, page.Next?.Encode()), ControlPlaneJsonContext.Default.TracePage);
    }

    private static TraceFilter ReadFilter(QueryParameters query)
    {
        int? statusCode = null;
        var statusClass = TraceStatusFilter.Any;
        switch (query.String("status"))
        {
            case null:
                break;
            case "ok":
                statusClass = TraceStatusFilter.Ok;
                break;
            case "error":
                statusClass = TraceStatusFilter.Error;
                break;
            default:
                statusCode = query.Integer("status", 100, 599);
                if (statusCode is null)
                {
                    query.Fail("status", "'status' is 'ok' (below 400), 'error' (400 and above) or an HTTP status code.");
                }

                break;
        }

        return new TraceFilter
        {
            From = query.Time("from"),
            To = query.Time("to"),
            Model = query.String("model"),
            Provider = query.String("provider"),
            StatusCode = statusCode,
            Status = statusClass,
            UserId = query.String("user"),
            SessionId = query.String("session"),
            Tags = query.Strings("tag"),
            MinCostUsd = query.Number("min_cost", 0),
            MaxCostUsd = query.Number("max_cost", 0),
            MinLatencyMs = query.Number("min_latency_ms", 0),
            MaxLatencyMs = query.Number("max_latency_ms", 0),
            Text = query.String("q"),
        };
    }

    private static async Task<IResult> GetAsync(HttpContext http, IKeelStore store, IScoreStore scores, IAppSpanStore appSpans, string traceId, CancellationToken cancellationToken)
    {
        var caller = http.Caller();
        var scope = caller.OwnScope();
        var trace = await store.Traces.GetAsync(traceId, cancellationToken);
        var applicationSpans = await appSpans.ListAppSpansAsync(traceId, scope, cancellationToken);
        if (trace is null || !caller.CanSee(trace.ProjectId))
        {
            if (applicationSpans.Count == 0)
            {
                return ErrorResults.NotFound($"No trace with id '{traceId}'. Traces are written a moment after the request ends.");
            }

            // Only the application's spans: no gateway call carried this trace id (yet).
            trace = new TraceRecord { TraceId = traceId, StartedAt = applicationSpans[0].StartedAt, Operation = "app", ProjectId = scope };
        }

        var traceScores = await scores.ListScoresAsync(new ScoreQuery { TraceId = traceId, ProjectId = scope, Limit = 1000 }, cancellationToken);
        return TypedResults.Json(trace with { Scores = traceScores, AppSpans = applicationSpans.Count > 0 ? applicationSpans : null }, ControlPlaneJsonContext.Default.TraceRecord);
    }
}
