using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

/// <summary>
/// The embedded default store: one SQLite file in WAL mode. Writes go through one connection under
/// a lock (SQLite has one writer anyway); reads open pooled connections and never block on writes.
/// </summary>
public sealed partial class SqliteStore : IKeelStore, ITraceStore
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
            // Synchronous on purpose: this runs on the recorder's background writer, where the async
            // ADO.NET calls only add overhead (SQLite has no real async I/O).
            using var transaction = writer.BeginTransaction();
            using var rows = new TraceRowWriter(writer, transaction);
            var written = 0;
            foreach (var t in traces)
            {
                rows.Write(t);
                WriterPacing.AfterRow(++written);
            }

            transaction.Commit();
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
        command.CommandText = $"SELECT {TraceColumns}, request_body, response_body, spans, body_codec FROM traces WHERE trace_id = $id";
        command.Parameters.AddWithValue("$id", traceId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var codec = reader.GetInt64(TraceColumnCount + 3);
        var trace = ReadTrace(reader) with
        {
            RequestBodyUtf8 = Utf8(reader, TraceColumnCount, StoredPayload.Request, codec),
            ResponseBodyUtf8 = Utf8(reader, TraceColumnCount + 1, StoredPayload.Response, codec),
            SpansUtf8 = Utf8(reader, TraceColumnCount + 2, StoredPayload.Spans, codec),
        };

        return trace;
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
        Equal(where, command.Parameters, "project_id", "$project", query.ProjectId);
        Equal(where, command.Parameters, "model", "$model", query.Model);

        if (query.Before is { } before)
        {
            where.Add("started_at < $before");
            command.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
        }

        command.CommandText = $"SELECT {TraceColumns} FROM traces {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY started_at DESC, rowid DESC LIMIT $limit";
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
        "trace_id, started_at, operation, project_id, key_id, model, provider, upstream_model, stream, status_code, error_code, error_message, latency_ms, ttft_ms, input_tokens, output_tokens, prompt_name, prompt_version, experiment_id, experiment_arm, "
        + "session_id, user_id, tags, metadata, cached_input_tokens, cost_usd, cost_estimated";

    /// <summary>How many columns <see cref="TraceColumns"/> selects.</summary>
    private const int TraceColumnCount = 27;

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
        PromptName = r.IsDBNull(16) ? null : r.GetString(16),
        PromptVersion = r.IsDBNull(17) ? null : r.GetInt32(17),
        ExperimentId = r.IsDBNull(18) ? null : r.GetString(18),
        ExperimentArm = r.IsDBNull(19) ? null : r.GetString(19),
        SessionId = r.IsDBNull(20) ? null : r.GetString(20),
        UserId = r.IsDBNull(21) ? null : r.GetString(21),
        Tags = r.IsDBNull(22) ? null : ParseTags(r.GetString(22)),
        MetadataJson = r.IsDBNull(23) ? null : r.GetString(23),
        CachedInputTokens = r.IsDBNull(24) ? null : r.GetInt32(24),
        CostUsd = r.IsDBNull(25) ? null : r.GetDouble(25),
        CostEstimated = r.GetInt64(26) != 0,
    };

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>A body or the spans: UTF-8 stored as a BLOB (no decoding to UTF-16 and back), maybe compressed (<see cref="StoredPayload"/>).</summary>
    private static ReadOnlyMemory<byte>? Utf8(SqliteDataReader reader, int ordinal, int bit, long codec)
    {
        if (reader.IsDBNull(ordinal))
        {
            return null;
        }

        return reader.GetValue(ordinal) switch
        {
            byte[] bytes => StoredPayload.Decode(bytes, bit, codec),
            string text => System.Text.Encoding.UTF8.GetBytes(text),
            var other => throw new StoreException("sqlite_type", $"Column {ordinal} holds {other.GetType().Name}, not text.", isTransient: false),
        };
    }

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
        // Applied by set, not by maximum: features land in any order, so a database may hold version 20
        // before version 3 exists. Each migration touches only its own tables.
        var applied = new HashSet<int>();
        await using (var versionCommand = connection.CreateCommand())
        {
            versionCommand.CommandText = "SELECT version FROM keel_migrations";
            await using var reader = await versionCommand.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetInt32(0));
            }
        }

        foreach (var migration in SqliteMigrations.All.Where(m => !applied.Contains(m.Version)).OrderBy(m => m.Version))
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
