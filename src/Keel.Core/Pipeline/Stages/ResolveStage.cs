using Keel.Core.Configuration;
using Keel.Core.Providers;
using Keel.Core.Routing;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// Model name to route. A configured alias wins; otherwise "PROVIDER/MODEL" addresses any model of
/// a configured provider directly (as LiteLLM users expect); otherwise 404 model_not_found.
/// </summary>
internal sealed class ResolveStage : IGatewayStage
{
    public string Name => "resolve";

    public int Order => StageOrder.Resolve;

    public ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var model = context.RequestedModel!;
        var snapshot = context.Snapshot;
        if (!snapshot.Models.TryGetValue(model, out var route) && !TryDirect(snapshot, model, out route))
        {
            var known = snapshot.Models.Keys.Order(StringComparer.Ordinal).Take(20);
            context.Fail(GatewayError.ModelNotFound(model,
                $"The model '{model}' does not exist or is not configured in Keel. Configured models: {string.Join(", ", known)}."));
            return ValueTask.CompletedTask;
        }

        context.Route = route;
        context.CurrentSpan?.Set("keel.alias", route.Alias).Set("keel.strategy", route.Config.Strategy).Set("keel.deployments", route.Deployments.Count);
        return next(context);
    }

    private static bool TryDirect(GatewaySnapshot snapshot, string model, out ModelRoute route)
    {
        route = null!;
        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == model.Length - 1)
        {
            return false;
        }

        var providerName = model[..slash];
        if (providerName == ConfigLoader.LocalProviderName || !snapshot.Config.Providers.TryGetValue(providerName, out var config))
        {
            return false;
        }

        route = snapshot.BuildRoute(new ModelConfig
        {
            Alias = model,
            Deployments = [new DeploymentConfig { Provider = providerName, Model = model[(slash + 1)..] }],
            Retries = 0,
            Timeouts = new TimeoutsConfig { Total = config.Timeout },
        });
        return true;
    }
}
