using Keel.Core.Identity;
using Keel.Core.Feedback;
using Keel.Core.Pipeline;
using Keel.Core.Recording;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>A list of scores.</summary>
internal sealed record ScoreList(IReadOnlyList<ScoreRecord> Data);

/// <summary>Scores and feedback on traces: <c>POST /api/scores</c>, <c>GET /api/scores</c>.</summary>
internal static class ScoresApi
{
    /// <summary>Largest score body accepted.</summary>
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>How long a score for a trace not yet in the store waits for the recorder to write it.</summary>
    private static readonly TimeSpan PendingTraceWait = TimeSpan.FromSeconds(2);

    public static IEndpointRouteBuilder MapScoresApi(this IEndpointRouteBuilder app)
    {
        // Feedback comes from applications, which hold gateway keys: posting a score needs the right to call models.
        var group = app.MapGroup("/api/scores");
        group.MapPost("/", AddAsync).Require(Permission.CallModels);
        group.MapGet("/", ListAsync).Require(Permission.Read);
        return app;
    }

    private static async Task<IResult> AddAsync(HttpRequest request, IScoreStore store, TraceRecorder recorder, TimeProvider time, CancellationToken cancellationToken)
    {
        var tooLarge = new GatewayError(413, "invalid_request_error", "request_too_large", $"A score's body is at most {MaxBodyBytes / 1024} KB.");
        if (request.ContentLength > MaxBodyBytes)
        {
            return tooLarge.ToResult();
        }

        // Read at most one byte past the limit, whatever the client declared.
        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
        {
            length += read;
        }

        if (length > MaxBodyBytes)
        {
            return tooLarge.ToResult();
        }

        var (score, error) = ScoreInput.Parse(buffer.AsSpan(0, length), "score_" + Guid.NewGuid().ToString("n"), time.GetUtcNow());
        if (error is not null)
        {
            return ErrorResults.BadRequest(error.Message, error.Param);
        }

        if (!await store.AddScoreAsync(score!, request.HttpContext.Caller().OwnScope(), cancellationToken))
        {
            // Traces are written a few milliseconds after their request ends: a score sent right after
            // the answer may arrive first. Let the recorder catch up once before answering 404.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(PendingTraceWait);
            try
            {
                await recorder.FlushAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Still busy: the second attempt decides.
            }

            if (!await store.AddScoreAsync(score!, request.HttpContext.Caller().OwnScope(), cancellationToken))
            {
                return ErrorResults.NotFound($"No trace with id '{score!.TraceId}'. Score a trace by the x-keel-trace-id of its response.");
            }
        }

        var stored = (await store.ListScoresAsync(new ScoreQuery { TraceId = score!.TraceId, ProjectId = request.HttpContext.Caller().OwnScope(), Limit = 1000 }, cancellationToken)).First(s => s.ScoreId == score.ScoreId);
        return TypedResults.Json(stored, ControlPlaneJsonContext.Default.ScoreRecord, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, IScoreStore store, CancellationToken cancellationToken)
    {
        var query = new QueryParameters(request.Query);
        query.Allow("trace_id", "name", "limit");
        var scoreQuery = new ScoreQuery { TraceId = query.String("trace_id"), Name = query.String("name"), ProjectId = request.HttpContext.Caller().OwnScope(), Limit = query.Integer("limit", 1, 1000) ?? 100 };
        if (query.Error is { } error)
        {
            return error.ToResult();
        }

        var scores = await store.ListScoresAsync(scoreQuery, cancellationToken);
        return TypedResults.Json(new ScoreList(scores), ControlPlaneJsonContext.Default.ScoreList);
    }
}
