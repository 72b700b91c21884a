using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

/// <summary>
/// The embedded default store: one SQLite file in WAL mode. Writes go through one connection under
/// a lock (SQLite has one writer anyway); reads open pooled connections and never block on writes.
/// </summary>
public sealed class SqliteStore : IKeelStore, ITraceStore
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private SqliteConnection? _writer;

    public SqliteStore(string databasePath)
    {
        DatabasePath = databasePath;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string DatabasePath { get; }

    public ITraceStore Traces => this;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(DatabasePath));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _writer = new SqliteConnection(_connectionString);
        await _writer.OpenAsync(cancellationToken);
        await ExecuteAsync(_writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;", cancellationToken);
        await MigrateAsync(_writer, cancellationToken);
    }

    /// <summary>The schema version now applied.</summary>
    public async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM keel_migrations";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenReaderAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 1;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    public async Task WriteBatchAsync(IReadOnlyList<TraceRecord> traces, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is not initialized.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var transaction = (SqliteTransaction)await writer.BeginTransactionAsync(cancellationToken);
            await using var traceCommand = writer.CreateCommand();
            traceCommand.Transaction = transaction;
            traceCommand.CommandText = """
                INSERT OR REPLACE INTO traces (trace_id, started_at, operation, project_id, key_id, model, provider, upstream_model,
                    stream, status_code, error_code, error_message, request_body, response_body, latency_ms, ttft_ms, input_tokens, output_tokens)
                VALUES ($id, $started, $op, $project, $key, $model, $provider, $upstream, $stream, $status, $ecode, $emsg, $req, $resp, $lat, $ttft, $in, $out)
                """;
            var p = traceCommand.Parameters;
            string[] names = ["$id", "$started", "$op", "$project", "$key", "$model", "$provider", "$upstream", "$stream", "$status", "$ecode", "$emsg", "$req", "$resp", "$lat", "$ttft", "$in", "$out"];
            foreach (var name in names)
            {
                p.Add(new SqliteParameter { ParameterName = name });
            }

            await using var spanCommand = writer.CreateCommand();
            spanCommand.Transaction = transaction;
            spanCommand.CommandText = """
                INSERT OR REPLACE INTO spans (trace_id, span_id, parent_span_id, name, started_at, duration_ms, is_error, status_message, attributes)
                VALUES ($trace, $span, $parent, $name, $started, $dur, $err, $msg, $attrs)
                """;
            string[] spanNames = ["$trace", "$span", "$parent", "$name", "$started", "$dur", "$err", "$msg", "$attrs"];
            foreach (var name in spanNames)
            {
                spanCommand.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            foreach (var t in traces)
            {
                object?[] values =
                [
                    t.TraceId, t.StartedAt.ToUnixTimeMilliseconds(), t.Operation, t.ProjectId, t.KeyId, t.Model, t.Provider, t.UpstreamModel,
                    t.Stream ? 1 : 0, t.StatusCode, t.ErrorCode, t.ErrorMessage, t.RequestBody, t.ResponseBody, t.LatencyMs, t.TtftMs, t.InputTokens, t.OutputTokens,
                ];
                for (var i = 0; i < values.Length; i++)
                {
                    p[i].Value = values[i] ?? DBNull.Value;
                }

                await traceCommand.ExecuteNonQueryAsync(cancellationToken);
                foreach (var s in t.Spans)
                {
                    object?[] spanValues =
                    [
                        t.TraceId, s.SpanId, s.ParentSpanId, s.Name, UnixMicroseconds(s.StartedAt), s.DurationMs, s.IsError ? 1 : 0, s.StatusMessage, s.AttributesJson,
                    ];
                    for (var i = 0; i < spanValues.Length; i++)
                    {
                        spanCommand.Parameters[i].Value = spanValues[i] ?? DBNull.Value;
                    }

                    await spanCommand.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"sqlite_{ex.SqliteErrorCode}", $"Writing traces failed: {ex.Message}", IsTransient(ex), ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {TraceColumns}, request_body, response_body FROM traces WHERE trace_id = $id";
        command.Parameters.AddWithValue("$id", traceId);
        TraceRecord trace;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            trace = ReadTrace(reader) with
            {
                RequestBody = reader.IsDBNull(16) ? null : reader.GetString(16),
                ResponseBody = reader.IsDBNull(17) ? null : reader.GetString(17),
            };
        }

        await using var spanCommand = connection.CreateCommand();
        spanCommand.CommandText = "SELECT span_id, parent_span_id, name, started_at, duration_ms, is_error, status_message, attributes FROM spans WHERE trace_id = $id ORDER BY started_at, rowid";
        spanCommand.Parameters.AddWithValue("$id", traceId);
        var spans = new List<SpanRecord>();
        await using (var reader = await spanCommand.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                spans.Add(new SpanRecord
                {
                    SpanId = reader.GetString(0),
                    ParentSpanId = reader.IsDBNull(1) ? null : reader.GetString(1),
                    Name = reader.GetString(2),
                    StartedAt = DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(3) * 10),
                    DurationMs = reader.GetDouble(4),
                    IsError = reader.GetInt64(5) != 0,
                    StatusMessage = reader.IsDBNull(6) ? null : reader.GetString(6),
                    AttributesJson = reader.GetString(7),
                });
            }
        }

        return trace with { Spans = spans };
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM traces";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<IReadOnlyList<TraceRecord>> ListAsync(TraceQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = new List<string>();
        if (query.Model is not null)
        {
            where.Add("model = $model");
            command.Parameters.AddWithValue("$model", query.Model);
        }

        if (query.Before is { } before)
        {
            where.Add("started_at < $before");
            command.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
        }

        command.CommandText = $"SELECT {TraceColumns} FROM traces {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY started_at DESC, trace_id LIMIT $limit";
        command.Parameters.AddWithValue("$limit", Math.Clamp(query.Limit, 1, 1000));
        var result = new List<TraceRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadTrace(reader));
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }

        _writeLock.Dispose();
    }

    private const string TraceColumns =
        "trace_id, started_at, operation, project_id, key_id, model, provider, upstream_model, stream, status_code, error_code, error_message, latency_ms, ttft_ms, input_tokens, output_tokens";

    private static TraceRecord ReadTrace(SqliteDataReader r) => new()
    {
        TraceId = r.GetString(0),
        StartedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
        Operation = r.GetString(2),
        ProjectId = r.IsDBNull(3) ? null : r.GetString(3),
        KeyId = r.IsDBNull(4) ? null : r.GetString(4),
        Model = r.IsDBNull(5) ? null : r.GetString(5),
        Provider = r.IsDBNull(6) ? null : r.GetString(6),
        UpstreamModel = r.IsDBNull(7) ? null : r.GetString(7),
        Stream = r.GetInt64(8) != 0,
        StatusCode = r.GetInt32(9),
        ErrorCode = r.IsDBNull(10) ? null : r.GetString(10),
        ErrorMessage = r.IsDBNull(11) ? null : r.GetString(11),
        LatencyMs = r.GetDouble(12),
        TtftMs = r.IsDBNull(13) ? null : r.GetDouble(13),
        InputTokens = r.IsDBNull(14) ? null : r.GetInt32(14),
        OutputTokens = r.IsDBNull(15) ? null : r.GetInt32(15),
    };

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static long UnixMicroseconds(DateTimeOffset at) => (at - DateTimeOffset.UnixEpoch).Ticks / 10;

    private static bool IsTransient(SqliteException ex) => ex.SqliteErrorCode is 5 or 6; // SQLITE_BUSY, SQLITE_LOCKED

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS keel_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)", cancellationToken);
        await using var versionCommand = connection.CreateCommand();
        versionCommand.CommandText = "SELECT COALESCE(MAX(version), 0) FROM keel_migrations";
        var current = Convert.ToInt32(await versionCommand.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        foreach (var migration in SqliteMigrations.All.Where(m => m.Version > current).OrderBy(m => m.Version))
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = migration.Sql;
            await command.ExecuteNonQueryAsync(cancellationToken);
            command.CommandText = "INSERT INTO keel_migrations (version, name, applied_at) VALUES ($v, $n, $t)";
            command.Parameters.AddWithValue("$v", migration.Version);
            command.Parameters.AddWithValue("$n", migration.Name);
            command.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await command.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
    }
}
