using Keel.Core.Identity;

namespace Keel.Core.Storage;

/// <summary>Projects, virtual keys and the audit log. Every change is written with its audit entry in one transaction.</summary>
public interface IAccessStore
{
    Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(CancellationToken cancellationToken);

    /// <summary>Creates the project; false when the id or name is taken.</summary>
    Task<bool> CreateProjectAsync(ProjectRecord project, AuditEntry audit, CancellationToken cancellationToken);

    Task UpdateProjectAsync(ProjectRecord project, AuditEntry audit, CancellationToken cancellationToken);

    /// <summary>Every key, revoked and expired ones included (no secrets: only hashes).</summary>
    Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken);

    Task CreateKeyAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken);

    Task UpdateKeyAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken);

    /// <summary>Records a change made elsewhere (prompts, routes, datasets…).</summary>
    Task AppendAuditAsync(AuditEntry audit, CancellationToken cancellationToken);

    /// <summary>
    /// USD spent per key (<c>key:ID</c>) and per project (<c>project:ID</c>) since <paramref name="monthStart"/>, and the
    /// part of it since <paramref name="dayStart"/>: what the budget limits start from after a restart.
    /// </summary>
    Task<IReadOnlyList<(string Scope, double Today, double ThisMonth)>> SpendAsync(DateTimeOffset monthStart, DateTimeOffset dayStart, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken);
}
