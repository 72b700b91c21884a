namespace Keel.Core.Feedback;

/// <summary>Which scores to list.</summary>
public sealed record ScoreQuery
{
    public string? TraceId { get; init; }

    /// <summary>Only scores of this project's traces; null = every project (admins).</summary>
    public string? ProjectId { get; init; }
    public string? Name { get; init; }
    public int Limit { get; init; } = 100;
}

/// <summary>Scores and feedback on traces.</summary>
public interface IScoreStore
{
    /// <summary>Stores a score on its trace (taking the trace's project); false when the trace does not exist.</summary>
    /// <remarks>With <c>projectScope</c> set, the trace must belong to that project (else: false, as for no trace).</remarks>
    Task<bool> AddScoreAsync(ScoreRecord score, string? projectScope, CancellationToken cancellationToken);

    /// <summary>Scores, newest first.</summary>
    Task<IReadOnlyList<ScoreRecord>> ListScoresAsync(ScoreQuery query, CancellationToken cancellationToken);
}
