using Keel.Core.Feedback;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

/// <summary>Scores and feedback (table <c>scores</c>, migration 3).</summary>
public sealed partial class SqliteStore : IScoreStore
{
    private const string ScoreColumns = "score_id, trace_id, project_id, name, data_type, value, string_value, comment, source, created_at";

    public async Task<bool> AddScoreAsync(ScoreRecord score, string? projectScope, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is not initialized.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var command = writer.CreateCommand();
            // One statement: the trace must exist, and the score takes its project.
            command.CommandText = $"""
                INSERT INTO scores ({ScoreColumns})
                SELECT $id, t.trace_id, t.project_id, $name, $type, $value, $string, $comment, $source, $created FROM traces t WHERE t.trace_id = $trace AND ($project IS NULL OR t.project_id = $project)
                """;
            command.Parameters.AddWithValue("$project", (object?)projectScope ?? DBNull.Value);
            command.Parameters.AddWithValue("$id", score.ScoreId);
            command.Parameters.AddWithValue("$trace", score.TraceId);
            command.Parameters.AddWithValue("$name", score.Name);
            command.Parameters.AddWithValue("$type", score.DataType);
            command.Parameters.AddWithValue("$value", (object?)score.Value ?? DBNull.Value);
            command.Parameters.AddWithValue("$string", (object?)score.StringValue ?? DBNull.Value);
            command.Parameters.AddWithValue("$comment", (object?)score.Comment ?? DBNull.Value);
            command.Parameters.AddWithValue("$source", score.Source);
            command.Parameters.AddWithValue("$created", score.CreatedAt.ToUnixTimeMilliseconds());
            return command.ExecuteNonQuery() == 1;
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"sqlite_{ex.SqliteErrorCode}", $"Writing a score failed: {ex.Message}", IsTransient(ex), ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<IReadOnlyList<ScoreRecord>> ListScoresAsync(ScoreQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = new List<string>();
        Equal(where, command.Parameters, "trace_id", "$trace", query.TraceId);
        Equal(where, command.Parameters, "project_id", "$project", query.ProjectId);
        Equal(where, command.Parameters, "name", "$name", query.Name);

        command.CommandText = $"SELECT {ScoreColumns} FROM scores {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY created_at DESC, rowid DESC LIMIT $limit";
        command.Parameters.AddWithValue("$limit", Math.Clamp(query.Limit, 1, 1000));
        var scores = new List<ScoreRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            scores.Add(new ScoreRecord
            {
                ScoreId = reader.GetString(0),
                TraceId = reader.GetString(1),
                ProjectId = reader.IsDBNull(2) ? null : reader.GetString(2),
                Name = reader.GetString(3),
                DataType = reader.GetString(4),
                Value = reader.IsDBNull(5) ? null : reader.GetDouble(5),
                StringValue = reader.IsDBNull(6) ? null : reader.GetString(6),
                Comment = reader.IsDBNull(7) ? null : reader.GetString(7),
                Source = reader.GetString(8),
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)),
            });
        }

        return scores;
    }
}
