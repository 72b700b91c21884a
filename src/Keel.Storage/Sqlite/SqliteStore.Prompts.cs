using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Keel.Core.Prompts;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

[JsonSerializable(typeof(List<PromptMessage>))]
[JsonSerializable(typeof(List<ExperimentArm>))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class PromptStoreJsonContext : JsonSerializerContext;

/// <summary>The prompt registry's tables. Every query is scoped to one project.</summary>
public sealed partial class SqliteStore : IPromptStore
{
    /// <summary>
    /// The traces column experiment results sum for cost. Results include cost only when the traces
    /// table has it (the cost work adds it); <see cref="TracesHaveCostAsync"/> looks, once per query.
    /// </summary>
    internal const string TraceCostColumn = "cost_usd";

    private const string VersionColumns = "name, version, type, template, messages, model, params, content_hash, message, author, created_at";
    private const string ExperimentColumns = "experiment_id, name, prompt_name, label, arms, primary_score, status, created_at, stopped_at";

    public IPromptStore Prompts => this;

    public Task<PromptPushResult> PushAsync(string projectId, PromptDraft draft, string? actor, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var parameters = PromptValidator.CanonicalJson(draft.Params);
            var hash = PromptValidator.ContentHash(draft.Type, draft.Template, draft.Messages, draft.Model, draft.Params);
            int? latest = null;
            string? latestHash = null;
            await using (var command = Command(connection, transaction,
                "SELECT version, content_hash FROM prompt_versions WHERE project_id = $p AND name = $n ORDER BY version DESC LIMIT 1",
                ("$p", projectId), ("$n", draft.Name)))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    latest = reader.GetInt32(0);
                    latestHash = reader.GetString(1);
                }
            }

            var created = latestHash != hash;
            var version = created ? (latest ?? 0) + 1 : latest!.Value;
            if (created)
            {
                await ExecuteAsync(connection, transaction, $"""
                    INSERT INTO prompt_versions (project_id, {VersionColumns})
                    VALUES ($p, $n, $v, $type, $template, $messages, $model, $params, $hash, $message, $author, $at)
                    """, cancellationToken,
                    ("$p", projectId), ("$n", draft.Name), ("$v", version), ("$type", draft.Type), ("$template", draft.Template),
                    ("$messages", draft.Messages is null ? null : JsonSerializer.Serialize([.. draft.Messages], PromptStoreJsonContext.Default.ListPromptMessage)),
                    ("$model", draft.Model), ("$params", parameters), ("$hash", hash), ("$message", draft.Message),
                    ("$author", draft.Author ?? actor), ("$at", now.ToUnixTimeMilliseconds()));
            }

            var moves = new List<LabelMove>();
            foreach (var label in draft.Labels.Distinct(StringComparer.Ordinal))
            {
                if (await MoveLabelAsync(connection, transaction, projectId, draft.Name, label, version, LabelActions.Push, actor, now, cancellationToken) is { } move)
                {
                    moves.Add(move);
                }
            }

            if (created || moves.Count > 0)
            {
                await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            }

            var stored = await ReadVersionAsync(connection, transaction, projectId, draft.Name, version, cancellationToken);
            return new PromptPushResult(stored!, created, moves);
        }, cancellationToken);

    public async Task<IReadOnlyList<PromptSummary>> ListAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var labels = await ReadLabelsAsync(connection, projectId, null, cancellationToken);
        var result = new List<PromptSummary>();
        await using var command = Command(connection, null, """
            SELECT v.name, v.type, v.version, v.created_at FROM prompt_versions v
            WHERE v.project_id = $p AND v.version = (SELECT MAX(version) FROM prompt_versions w WHERE w.project_id = v.project_id AND w.name = v.name)
            ORDER BY v.name
            """, ("$p", projectId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            var own = labels.GetValueOrDefault(name);
            var updated = Math.Max(reader.GetInt64(3), own?.Values.Max(l => l.UpdatedAt) ?? 0);
            result.Add(new PromptSummary
            {
                Name = name,
                Type = reader.GetString(1),
                LatestVersion = reader.GetInt32(2),
                Labels = own?.ToDictionary(l => l.Key, l => l.Value.Version, StringComparer.Ordinal) ?? [],
                UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(updated),
            });
        }

        return result;
    }

    public async Task<PromptDetails?> GetAsync(string projectId, string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var versions = await ReadVersionsAsync(connection, null, projectId, name, null, cancellationToken);
        if (versions.Count == 0)
        {
            return null;
        }

        var labels = (await ReadLabelsAsync(connection, projectId, name, cancellationToken)).GetValueOrDefault(name);
        var labelMap = labels?.ToDictionary(l => l.Key, l => l.Value.Version, StringComparer.Ordinal) ?? [];
        return new PromptDetails
        {
            Name = name,
            Type = versions[^1].Type,
            Labels = labelMap,
            Versions = [.. versions.OrderByDescending(v => v.Version).Select(v => WithLabels(v, labelMap) with { Template = null, Messages = null, Params = null })],
        };
    }

    public async Task<PromptVersion?> GetVersionAsync(string projectId, string name, int version, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await ReadVersionAsync(connection, null, projectId, name, version, cancellationToken);
    }

    public async Task<IReadOnlyList<PromptState>> LoadAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var labels = await ReadLabelsAsync(connection, projectId, null, cancellationToken);
        var versions = await ReadVersionsAsync(connection, null, projectId, null, null, cancellationToken);
        return [.. versions.GroupBy(v => v.Name, StringComparer.Ordinal).Select(g =>
            new PromptState(g.Key, [.. g], labels.GetValueOrDefault(g.Key)?.ToDictionary(l => l.Key, l => l.Value.Version, StringComparer.Ordinal) ?? []))];
    }

    public Task<LabelMove?> SetLabelAsync(string projectId, string name, string label, int version, string action, string? actor, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            if (!await VersionExistsAsync(connection, transaction, projectId, name, version, cancellationToken))
            {
                return null;
            }

            var move = await MoveLabelAsync(connection, transaction, projectId, name, label, version, action, actor, now, cancellationToken);
            if (move is null)
            {
                // Already there: reported as a move to the same version, with nothing recorded.
                return new LabelMove { Name = name, Label = label, FromVersion = version, ToVersion = version, Action = action, Actor = actor, At = now };
            }

            await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            return move;
        }, cancellationToken);

    public Task<LabelMove?> RollbackLabelAsync(string projectId, string name, string label, string? actor, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            if (await CurrentLabelAsync(connection, transaction, projectId, name, label, cancellationToken) is not { } current)
            {
                return null;
            }

            var history = await ReadHistoryAsync(connection, transaction, projectId, name, label, cancellationToken);
            var target = LabelHistory.RollbackTarget(history);
            if (target is not { } to || !await VersionExistsAsync(connection, transaction, projectId, name, to, cancellationToken))
            {
                return new LabelMove { Name = name, Label = label, FromVersion = current, ToVersion = null, Action = LabelActions.Rollback, Actor = actor, At = now };
            }

            var move = await MoveLabelAsync(connection, transaction, projectId, name, label, to, LabelActions.Rollback, actor, now, cancellationToken);
            await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            return move;
        }, cancellationToken);

    public Task<bool> RemoveLabelAsync(string projectId, string name, string label, string? actor, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            if (await CurrentLabelAsync(connection, transaction, projectId, name, label, cancellationToken) is not { } current)
            {
                return false;
            }

            await ExecuteAsync(connection, transaction, "DELETE FROM prompt_labels WHERE project_id = $p AND name = $n AND label = $l", cancellationToken,
                ("$p", projectId), ("$n", name), ("$l", label));
            await AddHistoryAsync(connection, transaction, projectId, new LabelMove
            {
                Name = name, Label = label, FromVersion = current, ToVersion = null, Action = LabelActions.Remove, Actor = actor, At = now,
            }, cancellationToken);
            await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            return true;
        }, cancellationToken);

    public async Task<IReadOnlyList<LabelMove>> GetLabelHistoryAsync(string projectId, string name, string label, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await ReadHistoryAsync(connection, null, projectId, name, label, cancellationToken);
    }

    public Task<bool> DeleteAsync(string projectId, string name, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var deleted = 0;
            foreach (var table in new[] { "prompt_versions", "prompt_labels", "prompt_label_history" })
            {
                deleted += await ExecuteAsync(connection, transaction, $"DELETE FROM {table} WHERE project_id = $p AND name = $n", cancellationToken,
                    ("$p", projectId), ("$n", name));
            }

            await ExecuteAsync(connection, transaction, "DELETE FROM prompt_experiments WHERE project_id = $p AND prompt_name = $n", cancellationToken,
                ("$p", projectId), ("$n", name));
            if (deleted > 0)
            {
                await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            }

            return deleted > 0;
        }, cancellationToken);

    public Task<Experiment> CreateExperimentAsync(string projectId, ExperimentDraft draft, string id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var experiment = new Experiment
            {
                Id = id,
                Name = draft.Name ?? $"{draft.Prompt}@{draft.Label}",
                Prompt = draft.Prompt,
                Label = draft.Label,
                Arms = draft.Arms,
                PrimaryScore = draft.PrimaryScore,
                Status = ExperimentStatus.Running,
                CreatedAt = now,
            };
            try
            {
                await ExecuteAsync(connection, transaction, $"""
                    INSERT INTO prompt_experiments (project_id, {ExperimentColumns})
                    VALUES ($p, $id, $name, $prompt, $label, $arms, $score, 'running', $at, NULL)
                    """, cancellationToken,
                    ("$p", projectId), ("$id", id), ("$name", experiment.Name), ("$prompt", draft.Prompt), ("$label", draft.Label),
                    ("$arms", JsonSerializer.Serialize([.. draft.Arms], PromptStoreJsonContext.Default.ListExperimentArm)),
                    ("$score", draft.PrimaryScore), ("$at", now.ToUnixTimeMilliseconds()));
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
            {
                throw new StoreException("conflict",
                    $"An experiment is already running on prompt '{draft.Prompt}' label '{draft.Label}'; stop it first.", isTransient: false, ex);
            }

            await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            return experiment;
        }, cancellationToken);

    public async Task<Experiment?> GetExperimentAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var found = await ReadExperimentsAsync(connection, null, projectId, id, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    public async Task<IReadOnlyList<Experiment>> ListExperimentsAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await ReadExperimentsAsync(connection, null, projectId, null, cancellationToken);
    }

    public Task<Experiment?> StopExperimentAsync(string projectId, string id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var changed = await ExecuteAsync(connection, transaction,
                "UPDATE prompt_experiments SET status = 'stopped', stopped_at = $at WHERE project_id = $p AND experiment_id = $id AND status = 'running'",
                cancellationToken, ("$p", projectId), ("$id", id), ("$at", now.ToUnixTimeMilliseconds()));
            if (changed > 0)
            {
                await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            }

            var found = await ReadExperimentsAsync(connection, transaction, projectId, id, cancellationToken);
            return found.Count > 0 ? found[0] : null;
        }, cancellationToken);

    public Task<bool> DeleteExperimentAsync(string projectId, string id, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction) =>
        {
            var deleted = await ExecuteAsync(connection, transaction, "DELETE FROM prompt_experiments WHERE project_id = $p AND experiment_id = $id",
                cancellationToken, ("$p", projectId), ("$id", id));
            if (deleted > 0)
            {
                await BumpRevisionAsync(connection, transaction, projectId, cancellationToken);
            }

            return deleted > 0;
        }, cancellationToken);

    public async Task<ExperimentCounts> CountExperimentAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        var withCost = await TracesHaveCostAsync(connection, cancellationToken);
        const string armTraces = "FROM traces WHERE experiment_id = $id AND COALESCE(project_id, 'default') = $p";
        var arms = new List<ArmStats>();
        await using (var command = Command(connection, null, $"""
            SELECT experiment_arm, COUNT(*), SUM(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), AVG(latency_ms),
                   COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), {(withCost ? $"SUM({TraceCostColumn})" : "NULL")}
            {armTraces} GROUP BY experiment_arm
            """, ("$id", id), ("$p", projectId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                arms.Add(new ArmStats
                {
                    Arm = reader.IsDBNull(0) ? "" : reader.GetString(0),
                    Requests = reader.GetInt64(1),
                    Errors = reader.GetInt64(2),
                    LatencyMeanMs = reader.IsDBNull(3) ? null : reader.GetDouble(3),
                    InputTokens = reader.GetInt64(4),
                    OutputTokens = reader.GetInt64(5),
                    CostUsd = reader.IsDBNull(6) ? null : reader.GetDouble(6),
                });
            }
        }

        var scores = new List<(string Arm, ScoreAggregate Score)>();
        await using (var command = Command(connection, null, $"""
            WITH arm_traces AS (SELECT trace_id, experiment_arm {armTraces}),
            per_trace AS (
                SELECT a.experiment_arm AS arm, s.name AS name, s.data_type AS data_type, AVG(s.value) AS v
                FROM scores s JOIN arm_traces a ON a.trace_id = s.trace_id
                GROUP BY s.trace_id, a.experiment_arm, s.name, s.data_type)
            SELECT arm, name, data_type, COUNT(*), COALESCE(SUM(v), 0), COALESCE(SUM(v * v), 0) FROM per_trace GROUP BY arm, name, data_type
            """, ("$id", id), ("$p", projectId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                scores.Add((reader.IsDBNull(0) ? "" : reader.GetString(0), new ScoreAggregate
                {
                    Name = reader.GetString(1),
                    DataType = reader.GetString(2),
                    Count = reader.GetInt64(3),
                    Sum = reader.GetDouble(4),
                    SumOfSquares = reader.GetDouble(5),
                }));
            }
        }

        for (var i = 0; i < arms.Count; i++)
        {
            var arm = arms[i];
            arms[i] = arm with
            {
                LatencyP50Ms = await LatencyQuantileAsync(connection, projectId, id, arm.Arm, arm.Requests, 0.50, cancellationToken),
                LatencyP95Ms = await LatencyQuantileAsync(connection, projectId, id, arm.Arm, arm.Requests, 0.95, cancellationToken),
                Scores = [.. scores.Where(s => s.Arm == arm.Arm).Select(s => s.Score)],
            };
        }

        return new ExperimentCounts(arms, withCost);
    }

    public async Task<IReadOnlyDictionary<string, long>> GetRevisionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT project_id, revision FROM prompt_revisions");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[reader.GetString(0)] = reader.GetInt64(1);
        }

        return result;
    }

    /// <summary>True when the traces table has the cost column (it arrives with the cost work).</summary>
    internal static async Task<bool> TracesHaveCostAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, "SELECT COUNT(*) FROM pragma_table_info('traces') WHERE name = $c", ("$c", TraceCostColumn));
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
    }

    /// <summary>The nearest-rank quantile of the arm's latencies (one indexed, sorted read).</summary>
    private static async Task<double?> LatencyQuantileAsync(SqliteConnection connection, string projectId, string id, string arm, long count, double q, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return null;
        }

        var rank = (long)Math.Ceiling(q * count) - 1;
        await using var command = Command(connection, null, """
            SELECT latency_ms FROM traces WHERE experiment_id = $id AND experiment_arm = $arm AND COALESCE(project_id, 'default') = $p
            ORDER BY latency_ms LIMIT 1 OFFSET $k
            """, ("$id", id), ("$arm", arm), ("$p", projectId), ("$k", Math.Max(0, rank)));
        return await command.ExecuteScalarAsync(cancellationToken) is double value ? value : null;
    }

    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is not initialized.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var transaction = (SqliteTransaction)await writer.BeginTransactionAsync(cancellationToken);
            var result = await work(writer, transaction);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"sqlite_{ex.SqliteErrorCode}", $"Writing prompts failed: {ex.Message}", IsTransient(ex), ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static Task BumpRevisionAsync(SqliteConnection connection, SqliteTransaction transaction, string projectId, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, """
            INSERT INTO prompt_revisions (project_id, revision) VALUES ($p, 1)
            ON CONFLICT (project_id) DO UPDATE SET revision = revision + 1
            """, cancellationToken, ("$p", projectId));

    private static async Task<bool> VersionExistsAsync(SqliteConnection connection, SqliteTransaction? transaction, string projectId, string name, int version, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT 1 FROM prompt_versions WHERE project_id = $p AND name = $n AND version = $v",
            ("$p", projectId), ("$n", name), ("$v", version));
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task<int?> CurrentLabelAsync(SqliteConnection connection, SqliteTransaction? transaction, string projectId, string name, string label, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT version FROM prompt_labels WHERE project_id = $p AND name = $n AND label = $l",
            ("$p", projectId), ("$n", name), ("$l", label));
        return await command.ExecuteScalarAsync(cancellationToken) is long version ? (int)version : null;
    }

    /// <summary>Points the label at the version and records the move; null when it already pointed there.</summary>
    private static async Task<LabelMove?> MoveLabelAsync(
        SqliteConnection connection, SqliteTransaction transaction, string projectId, string name, string label, int version, string action, string? actor, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var current = await CurrentLabelAsync(connection, transaction, projectId, name, label, cancellationToken);
        if (current == version)
        {
            return null;
        }

        await ExecuteAsync(connection, transaction, """
            INSERT INTO prompt_labels (project_id, name, label, version, updated_at) VALUES ($p, $n, $l, $v, $at)
            ON CONFLICT (project_id, name, label) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
            """, cancellationToken, ("$p", projectId), ("$n", name), ("$l", label), ("$v", version), ("$at", now.ToUnixTimeMilliseconds()));
        var move = new LabelMove { Name = name, Label = label, FromVersion = current, ToVersion = version, Action = action, Actor = actor, At = now };
        await AddHistoryAsync(connection, transaction, projectId, move, cancellationToken);
        return move;
    }

    private static Task AddHistoryAsync(SqliteConnection connection, SqliteTransaction transaction, string projectId, LabelMove move, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, """
            INSERT INTO prompt_label_history (project_id, name, label, from_version, to_version, action, actor, created_at)
            VALUES ($p, $n, $l, $from, $to, $action, $actor, $at)
            """, cancellationToken,
            ("$p", projectId), ("$n", move.Name), ("$l", move.Label), ("$from", move.FromVersion), ("$to", move.ToVersion),
            ("$action", move.Action), ("$actor", move.Actor), ("$at", move.At.ToUnixTimeMilliseconds()));

    private static async Task<List<LabelMove>> ReadHistoryAsync(SqliteConnection connection, SqliteTransaction? transaction, string projectId, string name, string label, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            SELECT from_version, to_version, action, actor, created_at FROM prompt_label_history
            WHERE project_id = $p AND name = $n AND label = $l ORDER BY id
            """, ("$p", projectId), ("$n", name), ("$l", label));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<LabelMove>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new LabelMove
            {
                Name = name,
                Label = label,
                FromVersion = reader.IsDBNull(0) ? null : reader.GetInt32(0),
                ToVersion = reader.IsDBNull(1) ? null : reader.GetInt32(1),
                Action = reader.GetString(2),
                Actor = reader.IsDBNull(3) ? null : reader.GetString(3),
                At = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
            });
        }

        return result;
    }

    /// <summary>Labels by prompt name, each with its version and when it last moved.</summary>
    private static async Task<Dictionary<string, Dictionary<string, (int Version, long UpdatedAt)>>> ReadLabelsAsync(
        SqliteConnection connection, string projectId, string? name, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null,
            $"SELECT name, label, version, updated_at FROM prompt_labels WHERE project_id = $p {(name is null ? "" : "AND name = $n")}",
            ("$p", projectId), ("$n", name));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new Dictionary<string, Dictionary<string, (int, long)>>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var prompt = reader.GetString(0);
            if (!result.TryGetValue(prompt, out var labels))
            {
                result[prompt] = labels = new(StringComparer.Ordinal);
            }

            labels[reader.GetString(1)] = (reader.GetInt32(2), reader.GetInt64(3));
        }

        return result;
    }

    private static async Task<PromptVersion?> ReadVersionAsync(SqliteConnection connection, SqliteTransaction? transaction, string projectId, string name, int version, CancellationToken cancellationToken)
    {
        var found = await ReadVersionsAsync(connection, transaction, projectId, name, version, cancellationToken);
        if (found.Count == 0)
        {
            return null;
        }

        await using var command = Command(connection, transaction, "SELECT label FROM prompt_labels WHERE project_id = $p AND name = $n AND version = $v ORDER BY label",
            ("$p", projectId), ("$n", name), ("$v", version));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var labels = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            labels.Add(reader.GetString(0));
        }

        return found[0] with { Labels = labels };
    }

    private static async Task<List<PromptVersion>> ReadVersionsAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string projectId, string? name, int? version, CancellationToken cancellationToken)
    {
        var where = "project_id = $p" + (name is null ? "" : " AND name = $n") + (version is null ? "" : " AND version = $v");
        await using var command = Command(connection, transaction, $"SELECT {VersionColumns} FROM prompt_versions WHERE {where} ORDER BY name, version",
            ("$p", projectId), ("$n", name), ("$v", version));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<PromptVersion>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new PromptVersion
            {
                Name = reader.GetString(0),
                Version = reader.GetInt32(1),
                Type = reader.GetString(2),
                Template = reader.IsDBNull(3) ? null : reader.GetString(3),
                Messages = reader.IsDBNull(4) ? null : JsonSerializer.Deserialize(reader.GetString(4), PromptStoreJsonContext.Default.ListPromptMessage),
                Model = reader.IsDBNull(5) ? null : reader.GetString(5),
                Params = reader.IsDBNull(6) ? null : JsonSerializer.Deserialize(reader.GetString(6), PromptStoreJsonContext.Default.JsonElement),
                ContentHash = reader.GetString(7),
                Message = reader.IsDBNull(8) ? null : reader.GetString(8),
                Author = reader.IsDBNull(9) ? null : reader.GetString(9),
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10)),
            });
        }

        return result;
    }

    private static PromptVersion WithLabels(PromptVersion version, Dictionary<string, int> labels) =>
        version with { Labels = [.. labels.Where(l => l.Value == version.Version).Select(l => l.Key).Order(StringComparer.Ordinal)] };

    private static async Task<List<Experiment>> ReadExperimentsAsync(SqliteConnection connection, SqliteTransaction? transaction, string projectId, string? id, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            $"SELECT {ExperimentColumns} FROM prompt_experiments WHERE project_id = $p {(id is null ? "" : "AND experiment_id = $id")} ORDER BY created_at DESC, experiment_id",
            ("$p", projectId), ("$id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<Experiment>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new Experiment
            {
                Id = reader.GetString(0),
                Name = reader.GetString(1),
                Prompt = reader.GetString(2),
                Label = reader.GetString(3),
                Arms = JsonSerializer.Deserialize(reader.GetString(4), PromptStoreJsonContext.Default.ListExperimentArm) ?? [],
                PrimaryScore = reader.IsDBNull(5) ? null : reader.GetString(5),
                Status = reader.GetString(6),
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
                StoppedAt = reader.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)),
            });
        }

        return result;
    }
}
