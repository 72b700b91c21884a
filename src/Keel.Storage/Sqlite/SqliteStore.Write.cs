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
        "session_id", "user_id", "tags", "metadata", "cached_input_tokens", "cost_usd", "cost_estimated",
    ];

    /// <summary>
    /// An upsert, not INSERT OR REPLACE: writing a trace again (a replay) updates the row in place, so
    /// its rowid (the cursor's tie-breaker and the key of the tag and text indexes) stays the same.
    /// </summary>
    private static readonly string TraceUpsertSql =
        $"INSERT INTO traces ({string.Join(", ", TraceWriteColumns)}) VALUES ({string.Join(", ", TraceWriteColumns.Select(c => "$" + c))}) "
        + $"ON CONFLICT (trace_id) DO UPDATE SET {string.Join(", ", TraceWriteColumns.Skip(1).Select(c => $"{c} = excluded.{c}"))}";

    private static void BindTrace(SqliteParameterCollection p, TraceRecord t)
    {
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
        p[12].Value = Blob(t.RequestBodyUtf8);
        p[13].Value = Blob(t.ResponseBodyUtf8);
        p[14].Value = t.LatencyMs;
        p[15].Value = (object?)t.TtftMs ?? DBNull.Value;
        p[16].Value = (object?)t.InputTokens ?? DBNull.Value;
        p[17].Value = (object?)t.OutputTokens ?? DBNull.Value;
        p[18].Value = Blob(t.SpansUtf8);
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
