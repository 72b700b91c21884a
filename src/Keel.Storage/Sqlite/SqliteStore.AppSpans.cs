using System.Text.Json;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Keel.Core.Telemetry.Otlp;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

public sealed partial class SqliteStore : IAppSpanStore
{
    public async Task WriteAppSpansAsync(string projectId, IReadOnlyList<IngestedSpan> spans, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is not initialized.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var transaction = writer.BeginTransaction();
            using var command = writer.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT OR REPLACE INTO app_spans (trace_id, span_id, project_id, parent_span_id, name, start_ns, end_ns, is_error, status_message, attributes, service_name)
                VALUES ($trace, $span, $project, $parent, $name, $start, $end, $error, $message, $attributes, $service)
                """;
            string[] names = ["$trace", "$span", "$project", "$parent", "$name", "$start", "$end", "$error", "$message", "$attributes", "$service"];
            foreach (var name in names)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            command.Prepare();
            var p = command.Parameters;
            foreach (var s in spans)
            {
                p[0].Value = s.TraceId;
                p[1].Value = s.SpanId;
                p[2].Value = projectId;
                p[3].Value = (object?)s.ParentSpanId ?? DBNull.Value;
                p[4].Value = s.Name;
                p[5].Value = s.StartUnixNano;
                p[6].Value = s.EndUnixNano;
                p[7].Value = s.IsError ? 1 : 0;
                p[8].Value = (object?)s.StatusMessage ?? DBNull.Value;
                p[9].Value = s.AttributesJson;
                p[10].Value = (object?)s.ServiceName ?? DBNull.Value;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"sqlite_{ex.SqliteErrorCode}", $"Writing application spans failed: {ex.Message}", IsTransient(ex), ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<IReadOnlyList<SpanRecord>> ListAppSpansAsync(string traceId, string? projectId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT span_id, parent_span_id, name, start_ns, end_ns, is_error, status_message, attributes, service_name
            FROM app_spans WHERE trace_id = $trace AND ($project IS NULL OR project_id = $project) ORDER BY start_ns, span_id
            """;
        command.Parameters.AddWithValue("$trace", traceId);
        command.Parameters.AddWithValue("$project", (object?)projectId ?? DBNull.Value);
        var spans = new List<SpanRecord>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            var start = r.GetInt64(3);
            using var attributes = JsonDocument.Parse(r.GetString(7));
            var service = r.IsDBNull(8) ? null : r.GetString(8);
            spans.Add(new SpanRecord
            {
                SpanId = r.GetString(0),
                ParentSpanId = r.IsDBNull(1) ? null : r.GetString(1),
                Name = service is null ? r.GetString(2) : $"{service}: {r.GetString(2)}",
                StartedAt = DateTimeOffset.FromUnixTimeMilliseconds(start / 1_000_000).AddTicks(start % 1_000_000 / 100),
                DurationMs = Math.Max(0, r.GetInt64(4) - start) / 1e6,
                IsError = r.GetInt64(5) != 0,
                StatusMessage = r.IsDBNull(6) ? null : r.GetString(6),
                Attributes = attributes.RootElement.Clone(),
            });
        }
        return spans;
    }
}
