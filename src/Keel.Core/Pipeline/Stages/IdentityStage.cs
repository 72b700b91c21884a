using Keel.Core.Identity;

namespace Keel.Core.Pipeline.Stages;

/// <summary>API key to caller identity; 401 otherwise.</summary>
internal sealed class IdentityStage : IGatewayStage
{
    public string Name => "identity";

    public int Order => StageOrder.Identity;

    public ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var identity = KeyAuthenticator.Authenticate(context.Snapshot, context.GetHeader, context.RemoteAddress, out var error);
        if (identity is null)
        {
            context.Fail(error!);
            return ValueTask.CompletedTask;
        }

        context.Identity = identity;
        context.CurrentSpan?.Set("keel.key_id", identity.KeyId).Set("keel.role", identity.Role);
        return next(context);
    }
}
