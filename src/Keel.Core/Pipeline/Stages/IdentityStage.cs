using Keel.Core.Identity;

namespace Keel.Core.Pipeline.Stages;

/// <summary>API key to caller identity; 401 otherwise.</summary>
internal sealed class IdentityStage(KeyRegistry registry, TimeProvider time) : IGatewayStage
{
    public string Name => "identity";

    public int Order => StageOrder.Identity;

    public ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var identity = KeyAuthenticator.Authenticate(context.Snapshot, registry, context.GetHeader, context.RemoteAddress, context.KeyInQuery, time.GetUtcNow(), out var error);
        if (identity is null)
        {
            context.Fail(error!);
            return ValueTask.CompletedTask;
        }

        if (!Roles.Allows(identity.Role, Permission.CallModels))
        {
            context.Fail(new GatewayError(403, "permission_error", "permission_denied", $"A key with the role '{identity.Role}' may not call models."));
            return ValueTask.CompletedTask;
        }

        context.Identity = identity;
        context.CurrentSpan?.Set("keel.key_id", identity.KeyId).Set("keel.role", identity.Role);
        return next(context);
    }
}
