using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

/// <summary>
/// Usage summaries: one pass over the traces of the range (the started_at index bounds it) adds up
/// counts, tokens and cost per group and keeps latencies for exact percentiles; a second query
/// averages the numeric and boolean scores of those traces.
/// </summary>
public sealed partial class SqliteStore : ITraceSummaryStore
{
    public async Task<TraceSummary> SummarizeAsync(SummaryQuery query, CancellationToken cancellationToken)
    {
        var key = query.GroupBy switch
        {
            SummaryGrouping.Model => "t.model",
            SummaryGrouping.Project => "t.project_id",
            SummaryGrouping.Key => "t.key_id",
            SummaryGrouping.User => "t.user_id",
            SummaryGrouping.Day => "strftime('%Y-%m-%d', t.started_at / 1000, 'unixepoch')",
            _ => "NULL",
        };
        var from = query.From.ToUnixTimeMilliseconds();
        var to = query.To.ToUnixTimeMilliseconds();
        await using var connection = await OpenReaderAsync(cancellationToken);

        var groups = new Dictionary<string, GroupAccumulator>(StringComparer.Ordinal);
        var total = new GroupAccumulator(null);
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = $"""
                SELECT {key}, t.status_code, t.input_tokens, t.cached_input_tokens, t.output_tokens, t.cost_usd, t.cost_estimated, t.latency_ms, t.ttft_ms
                FROM traces t WHERE t.started_at >= $from AND t.started_at < $to{(query.ProjectId is null ? "" : " AND t.project_id = $project")}
                """;
            if (query.ProjectId is not null)
            {
                command.Parameters.AddWithValue("$project", query.ProjectId);
            }
            command.Parameters.AddWithValue("$from", from);
            command.Parameters.AddWithValue("$to", to);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var groupKey = reader.IsDBNull(0) ? null : reader.GetString(0);
                var group = Group(groups, groupKey);
                group.Add(reader);
                total.Add(reader);
            }
        }

        await using (var command = connection.CreateCommand())
        {
            command.CommandText = $"""
                SELECT {key}, s.name, AVG(s.value), COUNT(*)
                FROM scores s JOIN traces t ON t.trace_id = s.trace_id
                WHERE t.started_at >= $from AND t.started_at < $to AND s.data_type IN ('numeric', 'boolean')
                GROUP BY 1, 2 ORDER BY 2
                """;
            command.Parameters.AddWithValue("$from", from);
            command.Parameters.AddWithValue("$to", to);
            var totals = new Dictionary<string, (double Sum, long Count)>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var groupKey = reader.IsDBNull(0) ? null : reader.GetString(0);
                var (name, average, count) = (reader.GetString(1), reader.GetDouble(2), reader.GetInt64(3));
                Group(groups, groupKey).Scores.Add(new ScoreAverage(name, Math.Round(average, 6), count));
                var sum = totals.GetValueOrDefault(name);
                totals[name] = (sum.Sum + (average * count), sum.Count + count);
            }

            total.Scores.AddRange(totals.Select(t => new ScoreAverage(t.Key, Math.Round(t.Value.Sum / t.Value.Count, 6), t.Value.Count)).OrderBy(s => s.Name, StringComparer.Ordinal));
        }

        var ordered = query.GroupBy == SummaryGrouping.Day
            ? groups.Values.OrderBy(g => g.Key, StringComparer.Ordinal)
            : groups.Values.OrderByDescending(g => g.Requests).ThenBy(g => g.Key, StringComparer.Ordinal);
        return new TraceSummary(
            query.From,
            query.To,
            query.GroupBy.ToString().ToLowerInvariant(),
            query.GroupBy == SummaryGrouping.None ? [] : [.. ordered.Select(g => g.ToGroup())],
            total.ToGroup());
    }

    /// <summary>Traces without the grouped field (no user, say) form one group with a null key.</summary>
    private static GroupAccumulator Group(Dictionary<string, GroupAccumulator> groups, string? key)
    {
        var slot = key ?? "\0null";
        if (!groups.TryGetValue(slot, out var group))
        {
            group = new GroupAccumulator(key);
            groups[slot] = group;
        }

        return group;
    }

    private sealed class GroupAccumulator(string? key)
    {
        private readonly List<double> _latencies = [];
        private readonly List<double> _ttfts = [];
        private long _errors, _input, _cached, _output, _estimated;
        private double _cost;

        public string? Key => key;
        public long Requests { get; private set; }
        public List<ScoreAverage> Scores { get; } = [];

        /// <summary>Adds one row of (key, status, input, cached, output, cost, estimated, latency, ttft).</summary>
        public void Add(SqliteDataReader row)
        {
            Requests++;
            _errors += row.GetInt32(1) >= 400 ? 1 : 0;
            _input += row.IsDBNull(2) ? 0 : row.GetInt64(2);
            _cached += row.IsDBNull(3) ? 0 : row.GetInt64(3);
            _output += row.IsDBNull(4) ? 0 : row.GetInt64(4);
            _cost += row.IsDBNull(5) ? 0 : row.GetDouble(5);
            _estimated += row.GetInt64(6);
            _latencies.Add(row.GetDouble(7));
            if (!row.IsDBNull(8))
            {
                _ttfts.Add(row.GetDouble(8));
            }
        }

        public SummaryGroup ToGroup() => new()
        {
            Key = key,
            Requests = Requests,
            Errors = _errors,
            InputTokens = _input,
            CachedInputTokens = _cached,
            OutputTokens = _output,
            CostUsd = Math.Round(_cost, 9),
            CostEstimatedRequests = _estimated,
            LatencyMs = Percentiles.Of(_latencies),
            TtftMs = Percentiles.Of(_ttfts),
            Scores = Scores,
        };
    }
}
