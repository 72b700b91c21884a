using System.Globalization;
using System.Text;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

/// <summary>
/// Filtered trace lists. Every page is newest first by (started_at, rowid) descending: the rowid
/// breaks ties between traces started in the same millisecond, so the keyset cursor neither skips
/// nor repeats them. Each filter walks an index on (filter, started_at) backwards (migrations 1, 4);
/// a tag filter walks trace_tags; a text search walks the FTS5 index newest first (its rowids are
/// the traces' time-ordered rowids, see SqliteStore.Write.cs) and stops as soon as the page is full.
/// </summary>
public sealed partial class SqliteStore : ITraceQueryStore
{
    public async Task<TraceList> QueryAsync(TraceFilter filter, int limit, TraceCursor? after, CancellationToken cancellationToken)
    {
        limit = Math.Clamp(limit, 1, 1000);
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = BuildTraceQuery(filter, limit, after, command.Parameters);
        var traces = new List<TraceRecord>(Math.Min(limit + 1, 64));
        long lastSequence = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (traces.Count == limit)
                {
                    // One row past the page: there is a next page, starting after the last row kept.
                    var last = traces[^1];
                    return new TraceList(traces, new TraceCursor(last.StartedAt.ToUnixTimeMilliseconds(), lastSequence));
                }

                traces.Add(ReadTrace(reader));
                lastSequence = reader.GetInt64(TraceColumnCount);
            }
        }

        return new TraceList(traces, null);
    }

    /// <summary>The SELECT for a filter, with its parameters added to <paramref name="p"/>.</summary>
    internal static string BuildTraceQuery(TraceFilter filter, int limit, TraceCursor? after, SqliteParameterCollection p)
    {
        var where = new List<string>();
        string from, order;
        var words = SearchWords(filter.Text);
        var tagsFrom = 0;
        if (words.Count > 0)
        {
            // The text index drives: its rowids are the traces' time-ordered rowids, walked newest first.
            from = "traces_fts f CROSS JOIN traces t ON t.rowid = f.rowid";
            order = "f.rowid DESC";
            where.Add("traces_fts MATCH $text");
            p.AddWithValue("$text", FtsQuery(words));
            if (filter.From is { } fromKey)
            {
                where.Add("f.rowid >= $from_key");
                p.AddWithValue("$from_key", fromKey.ToUnixTimeMilliseconds() * RowidsPerMillisecond);
            }

            if (filter.To is { } toKey)
            {
                where.Add("f.rowid < $to_key");
                p.AddWithValue("$to_key", toKey.ToUnixTimeMilliseconds() * RowidsPerMillisecond);
            }

            if (after is { } cursorKey)
            {
                where.Add("f.rowid < $cursor_key");
                p.AddWithValue("$cursor_key", cursorKey.Sequence);
            }
        }
        else if (filter.Tags.Count > 0)
        {
            // The first tag's rows drive, in (started_at, rowid) order already.
            from = "trace_tags g CROSS JOIN traces t ON t.rowid = g.trace_rowid";
            order = "g.started_at DESC, g.trace_rowid DESC";
            where.Add("g.tag = $tag0");
            p.AddWithValue("$tag0", filter.Tags[0]);
            tagsFrom = 1;
            if (after is { } cursor)
            {
                where.Add("g.started_at <= $cursor_time AND (g.started_at < $cursor_time OR g.trace_rowid < $cursor_sequence)");
                p.AddWithValue("$cursor_time", cursor.StartedAtMs);
                p.AddWithValue("$cursor_sequence", cursor.Sequence);
            }
        }
        else
        {
            from = "traces t";
            order = "t.started_at DESC, t.rowid DESC";
            if (after is { } cursor)
            {
                // The first term bounds the index range; the second drops the rows of the cursor's millisecond already seen.
                where.Add("t.started_at <= $cursor_time AND (t.started_at < $cursor_time OR t.rowid < $cursor_sequence)");
                p.AddWithValue("$cursor_time", cursor.StartedAtMs);
                p.AddWithValue("$cursor_sequence", cursor.Sequence);
            }
        }

        for (var i = tagsFrom; i < filter.Tags.Count; i++)
        {
            where.Add($"EXISTS (SELECT 1 FROM trace_tags g{i} WHERE g{i}.tag = $tag{i} AND g{i}.started_at = t.started_at AND g{i}.trace_rowid = t.rowid)");
            p.AddWithValue($"$tag{i}", filter.Tags[i]);
        }

        if (filter.From is { } fromTime)
        {
            where.Add("t.started_at >= $from");
            p.AddWithValue("$from", fromTime.ToUnixTimeMilliseconds());
        }

        if (filter.To is { } toTime)
        {
            where.Add("t.started_at < $to");
            p.AddWithValue("$to", toTime.ToUnixTimeMilliseconds());
        }

        Equal(where, p, "t.project_id", "$project", filter.ProjectId);
        Equal(where, p, "t.model", "$model", filter.Model);
        Equal(where, p, "t.provider", "$provider", filter.Provider);
        Equal(where, p, "t.user_id", "$user", filter.UserId);
        Equal(where, p, "t.session_id", "$session", filter.SessionId);
        if (filter.StatusCode is { } status)
        {
            where.Add("t.status_code = $status");
            p.AddWithValue("$status", status);
        }

        // Written exactly as the partial index ix_traces_errors_started's condition, so it can serve
        // (an error status code gets it too).
        if (filter.Status == TraceStatusFilter.Error || filter.StatusCode >= 400)
        {
            where.Add("t.status_code >= 400");
        }
        else if (filter.Status == TraceStatusFilter.Ok)
        {
            where.Add("t.status_code < 400");
        }

        Range(where, p, "t.cost_usd", "$min_cost", ">=", filter.MinCostUsd);
        Range(where, p, "t.cost_usd", "$max_cost", "<=", filter.MaxCostUsd);
        Range(where, p, "t.latency_ms", "$min_latency", ">=", filter.MinLatencyMs);
        Range(where, p, "t.latency_ms", "$max_latency", "<=", filter.MaxLatencyMs);
        p.AddWithValue("$limit", limit + 1);
        var sql = new StringBuilder("SELECT ");
        sql.AppendJoin(", ", TraceColumns.Split(", ").Select(c => "t." + c)).Append(", t.rowid FROM ").Append(from);
        if (where.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", where);
        }

        sql.Append(CultureInfo.InvariantCulture, $" ORDER BY {order} LIMIT $limit");
        return sql.ToString();
    }

    /// <summary>
    /// The words of a search: runs of letters and digits, as FTS5's unicode61 tokenizer splits text,
    /// so that a search can never be an FTS5 syntax error. At most 16.
    /// </summary>
    internal static IReadOnlyList<string> SearchWords(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= text.Length && words.Count < 16; i++)
        {
            var isWordChar = i < text.Length && (char.IsLetterOrDigit(text[i]) || char.IsSurrogate(text[i]) || char.GetUnicodeCategory(text[i]) is UnicodeCategory.NonSpacingMark);
            if (isWordChar && start < 0)
            {
                start = i;
            }
            else if (!isWordChar && start >= 0)
            {
                words.Add(text[start..i]);
                start = -1;
            }
        }

        return words;
    }

    /// <summary>The words as an FTS5 query: each a quoted term, all required; null when there is none.</summary>
    internal static string? FtsQuery(IReadOnlyList<string> words) =>
        words.Count == 0 ? null : string.Join(' ', words.Select(w => $"\"{w}\""));

    private static void Equal(List<string> where, SqliteParameterCollection p, string column, string name, string? value)
    {
        if (value is not null)
        {
            where.Add($"{column} = {name}");
            p.AddWithValue(name, value);
        }
    }

    private static void Range(List<string> where, SqliteParameterCollection p, string column, string name, string op, double? value)
    {
        if (value is { } v)
        {
            where.Add($"{column} {op} {name}");
            p.AddWithValue(name, v);
        }
    }
}
