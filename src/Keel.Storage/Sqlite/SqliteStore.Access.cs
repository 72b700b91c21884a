using System.Text.Json;
using Keel.Core.Identity;
using Keel.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Keel.Storage.Sqlite;

public sealed partial class SqliteStore : IAccessStore
{
    public IAccessStore Access => this;

    public async Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT project_id, name, created_at, limits, retention_days FROM projects ORDER BY created_at, project_id";
        var result = new List<ProjectRecord>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new ProjectRecord
            {
                ProjectId = r.GetString(0),
                Name = r.GetString(1),
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
                Limits = ReadLimits(r, 3),
                RetentionDays = r.IsDBNull(4) ? null : r.GetInt32(4),
            });
        }
        return result;
    }

    public Task<bool> CreateProjectAsync(ProjectRecord project, AuditEntry audit, CancellationToken cancellationToken) =>
        WriteWithAuditAsync(audit, command =>
        {
            command.CommandText = "INSERT OR IGNORE INTO projects (project_id, name, created_at, limits) VALUES ($id, $name, $at, $limits)";
            command.Parameters.AddWithValue("$id", project.ProjectId);
            command.Parameters.AddWithValue("$name", project.Name);
            command.Parameters.AddWithValue("$at", project.CreatedAt.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$limits", LimitsJson(project.Limits));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public Task UpdateProjectAsync(ProjectRecord project, AuditEntry audit, CancellationToken cancellationToken) =>
        WriteWithAuditAsync(audit, command =>
        {
            command.CommandText = "UPDATE projects SET name = $name, limits = $limits, retention_days = $retention WHERE project_id = $id";
            command.Parameters.AddWithValue("$retention", (object?)project.RetentionDays ?? DBNull.Value);
            command.Parameters.AddWithValue("$id", project.ProjectId);
            command.Parameters.AddWithValue("$name", project.Name);
            command.Parameters.AddWithValue("$limits", LimitsJson(project.Limits));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public async Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT key_id, name, role, project_id, prefix, hash, created_at, created_by, expires_at, revoked_at, limits FROM api_keys ORDER BY created_at, key_id";
        var result = new List<ApiKeyRecord>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new ApiKeyRecord
            {
                KeyId = r.GetString(0),
                Name = r.GetString(1),
                Role = r.GetString(2),
                ProjectId = r.IsDBNull(3) ? null : r.GetString(3),
                Prefix = r.GetString(4),
                Hash = (byte[])r.GetValue(5),
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)),
                CreatedBy = r.IsDBNull(7) ? null : r.GetString(7),
                ExpiresAt = r.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)),
                RevokedAt = r.IsDBNull(9) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9)),
                Limits = ReadLimits(r, 10),
            });
        }
        return result;
    }

    public Task CreateKeyAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken) =>
        WriteWithAuditAsync(audit, command =>
        {
            command.CommandText = """
                INSERT INTO api_keys (key_id, name, role, project_id, prefix, hash, created_at, created_by, expires_at, revoked_at, limits)
                VALUES ($id, $name, $role, $project, $prefix, $hash, $at, $by, $expires, NULL, $limits)
                """;
            command.Parameters.AddWithValue("$id", key.KeyId);
            command.Parameters.AddWithValue("$name", key.Name);
            command.Parameters.AddWithValue("$role", key.Role);
            command.Parameters.AddWithValue("$project", (object?)key.ProjectId ?? DBNull.Value);
            command.Parameters.AddWithValue("$prefix", key.Prefix);
            command.Parameters.AddWithValue("$hash", key.Hash);
            command.Parameters.AddWithValue("$at", key.CreatedAt.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$by", (object?)key.CreatedBy ?? DBNull.Value);
            command.Parameters.AddWithValue("$expires", (object?)key.ExpiresAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            command.Parameters.AddWithValue("$limits", LimitsJson(key.Limits));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public Task UpdateKeyAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken) =>
        WriteWithAuditAsync(audit, command =>
        {
            command.CommandText = "UPDATE api_keys SET name = $name, expires_at = $expires, revoked_at = $revoked, limits = $limits WHERE key_id = $id";
            command.Parameters.AddWithValue("$id", key.KeyId);
            command.Parameters.AddWithValue("$name", key.Name);
            command.Parameters.AddWithValue("$expires", (object?)key.ExpiresAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            command.Parameters.AddWithValue("$revoked", (object?)key.RevokedAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            command.Parameters.AddWithValue("$limits", LimitsJson(key.Limits));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public Task AppendAuditAsync(AuditEntry audit, CancellationToken cancellationToken) =>
        WriteWithAuditAsync(audit, static _ => true, cancellationToken);

    public async Task<IReadOnlyList<AuditEntry>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = new List<string>();
        Equal(where, command.Parameters, "project_id", "$project", query.ProjectId);
        Equal(where, command.Parameters, "action", "$action", query.Action);
        Equal(where, command.Parameters, "target_id", "$target", query.TargetId);
        if (query.BeforeId is { } before)
        {
            where.Add("audit_id < $before");
            command.Parameters.AddWithValue("$before", before);
        }
        command.CommandText = $"""
            SELECT audit_id, at, actor, actor_role, project_id, action, target_type, target_id, before_json, after_json
            FROM audit_log {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY audit_id DESC LIMIT $limit
            """;
        command.Parameters.AddWithValue("$limit", Math.Clamp(query.Limit, 1, 1000));
        var result = new List<AuditEntry>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add(new AuditEntry
            {
                Id = r.GetInt64(0),
                At = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
                Actor = r.GetString(2),
                ActorRole = r.GetString(3),
                ProjectId = r.IsDBNull(4) ? null : r.GetString(4),
                Action = r.GetString(5),
                TargetType = r.GetString(6),
                TargetId = r.GetString(7),
                Before = r.IsDBNull(8) ? null : r.GetString(8),
                After = r.IsDBNull(9) ? null : r.GetString(9),
            });
        }
        return result;
    }

    public async Task<IReadOnlyList<(string Scope, double Today, double ThisMonth)>> SpendAsync(DateTimeOffset monthStart, DateTimeOffset dayStart, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT 'key:' || key_id, SUM(CASE WHEN started_at >= $day THEN cost_usd ELSE 0 END), SUM(cost_usd)
            FROM traces WHERE started_at >= $month AND cost_usd > 0 AND key_id IS NOT NULL GROUP BY key_id
            UNION ALL
            SELECT 'project:' || project_id, SUM(CASE WHEN started_at >= $day THEN cost_usd ELSE 0 END), SUM(cost_usd)
            FROM traces WHERE started_at >= $month AND cost_usd > 0 AND project_id IS NOT NULL GROUP BY project_id
            """;
        command.Parameters.AddWithValue("$month", monthStart.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$day", dayStart.ToUnixTimeMilliseconds());
        var result = new List<(string, double, double)>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            result.Add((r.GetString(0), r.GetDouble(1), r.GetDouble(2)));
        }
        return result;
    }

    /// <summary>Runs one write and appends its audit entry in the same transaction; the audit entry is only written when the write did something.</summary>
    private Task<bool> WriteWithAuditAsync(AuditEntry audit, Func<SqliteCommand, bool> write, CancellationToken cancellationToken) =>
        WriteWithAuditAsync(() => audit, write, cancellationToken);

    /// <summary>As above, with the audit entry built after the write (so it can carry what the write did).</summary>
    private async Task<bool> WriteWithAuditAsync(Func<AuditEntry> buildAudit, Func<SqliteCommand, bool> write, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is not initialized.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            using var transaction = writer.BeginTransaction();
            bool changed;
            using (var command = writer.CreateCommand())
            {
                command.Transaction = transaction;
                changed = write(command);
            }
            if (changed)
            {
                var audit = buildAudit();
                using var command = writer.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    INSERT INTO audit_log (at, actor, actor_role, project_id, action, target_type, target_id, before_json, after_json)
                    VALUES ($at, $actor, $role, $project, $action, $type, $target, $before, $after)
                    """;
                command.Parameters.AddWithValue("$at", audit.At.ToUnixTimeMilliseconds());
                command.Parameters.AddWithValue("$actor", audit.Actor);
                command.Parameters.AddWithValue("$role", audit.ActorRole);
                command.Parameters.AddWithValue("$project", (object?)audit.ProjectId ?? DBNull.Value);
                command.Parameters.AddWithValue("$action", audit.Action);
                command.Parameters.AddWithValue("$type", audit.TargetType);
                command.Parameters.AddWithValue("$target", audit.TargetId);
                command.Parameters.AddWithValue("$before", (object?)audit.Before ?? DBNull.Value);
                command.Parameters.AddWithValue("$after", (object?)audit.After ?? DBNull.Value);
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return changed;
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"sqlite_{ex.SqliteErrorCode}", $"Writing to the access tables failed: {ex.Message}", IsTransient(ex), ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static object LimitsJson(LimitSettings? limits) =>
        limits is null || limits.IsEmpty ? DBNull.Value : JsonSerializer.Serialize(limits, AccessJson.Default.LimitSettings);

    private static LimitSettings? ReadLimits(SqliteDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? null : JsonSerializer.Deserialize(r.GetString(ordinal), AccessJson.Default.LimitSettings);
}
