using System.Text.Json.Serialization;

namespace Keel.Core.Identity;

/// <summary>The default project: where data goes when no project is named (single-team installs).</summary>
public static class Projects
{
    public const string Default = "default";
}

/// <summary>A tenant: everything stored belongs to one.</summary>
public sealed record ProjectRecord
{
    [JsonPropertyName("id")] public required string ProjectId { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("created_at")] public required DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("limits")] public LimitSettings? Limits { get; init; }

    /// <summary>Days its traces are kept; null = the config's <c>recording.retention_days</c>.</summary>
    [JsonPropertyName("retention_days")] public int? RetentionDays { get; init; }
}

/// <summary>A virtual key as stored: never the secret, only its SHA-256 and its public prefix.</summary>
public sealed record ApiKeyRecord
{
    [JsonPropertyName("id")] public required string KeyId { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("role")] public required string Role { get; init; }

    /// <summary>The project; null for admin keys, which span all projects.</summary>
    [JsonPropertyName("project")] public string? ProjectId { get; init; }

    /// <summary>The first characters of the key (<c>sk-keel-AbCd1234</c>): how people recognise it; not secret.</summary>
    [JsonPropertyName("prefix")] public required string Prefix { get; init; }

    [JsonIgnore] public byte[] Hash { get; init; } = [];
    [JsonPropertyName("created_at")] public required DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("created_by")] public string? CreatedBy { get; init; }
    [JsonPropertyName("expires_at")] public DateTimeOffset? ExpiresAt { get; init; }
    [JsonPropertyName("revoked_at")] public DateTimeOffset? RevokedAt { get; init; }
    [JsonPropertyName("limits")] public LimitSettings? Limits { get; init; }

    /// <summary>True when the key may be used at <paramref name="now"/>.</summary>
    public bool IsActive(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is not { } expires || expires > now);
}

/// <summary>Limits on a key or a project (and per model within them). Null = no limit.</summary>
public sealed record LimitSettings
{
    /// <summary>Model aliases the key or project may call; null = all.</summary>
    [JsonPropertyName("models")] public IReadOnlyList<string>? Models { get; init; }
    [JsonPropertyName("rpm")] public int? Rpm { get; init; }
    [JsonPropertyName("tpm")] public int? Tpm { get; init; }
    [JsonPropertyName("max_concurrent")] public int? MaxConcurrent { get; init; }
    [JsonPropertyName("daily_budget_usd")] public double? DailyBudgetUsd { get; init; }
    [JsonPropertyName("monthly_budget_usd")] public double? MonthlyBudgetUsd { get; init; }

    /// <summary>Share of a budget from which responses carry a warning header and Keel logs an alert (default 0.8).</summary>
    [JsonPropertyName("soft_budget_ratio")] public double? SoftBudgetRatio { get; init; }

    /// <summary>Per model alias: rpm and tpm within this key or project.</summary>
    [JsonPropertyName("per_model")] public IReadOnlyDictionary<string, ModelLimit>? PerModel { get; init; }

    /// <summary>True when nothing is limited.</summary>
    [JsonIgnore]
    public bool IsEmpty => Models is null && Rpm is null && Tpm is null && MaxConcurrent is null && DailyBudgetUsd is null
        && MonthlyBudgetUsd is null && (PerModel is null || PerModel.Count == 0);
}

/// <summary>Rate limits for one model within a key or project.</summary>
public sealed record ModelLimit
{
    [JsonPropertyName("rpm")] public int? Rpm { get; init; }
    [JsonPropertyName("tpm")] public int? Tpm { get; init; }
}

/// <summary>One change made through the control plane: who, what, when, before and after.</summary>
public sealed record AuditEntry
{
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("at")] public required DateTimeOffset At { get; init; }
    [JsonPropertyName("actor")] public required string Actor { get; init; }
    [JsonPropertyName("actor_role")] public required string ActorRole { get; init; }
    [JsonPropertyName("project")] public string? ProjectId { get; init; }

    /// <summary>What was done, e.g. <c>key.create</c>, <c>key.revoke</c>, <c>project.update</c>, <c>prompt.label</c>.</summary>
    [JsonPropertyName("action")] public required string Action { get; init; }
    [JsonPropertyName("target_type")] public required string TargetType { get; init; }
    [JsonPropertyName("target_id")] public required string TargetId { get; init; }

    /// <summary>The target as JSON before the change (null for a creation).</summary>
    [JsonPropertyName("before")] public string? Before { get; init; }

    /// <summary>The target as JSON after the change (null for a deletion).</summary>
    [JsonPropertyName("after")] public string? After { get; init; }

    /// <summary>An entry for a change made by <paramref name="actor"/> at <paramref name="at"/>.</summary>
    public static AuditEntry By(
        Pipeline.CallerIdentity actor, DateTimeOffset at, string action, string targetType, string targetId, string? projectId, string? before, string? after) => new()
    {
        At = at,
        Actor = actor.KeyId,
        ActorRole = actor.Role,
        ProjectId = projectId,
        Action = action,
        TargetType = targetType,
        TargetId = targetId,
        Before = before,
        After = after,
    };
}

/// <summary>A page of the audit log, newest first.</summary>
public sealed record AuditQuery
{
    public string? ProjectId { get; init; }
    public string? Action { get; init; }
    public string? TargetId { get; init; }
    public long? BeforeId { get; init; }
    public int Limit { get; init; } = 50;
}
