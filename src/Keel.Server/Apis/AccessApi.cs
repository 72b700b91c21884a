using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Keel.Core.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>Projects, virtual keys and the audit log: <c>/api/projects</c>, <c>/api/keys</c>, <c>/api/audit</c>.</summary>
internal static class AccessApi
{
    private const int MaxNameLength = 100;

    public static IEndpointRouteBuilder MapAccessApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/keys", CreateKeyAsync).Require(Permission.ManageProject);
        app.MapGet("/api/keys", ListKeys).Require(Permission.ManageProject);
        app.MapGet("/api/keys/{id}", GetKey).Require(Permission.ManageProject);
        app.MapPatch("/api/keys/{id}", UpdateKeyAsync).Require(Permission.ManageProject);
        app.MapDelete("/api/keys/{id}", RevokeKeyAsync).Require(Permission.ManageProject);

        app.MapPost("/api/projects", CreateProjectAsync).Require(Permission.Admin);
        app.MapGet("/api/projects", ListProjects).Require(Permission.Read);
        app.MapGet("/api/projects/{id}", GetProject).Require(Permission.Read);
        app.MapPatch("/api/projects/{id}", UpdateProjectAsync).Require(Permission.Admin);

        app.MapGet("/api/audit", ListAuditAsync).Require(Permission.ManageProject);
        app.MapPost("/api/erasure", EraseUserAsync).Require(Permission.ManageProject);
        return app;
    }

    private static async Task<IResult> CreateKeyAsync(HttpContext http, KeyRegistry registry, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = http.Caller();
        var (body, error) = await ReadObjectAsync(http, cancellationToken);
        if (body is null)
        {
            return error!;
        }

        var name = body["name"] is JsonValue n && n.TryGetValue<string>(out var nameText) ? nameText.Trim() : null;
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
        {
            return ErrorResults.BadRequest($"'name' is required: a label of 1 to {MaxNameLength} characters.", "name");
        }
        var role = body["role"] is JsonValue r && r.TryGetValue<string>(out var roleText) ? roleText : Roles.Developer;
        if (!Roles.All.Contains(role))
        {
            return ErrorResults.BadRequest($"Unknown role '{role}'; expected one of: {string.Join(", ", Roles.All)}.", "role");
        }
        if (!Roles.CanGrant(caller.Role, role))
        {
            return ErrorResults.Forbidden($"A '{caller.Role}' key may not create '{role}' keys.");
        }

        var requestedProject = body["project"] is JsonValue p && p.TryGetValue<string>(out var projectText) ? projectText : null;
        string? project = null;
        if (role != Roles.Admin)
        {
            if (!caller.TryScope(requestedProject, out project))
            {
                return NotFoundProject(requestedProject!);
            }
            project ??= Projects.Default;
            if (registry.GetProject(project) is null)
            {
                return NotFoundProject(project);
            }
        }
        else if (requestedProject is not null)
        {
            return ErrorResults.BadRequest("Admin keys span all projects; leave 'project' out.", "project");
        }

        if (!TryReadExpiry(body, time, out var expires, out var expiryError))
        {
            return expiryError!;
        }
        if (!TryReadLimits(body, out var limits, out var limitsError))
        {
            return limitsError!;
        }

        var (key, secret) = await registry.CreateKeyAsync(name, role, project, expires, limits, caller, cancellationToken);
        var json = JsonSerializer.SerializeToNode(key, AccessJson.Default.ApiKeyRecord)!.AsObject();
        json["key"] = secret;
        return Results.Json(json, statusCode: StatusCodes.Status201Created);
    }

    private static IResult ListKeys(HttpContext http, KeyRegistry registry, string? project)
    {
        var caller = http.Caller();
        if (!caller.TryScope(project, out var scope))
        {
            return NotFoundProject(project!);
        }
        var keys = registry.Keys.Where(k => scope is null || k.ProjectId == scope).ToList();
        return Results.Json(new JsonObject { ["data"] = JsonSerializer.SerializeToNode(keys, AccessJson.Default.ListApiKeyRecord) });
    }

    private static IResult GetKey(HttpContext http, KeyRegistry registry, string id) =>
        Visible(http, registry, id) is { } key ? Results.Json(key, AccessJson.Default.ApiKeyRecord) : NotFoundKey(id);

    private static async Task<IResult> UpdateKeyAsync(HttpContext http, KeyRegistry registry, TimeProvider time, string id, CancellationToken cancellationToken)
    {
        if (Visible(http, registry, id) is not { } key)
        {
            return NotFoundKey(id);
        }
        var (body, error) = await ReadObjectAsync(http, cancellationToken);
        if (body is null)
        {
            return error!;
        }
        var name = key.Name;
        if (body.ContainsKey("name"))
        {
            name = body["name"] is JsonValue n && n.TryGetValue<string>(out var text) && text.Trim() is { Length: > 0 and <= MaxNameLength } trimmed ? trimmed : null!;
            if (name is null)
            {
                return ErrorResults.BadRequest($"'name' must be a label of 1 to {MaxNameLength} characters.", "name");
            }
        }
        var expires = key.ExpiresAt;
        if (body.ContainsKey("expires_at") && !TryReadExpiry(body, time, out expires, out var expiryError))
        {
            return expiryError!;
        }
        var limits = key.Limits;
        if (body.ContainsKey("limits") && !TryReadLimits(body, out limits, out var limitsError))
        {
            return limitsError!;
        }
        var updated = await registry.UpdateKeyAsync(id, "key.update", k => k with { Name = name, ExpiresAt = expires, Limits = limits is { IsEmpty: false } ? limits : null }, http.Caller(), cancellationToken);
        return updated is null ? NotFoundKey(id) : Results.Json(updated, AccessJson.Default.ApiKeyRecord);
    }

    private static async Task<IResult> RevokeKeyAsync(HttpContext http, KeyRegistry registry, string id, CancellationToken cancellationToken)
    {
        if (Visible(http, registry, id) is null)
        {
            return NotFoundKey(id);
        }
        var revoked = await registry.RevokeKeyAsync(id, http.Caller(), cancellationToken);
        return revoked is null ? NotFoundKey(id) : Results.Json(revoked, AccessJson.Default.ApiKeyRecord);
    }

    private static async Task<IResult> CreateProjectAsync(HttpContext http, KeyRegistry registry, CancellationToken cancellationToken)
    {
        var (body, error) = await ReadObjectAsync(http, cancellationToken);
        if (body is null)
        {
            return error!;
        }
        var name = body["name"] is JsonValue n && n.TryGetValue<string>(out var text) ? text.Trim() : null;
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
        {
            return ErrorResults.BadRequest($"'name' is required: 1 to {MaxNameLength} characters.", "name");
        }
        if (!TryReadLimits(body, out var limits, out var limitsError))
        {
            return limitsError!;
        }
        var project = await registry.CreateProjectAsync(name, limits, http.Caller(), cancellationToken);
        return project is null
            ? new GatewayErrorResult(new Core.Pipeline.GatewayError(409, "invalid_request_error", "conflict", $"A project named '{name}' already exists.", "name"))
            : Results.Json(project, AccessJson.Default.ProjectRecord, statusCode: StatusCodes.Status201Created);
    }

    private static IResult ListProjects(HttpContext http, KeyRegistry registry)
    {
        var caller = http.Caller();
        var projects = registry.Projects.Where(p => caller.CanSee(p.ProjectId)).ToList();
        return Results.Json(new JsonObject { ["data"] = JsonSerializer.SerializeToNode(projects, AccessJson.Default.ListProjectRecord) });
    }

    private static IResult GetProject(HttpContext http, KeyRegistry registry, string id) =>
        registry.GetProject(id) is { } project && http.Caller().CanSee(id)
            ? Results.Json(project, AccessJson.Default.ProjectRecord)
            : NotFoundProject(id);

    private static async Task<IResult> UpdateProjectAsync(HttpContext http, KeyRegistry registry, string id, CancellationToken cancellationToken)
    {
        if (registry.GetProject(id) is null)
        {
            return NotFoundProject(id);
        }
        var (body, error) = await ReadObjectAsync(http, cancellationToken);
        if (body is null)
        {
            return error!;
        }
        var current = registry.GetProject(id)!;
        var limits = current.Limits;
        if (body.ContainsKey("limits") && !TryReadLimits(body, out limits, out var limitsError))
        {
            return limitsError!;
        }
        var retention = current.RetentionDays;
        if (body.ContainsKey("retention_days"))
        {
            if (body["retention_days"] is null)
            {
                retention = null;
            }
            else if (body["retention_days"] is JsonValue days && days.TryGetValue<int>(out var value) && value >= 1)
            {
                retention = value;
            }
            else
            {
                return ErrorResults.BadRequest("'retention_days' must be a whole number of days of at least 1, or null for the config's recording.retention_days.", "retention_days");
            }
        }
        var updated = await registry.UpdateProjectAsync(id, p => p with { Limits = limits, RetentionDays = retention }, http.Caller(), cancellationToken);
        return updated is null ? NotFoundProject(id) : Results.Json(updated, AccessJson.Default.ProjectRecord);
    }

    private static async Task<IResult> ListAuditAsync(
        HttpContext http, Core.Storage.IKeelStore store, string? project, string? action, string? target, string? cursor, int? limit, CancellationToken cancellationToken)
    {
        var caller = http.Caller();
        if (!caller.TryScope(project, out var scope))
        {
            return NotFoundProject(project!);
        }
        long? before = null;
        if (cursor is not null)
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                return ErrorResults.BadRequest($"Invalid cursor '{cursor}': pass the next_cursor of the previous page.", "cursor");
            }
            before = id;
        }
        if (limit is < 1 or > 1000)
        {
            return ErrorResults.BadRequest("'limit' must be between 1 and 1000.", "limit");
        }
        var size = limit ?? 50;
        var entries = await store.Access.ListAuditAsync(new AuditQuery { ProjectId = scope, Action = action, TargetId = target, BeforeId = before, Limit = size }, cancellationToken);
        var page = new JsonObject
        {
            ["data"] = JsonSerializer.SerializeToNode(entries.ToList(), AccessJson.Default.ListAuditEntry),
            ["next_cursor"] = entries.Count == size ? entries[^1].Id.ToString(CultureInfo.InvariantCulture) : null,
        };
        return Results.Json(page);
    }

    /// <summary>
    /// Erases everything stored about one end user (GDPR): their traces and the scores on them, in the caller's
    /// project (admins: every project, or <c>project</c>). The audit entry names the user by a SHA-256 of the id,
    /// so the log of the erasure does not itself keep the identifier.
    /// </summary>
    private static async Task<IResult> EraseUserAsync(HttpContext http, Core.Storage.IKeelStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = http.Caller();
        var (body, error) = await ReadObjectAsync(http, cancellationToken);
        if (body is null)
        {
            return error!;
        }
        var user = body["user_id"] is JsonValue u && u.TryGetValue<string>(out var userText) && userText.Length > 0 ? userText : null;
        if (user is null)
        {
            return ErrorResults.BadRequest("'user_id' is required: the end user id as sent in 'user' or x-keel-user-id.", "user_id");
        }
        var requested = body["project"] is JsonValue p && p.TryGetValue<string>(out var projectText) ? projectText : null;
        if (!caller.TryScope(requested, out var scope))
        {
            return NotFoundProject(requested!);
        }
        var hashed = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(user)));
        var (traces, scores) = await store.Lifecycle.EraseUserAsync(user, scope,
            (t, s) => AuditEntry.By(caller, time.GetUtcNow(), "user.erase", "end_user", hashed, scope, null, $$"""{"traces_deleted":{{t}},"scores_deleted":{{s}}}"""),
            cancellationToken);
        return Results.Json(new JsonObject { ["user"] = hashed, ["project"] = scope, ["traces_deleted"] = traces, ["scores_deleted"] = scores });
    }

    /// <summary>The key if the caller may see it (same project, or admin).</summary>
    private static ApiKeyRecord? Visible(HttpContext http, KeyRegistry registry, string id)
    {
        var caller = http.Caller();
        return registry.GetKey(id) is { } key && (caller.Role == Roles.Admin || (key.ProjectId is not null && caller.CanSee(key.ProjectId))) ? key : null;
    }

    private static IResult NotFoundKey(string id) => ErrorResults.NotFound($"No key with id '{id}'.");

    private static IResult NotFoundProject(string id) => ErrorResults.NotFound($"No project with id '{id}'.");

    private static async Task<(JsonObject? Body, IResult? Error)> ReadObjectAsync(HttpContext http, CancellationToken cancellationToken)
    {
        try
        {
            var node = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: cancellationToken);
            return node is JsonObject obj ? (obj, null) : (null, ErrorResults.BadRequest("The body must be a JSON object.", null));
        }
        catch (JsonException ex)
        {
            return (null, ErrorResults.BadRequest($"The body is not valid JSON: {ex.Message.Split(" Path:", 2)[0]}", null));
        }
    }

    private static bool TryReadExpiry(JsonObject body, TimeProvider time, out DateTimeOffset? expires, out IResult? error)
    {
        expires = null;
        error = null;
        if (body["expires_at"] is null)
        {
            return true;
        }
        if (body["expires_at"] is not JsonValue v || !v.TryGetValue<string>(out var text)
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            error = ErrorResults.BadRequest("'expires_at' must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z.", "expires_at");
            return false;
        }
        if (parsed <= time.GetUtcNow())
        {
            error = ErrorResults.BadRequest("'expires_at' is in the past.", "expires_at");
            return false;
        }
        expires = parsed.ToUniversalTime();
        return true;
    }

    private static bool TryReadLimits(JsonObject body, out LimitSettings? limits, out IResult? error)
    {
        limits = null;
        error = null;
        if (body["limits"] is not { } node)
        {
            return true;
        }
        try
        {
            limits = node.Deserialize(AccessJson.Default.LimitSettings);
        }
        catch (JsonException ex)
        {
            var path = ex.Path is { Length: > 1 } p ? "limits" + p[1..] : "limits";
            error = ErrorResults.BadRequest($"'{path}' is not valid: {ex.Message.Split(" Path:", 2)[0]}", path);
            return false;
        }
        if (limits is not null && LimitValidation.Check(limits) is { } problem)
        {
            error = ErrorResults.BadRequest(problem.Message, "limits." + problem.Field);
            return false;
        }
        return true;
    }
}
