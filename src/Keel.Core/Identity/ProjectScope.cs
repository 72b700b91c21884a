using Keel.Core.Pipeline;

namespace Keel.Core.Identity;

/// <summary>
/// The project a caller works in: the one place that decides it, for the gateway and the control
/// plane alike. Until keys carry projects (access control), every caller is in "default".
/// </summary>
public static class ProjectScope
{
    public const string Default = "default";

    public static string Of(CallerIdentity? identity) => identity?.ProjectId ?? Default;
}
