using Keel.Core.Identity;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

public sealed partial class SqliteStore : IDataLifecycleStore
{
    public IDataLifecycleStore Lifecycle => this;

    public async Task<int> DeleteTracesBeforeAsync(string projectId, DateTimeOffset cutoff, int batch, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is not initialized.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            // In batches: each holds the write lock briefly, so the recorder keeps writing between them.
            using var transaction = writer.BeginTransaction();
            using var command = writer.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                CREATE TEMP TABLE IF NOT EXISTS expiring (rowid INTEGER PRIMARY KEY, trace_id TEXT NOT NULL);
                DELETE FROM expiring;
                INSERT INTO expiring (rowid, trace_id)
                    SELECT rowid, trace_id FROM traces
                    WHERE (project_id = $project OR ($project = 'default' AND project_id IS NULL)) AND started_at < $cutoff
                    LIMIT $batch;
                DELETE FROM scores WHERE trace_id IN (SELECT trace_id FROM expiring);
                DELETE FROM traces WHERE rowid IN (SELECT rowid FROM expiring);
                SELECT COUNT(*) FROM expiring;
                """;
            command.Parameters.AddWithValue("$project", projectId);
            command.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$batch", batch);
            var deleted = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            transaction.Commit();
            return deleted;
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"sqlite_{ex.SqliteErrorCode}", $"Deleting expired traces failed: {ex.Message}", IsTransient(ex), ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<(int Traces, int Scores)> EraseUserAsync(string userId, string? projectId, Func<int, int, AuditEntry> audit, CancellationToken cancellationToken)
    {
        var (traces, scores) = (0, 0);
        await WriteWithAuditAsync(() => audit(traces, scores), command =>
        {
            command.CommandText = """
                DELETE FROM scores WHERE trace_id IN (SELECT trace_id FROM traces WHERE user_id = $user AND ($project IS NULL OR project_id = $project));
                SELECT changes();
                """;
            command.Parameters.AddWithValue("$user", userId);
            command.Parameters.AddWithValue("$project", (object?)projectId ?? DBNull.Value);
            scores = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            command.CommandText = "DELETE FROM traces WHERE user_id = $user AND ($project IS NULL OR project_id = $project); SELECT changes();";
            traces = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            return true; // the erasure is audited even when nothing was stored about the user
        }, cancellationToken);
        return (traces, scores);
    }
}
