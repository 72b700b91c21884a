using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text.Json;
using Keel.Core.Pipeline;
using Keel.Core.Storage;

namespace Keel.Core.Identity;

/// <summary>
/// Projects and virtual keys, held in memory so that authenticating a request costs a dictionary lookup and one
/// SHA-256, never a store round trip. Changes made through this instance apply at once (a revoked key fails its
/// very next request); changes made by other replicas sharing the store are picked up by <see cref="RefreshAsync"/>,
/// which a background service calls every few seconds. Every change is written with its audit entry.
/// </summary>
public sealed class KeyRegistry(IKeelStore store, TimeProvider time)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile State _state = State.Empty;

    /// <summary>True when an unrevoked, unexpired admin key exists (then loopback is no longer open without a key).</summary>
    public bool HasActiveAdminKey => _state.AdminKeyUntil is { } until && until > time.GetUtcNow();

    public IReadOnlyList<ApiKeyRecord> Keys => _state.KeysById.Values.OrderBy(static k => k.CreatedAt).ToList();

    public IReadOnlyList<ProjectRecord> Projects => _state.Projects.Values.OrderBy(static p => p.CreatedAt).ToList();

    public ApiKeyRecord? FindByPrefix(string prefix) => _state.KeysByPrefix.GetValueOrDefault(prefix);

    public ApiKeyRecord? GetKey(string keyId) => _state.KeysById.GetValueOrDefault(keyId);

    public ProjectRecord? GetProject(string projectId) => _state.Projects.GetValueOrDefault(projectId);

    /// <summary>Reloads keys and projects from the store.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var keys = await store.Access.ListKeysAsync(cancellationToken);
        var projects = await store.Access.ListProjectsAsync(cancellationToken);
        _state = State.From(keys, projects, time.GetUtcNow());
    }

    /// <summary>Creates a key; returns the record and the secret, which is not kept anywhere.</summary>
    public async Task<(ApiKeyRecord Key, string Secret)> CreateKeyAsync(
        string name, string role, string? projectId, DateTimeOffset? expiresAt, LimitSettings? limits, CallerIdentity actor, CancellationToken cancellationToken)
    {
        var (secret, prefix) = KeyFormat.Generate();
        var key = new ApiKeyRecord
        {
            KeyId = "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Name = name,
            Role = role,
            ProjectId = role == Roles.Admin ? null : projectId ?? Identity.Projects.Default,
            Prefix = prefix,
            Hash = KeyFormat.Hash(secret),
            CreatedAt = time.GetUtcNow(),
            CreatedBy = actor.KeyId,
            ExpiresAt = expiresAt,
            Limits = limits is { IsEmpty: false } ? limits : null,
        };
        await Mutate(() => store.Access.CreateKeyAsync(key, Audit(actor, "key.create", "key", key.KeyId, key.ProjectId, null, key), cancellationToken), cancellationToken);
        return (key, secret);
    }

    /// <summary>Revokes a key; the next request with it fails. Null when there is no such key.</summary>
    public Task<ApiKeyRecord?> RevokeKeyAsync(string keyId, CallerIdentity actor, CancellationToken cancellationToken) =>
        UpdateKeyAsync(keyId, "key.revoke", k => k.RevokedAt is null ? k with { RevokedAt = time.GetUtcNow() } : k, actor, cancellationToken);

    /// <summary>Changes a key's name, expiry or limits. Null when there is no such key.</summary>
    public async Task<ApiKeyRecord?> UpdateKeyAsync(string keyId, string action, Func<ApiKeyRecord, ApiKeyRecord> change, CallerIdentity actor, CancellationToken cancellationToken)
    {
        if (GetKey(keyId) is not { } before)
        {
            return null;
        }
        var after = change(before);
        if (after == before)
        {
            return before;
        }
        await Mutate(() => store.Access.UpdateKeyAsync(after, Audit(actor, action, "key", keyId, before.ProjectId, before, after), cancellationToken), cancellationToken);
        return after;
    }

    /// <summary>Creates a project; null when the name is taken.</summary>
    public async Task<ProjectRecord?> CreateProjectAsync(string name, LimitSettings? limits, CallerIdentity actor, CancellationToken cancellationToken)
    {
        var project = new ProjectRecord
        {
            ProjectId = "proj_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            Name = name,
            CreatedAt = time.GetUtcNow(),
            Limits = limits is { IsEmpty: false } ? limits : null,
        };
        var created = false;
        await Mutate(async () => created = await store.Access.CreateProjectAsync(project, Audit(actor, "project.create", "project", project.ProjectId, project.ProjectId, null, project), cancellationToken), cancellationToken);
        return created ? project : null;
    }

    /// <summary>Changes a project's limits and retention. Null when there is no such project.</summary>
    public async Task<ProjectRecord?> UpdateProjectAsync(string projectId, Func<ProjectRecord, ProjectRecord> change, CallerIdentity actor, CancellationToken cancellationToken)
    {
        if (GetProject(projectId) is not { } before)
        {
            return null;
        }
        var after = change(before);
        after = after with { Limits = after.Limits is { IsEmpty: false } ? after.Limits : null };
        await Mutate(() => store.Access.UpdateProjectAsync(after, Audit(actor, "project.update", "project", projectId, projectId, before, after), cancellationToken), cancellationToken);
        return after;
    }

    /// <summary>An audit entry with the target as JSON before and after.</summary>
    public AuditEntry Audit<T>(CallerIdentity actor, string action, string targetType, string targetId, string? projectId, T? before, T? after)
        where T : class => AuditEntry.By(actor, time.GetUtcNow(), action, targetType, targetId, projectId,
            before is null ? null : JsonSerializer.Serialize(before, typeof(T), AccessJson.Default),
            after is null ? null : JsonSerializer.Serialize(after, typeof(T), AccessJson.Default));

    private async Task Mutate(Func<Task> write, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await write();
            await RefreshAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private sealed record State(
        FrozenDictionary<string, ApiKeyRecord> KeysByPrefix,
        FrozenDictionary<string, ApiKeyRecord> KeysById,
        FrozenDictionary<string, ProjectRecord> Projects,
        DateTimeOffset? AdminKeyUntil)
    {
        public static readonly State Empty = new(
            FrozenDictionary<string, ApiKeyRecord>.Empty, FrozenDictionary<string, ApiKeyRecord>.Empty, FrozenDictionary<string, ProjectRecord>.Empty, null);

        public static State From(IReadOnlyList<ApiKeyRecord> keys, IReadOnlyList<ProjectRecord> projects, DateTimeOffset now)
        {
            DateTimeOffset? adminUntil = null;
            foreach (var key in keys)
            {
                if (key.Role == Roles.Admin && key.IsActive(now))
                {
                    var until = key.ExpiresAt ?? DateTimeOffset.MaxValue;
                    adminUntil = adminUntil is { } current && current > until ? current : until;
                }
            }
            return new State(
                keys.ToFrozenDictionary(static k => k.Prefix, StringComparer.Ordinal),
                keys.ToFrozenDictionary(static k => k.KeyId, StringComparer.Ordinal),
                projects.ToFrozenDictionary(static p => p.ProjectId, StringComparer.Ordinal),
                adminUntil);
        }
    }
}
