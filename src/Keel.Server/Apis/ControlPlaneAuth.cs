using Keel.Core.Identity;
using Microsoft.AspNetCore.Builder;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.Server.Apis;

/// <summary>What an endpoint requires of its caller (endpoint metadata read by <see cref="ControlPlaneAuth"/>).</summary>
internal sealed record RequiresPermission(Permission Permission);

internal static class ControlPlaneEndpoints
{
    /// <summary>Authenticates callers of the endpoint and lets through only roles with <paramref name="permission"/>.</summary>
    public static TBuilder Require<TBuilder>(this TBuilder builder, Permission permission)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresPermission(permission)).AddEndpointFilter<TBuilder, ControlPlaneAuth>();

    /// <summary>The caller established by <see cref="ControlPlaneAuth"/>.</summary>
    public static CallerIdentity Caller(this HttpContext http) =>
        http.Features.Get<CallerIdentity>() ?? throw new InvalidOperationException("The endpoint has no ControlPlaneAuth filter.");

    /// <summary>
    /// The project a tenant-scoped query runs in: the caller's own project; for an admin, the one asked for
    /// (<c>?project=</c>) or null for all. False when a non-admin asks for another project (answer 404, not 403:
    /// other projects' existence is not revealed).
    /// </summary>
    public static bool TryScope(this CallerIdentity caller, string? requested, out string? project)
    {
        project = caller.OwnScope();
        if (project is null)
        {
            project = string.IsNullOrEmpty(requested) ? null : requested;
            return true;
        }
        return string.IsNullOrEmpty(requested) || requested == project;
    }

    /// <summary>The project the caller's queries run in: its own, or null (every project) for an admin.</summary>
    public static string? OwnScope(this CallerIdentity caller) =>
        caller.Role == Roles.Admin ? null : caller.ProjectId ?? Projects.Default;

    /// <summary>True when the caller may see data of <paramref name="project"/>.</summary>
    public static bool CanSee(this CallerIdentity caller, string? project) =>
        caller.Role == Roles.Admin || (project ?? Projects.Default) == (caller.ProjectId ?? Projects.Default);
}

/// <summary>
/// Endpoint filter: the control plane needs a key like the gateway, and a role with the permission the endpoint
/// declares (<see cref="ControlPlaneEndpoints.Require"/>). An endpoint without a declared permission refuses everyone.
/// </summary>
internal sealed partial class ControlPlaneAuth : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var snapshot = http.RequestServices.GetRequiredService<GatewayState>().Current;
        var identity = HttpIdentity.Authenticate(http, snapshot, out var authError);
        if (identity is null)
        {
            await ErrorWriter.WriteAsync(http, authError!, snapshot);
            return Results.Empty;
        }

        var required = http.GetEndpoint()?.Metadata.GetMetadata<RequiresPermission>();
        if (required is null || !Roles.Allows(identity.Role, required.Permission))
        {
            var error = new GatewayError(403, "permission_error", "permission_denied",
                required is null
                    ? "This endpoint declares no permission, so it is closed (a bug in Keel)."
                    : $"A key with the role '{identity.Role}' may not do this (it needs {Describe(required.Permission)}).");
            await ErrorWriter.WriteAsync(http, error, snapshot);
            return Results.Empty;
        }

        http.Features.Set(identity);
        return await next(context);
    }
}

internal sealed partial class ControlPlaneAuth
{
    private static string Describe(Permission permission) => permission switch
    {
        Permission.CallModels => "permission to call models",
        Permission.Read => "read access to the project",
        Permission.Write => "write access to the project",
        Permission.ManageProject => "the project_admin or admin role",
        _ => "the admin role",
    };
}

internal static class ErrorResults
{
    public static IResult Forbidden(string message) => new GatewayErrorResult(new GatewayError(403, "permission_error", "permission_denied", message));

    public static IResult NotFound(string message) => new GatewayErrorResult(new GatewayError(404, "invalid_request_error", "not_found", message));

    public static IResult BadRequest(string message, string? param) => new GatewayErrorResult(GatewayError.InvalidRequest(message, param));
}

/// <summary>An <see cref="IResult"/> that writes an OpenAI-style error.</summary>
internal sealed class GatewayErrorResult(GatewayError error) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) =>
        ErrorWriter.WriteAsync(httpContext, error, httpContext.RequestServices.GetRequiredService<GatewayState>().Current);
}
