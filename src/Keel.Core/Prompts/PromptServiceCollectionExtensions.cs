using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Prompts;

public static class PromptServiceCollectionExtensions
{
    /// <summary>
    /// The prompt registry (served from memory, loaded before the server starts, refreshed from the
    /// store) and its gateway stage. Needs an <see cref="Storage.IKeelStore"/>.
    /// </summary>
    public static IServiceCollection AddPromptRegistry(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new PromptRegistry(
            sp.GetRequiredService<Storage.IKeelStore>().Prompts,
            sp.GetRequiredService<ILogger<PromptRegistry>>()));
        services.AddHostedService<PromptRegistryRefresher>();
        services.AddGatewayStage<PromptStage>();
        return services;
    }
}
