using Keel.Core.Identity;

namespace Keel.Core.Storage;

/// <summary>Deleting what is no longer to be kept: traces past their retention, and everything about one end user.</summary>
public interface IDataLifecycleStore
{
    /// <summary>
    /// Deletes up to <paramref name="batch"/> traces (and their scores) of <paramref name="projectId"/> that started
    /// before <paramref name="cutoff"/>; returns how many. Call again until it returns less than the batch.
    /// </summary>
    Task<int> DeleteTracesBeforeAsync(string projectId, DateTimeOffset cutoff, int batch, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes every trace of end user <paramref name="userId"/> (in <paramref name="projectId"/>, or every project
    /// when null) and the scores on them, and records <paramref name="audit"/> (with the counts) in the same transaction.
    /// </summary>
    Task<(int Traces, int Scores)> EraseUserAsync(string userId, string? projectId, Func<int, int, AuditEntry> audit, CancellationToken cancellationToken);
}
