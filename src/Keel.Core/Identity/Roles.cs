namespace Keel.Core.Identity;

/// <summary>What a caller may do.</summary>
[Flags]
public enum Permission
{
    None = 0,

    /// <summary>Call models through the gateway (and test guardrail policies).</summary>
    CallModels = 1,

    /// <summary>Read the project's traces, prompts, datasets, scores, experiments and route health.</summary>
    Read = 2,

    /// <summary>Create and change the project's prompts, datasets, scores and experiments.</summary>
    Write = 4,

    /// <summary>Create, change and revoke the project's keys and read its audit log.</summary>
    ManageProject = 8,

    /// <summary>Everything across all projects: projects themselves, admin keys, the whole audit log.</summary>
    Admin = 16,
}

/// <summary>The roles a key can have, and what each may do.</summary>
public static class Roles
{
    /// <summary>Everything, in every project.</summary>
    public const string Admin = "admin";

    /// <summary>Everything within one project, including its keys and audit log.</summary>
    public const string ProjectAdmin = "project_admin";

    /// <summary>Call models; read and write the project's prompts, datasets, traces and scores.</summary>
    public const string Developer = "developer";

    /// <summary>Read the project's data; no model calls, no changes.</summary>
    public const string Viewer = "viewer";

    /// <summary>Call models and nothing else (the key an application ships with).</summary>
    public const string Gateway = "gateway";

    /// <summary>Every role, most powerful first.</summary>
    public static IReadOnlyList<string> All { get; } = [Admin, ProjectAdmin, Developer, Viewer, Gateway];

    /// <summary>What <paramref name="role"/> may do; <see cref="Permission.None"/> for an unknown role.</summary>
    public static Permission PermissionsOf(string role) => role switch
    {
        Admin => Permission.CallModels | Permission.Read | Permission.Write | Permission.ManageProject | Permission.Admin,
        ProjectAdmin => Permission.CallModels | Permission.Read | Permission.Write | Permission.ManageProject,
        Developer => Permission.CallModels | Permission.Read | Permission.Write,
        Viewer => Permission.Read,
        Gateway => Permission.CallModels,
        _ => Permission.None,
    };

    /// <summary>True when <paramref name="role"/> has every permission in <paramref name="required"/>.</summary>
    public static bool Allows(string role, Permission required) => (PermissionsOf(role) & required) == required;

    /// <summary>True when a caller with <paramref name="creator"/> may give a key the role <paramref name="role"/>.</summary>
    public static bool CanGrant(string creator, string role) =>
        creator == Admin || (creator == ProjectAdmin && role is ProjectAdmin or Developer or Viewer or Gateway);
}
