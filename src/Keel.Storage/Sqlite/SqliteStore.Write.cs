using System.Buffers;
using System.Text.Json;
using Keel.Core.Recording;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

/// <summary>How a trace row is written.</summary>
public sealed partial class SqliteStore
{
    /// <summary>The columns a trace write sets, in the order <see cref="BindTrace"/> binds them.</summary>
    private static readonly string[] TraceWriteColumns =
    [
        "trace_id", "started_at", "operation", "project_id", "key_id", "model", "provider", "upstream_model",
        "stream", "status_code", "error_code", "error_message", "request_body", "response_body", "latency_ms", "ttft_ms",
        "input_tokens", "output_tokens", "spans", "prompt_name", "prompt_version", "experiment_id", "experiment_arm",
        "session_id", "user_id", "tags", "metadata", "cached_input_tokens", "cost_usd", "cost_estimated", "body_codec",
    ];

    /// <summary>Rowids per millisecond: a trace's rowid is started_at_ms * 4096 + n.</summary>
    internal const long RowidsPerMillisecond = 4096;

    /// <summary>
    /// An upsert, not INSERT OR REPLACE: writing a trace again (a replay) updates the row in place and
    /// keeps its rowid. A new trace's rowid is the next free one of its start millisecond
    /// (started_at_ms * 4096 + n), so rowid order is start order: the text index, keyed by rowid, is
    /// then walked newest first. (A millisecond with 4,096 traces spills to the end of the table.)
    /// </summary>
    private static readonly string TraceUpsertSql =
        $"INSERT INTO traces (rowid, {string.Join(", ", TraceWriteColumns)}) VALUES ("
        + "(SELECT CASE WHEN n < $rowid_base + 4096 THEN n ELSE (SELECT MAX(rowid) + 1 FROM traces) END "
        + "FROM (SELECT COALESCE(MAX(rowid) + 1, $rowid_base) AS n FROM traces WHERE rowid >= $rowid_base AND rowid < $rowid_base + 4096)), "
        + $"{string.Join(", ", TraceWriteColumns.Select(c => "$" + c))}) "
        + $"ON CONFLICT (trace_id) DO UPDATE SET {string.Join(", ", TraceWriteColumns.Skip(1).Select(c => $"{c} = excluded.{c}"))} RETURNING rowid";

    /// <summary>
    /// Writes trace rows with their tag rows and text index entry, on prepared statements, inside the
    /// batch's transaction. (Triggers did this at first; computed here it costs a third as much.)
    /// </summary>
    private sealed class TraceRowWriter : IDisposable
    {
        private readonly SqliteCommand _trace;
        private readonly SqliteCommand _tag;
        private readonly SqliteCommand _text;

        public TraceRowWriter(SqliteConnection connection, SqliteTransaction transaction)
        {
            _trace = Prepare(connection, transaction, TraceUpsertSql, [.. TraceWriteColumns.Select(c => "$" + c), "$rowid_base"]);
            _tag = Prepare(connection, transaction, "INSERT OR IGNORE INTO trace_tags (tag, started_at, trace_rowid) VALUES ($tag, $started, $rowid)", "$tag", "$started", "$rowid");
            _text = Prepare(connection, transaction, "INSERT INTO traces_fts (rowid, text) VALUES ($rowid, $text)", "$rowid", "$text");
        }

        public void Write(TraceRecord trace)
        {
            BindTrace(_trace.Parameters, trace);
            _trace.Parameters[TraceWriteColumns.Length].Value = trace.StartedAt.ToUnixTimeMilliseconds() * RowidsPerMillisecond;
            var rowid = (long)_trace.ExecuteScalar()!;
            foreach (var tag in trace.Tags ?? [])
            {
                _tag.Parameters[0].Value = tag;
                _tag.Parameters[1].Value = trace.StartedAt.ToUnixTimeMilliseconds();
                _tag.Parameters[2].Value = rowid;
                _tag.ExecuteNonQuery();
            }

            if (SearchText.Of(Span(trace.RequestBodyUtf8), Span(trace.ResponseBodyUtf8)) is { } text)
            {
                _text.Parameters[0].Value = rowid;
                _text.Parameters[1].Value = text;
                _text.ExecuteNonQuery();
            }
        }

        public void Dispose()
        {
            _trace.Dispose();
            _tag.Dispose();
            _text.Dispose();
        }

        private static ReadOnlySpan<byte> Span(ReadOnlyMemory<byte>? bytes) => bytes is { } memory ? memory.Span : default;

        private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction transaction, string sql, params string[] parameters)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            command.Prepare();
            return command;
        }
    }

    private static void BindTrace(SqliteParameterCollection p, TraceRecord t)
    {
        var codec = 0;
        p[0].Value = t.TraceId;
        p[1].Value = t.StartedAt.ToUnixTimeMilliseconds();
        p[2].Value = t.Operation;
        p[3].Value = (object?)t.ProjectId ?? DBNull.Value;
        p[4].Value = (object?)t.KeyId ?? DBNull.Value;
        p[5].Value = (object?)t.Model ?? DBNull.Value;
        p[6].Value = (object?)t.Provider ?? DBNull.Value;
        p[7].Value = (object?)t.UpstreamModel ?? DBNull.Value;
        p[8].Value = t.Stream ? 1 : 0;
        p[9].Value = t.StatusCode;
        p[10].Value = (object?)t.ErrorCode ?? DBNull.Value;
        p[11].Value = (object?)t.ErrorMessage ?? DBNull.Value;
        p[12].Value = StoredPayload.Encode(t.RequestBodyUtf8, StoredPayload.Request, ref codec);
        p[13].Value = StoredPayload.Encode(t.ResponseBodyUtf8, StoredPayload.Response, ref codec);
        p[14].Value = t.LatencyMs;
        p[15].Value = (object?)t.TtftMs ?? DBNull.Value;
        p[16].Value = (object?)t.InputTokens ?? DBNull.Value;
        p[17].Value = (object?)t.OutputTokens ?? DBNull.Value;
        p[18].Value = StoredPayload.Encode(t.SpansUtf8, StoredPayload.Spans, ref codec);
        p[19].Value = (object?)t.PromptName ?? DBNull.Value;
        p[20].Value = (object?)t.PromptVersion ?? DBNull.Value;
        p[21].Value = (object?)t.ExperimentId ?? DBNull.Value;
        p[22].Value = (object?)t.ExperimentArm ?? DBNull.Value;
        p[23].Value = (object?)t.SessionId ?? DBNull.Value;
        p[24].Value = (object?)t.UserId ?? DBNull.Value;
        p[25].Value = t.Tags is { Count: > 0 } tags ? TagsJson(tags) : DBNull.Value;
        p[26].Value = (object?)t.MetadataJson ?? DBNull.Value;
        p[27].Value = (object?)t.CachedInputTokens ?? DBNull.Value;
        p[28].Value = (object?)t.CostUsd ?? DBNull.Value;
        p[29].Value = t.CostEstimated ? 1 : 0;
        p[30].Value = codec;
    }

    private static string TagsJson(IReadOnlyList<string> tags)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * tags.Count);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var tag in tags)
            {
                writer.WriteStringValue(tag);
            }

            writer.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static IReadOnlyList<string> ParseTags(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)];
    }
}
