using Keel.Core.Pipeline;
using Keel.Core.Pipeline.Stages;
using Keel.Core.Recording;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Keel.Core;

public static class KeelServiceCollectionExtensions
{
    /// <summary>
    /// Registers the gateway pipeline and its built-in stages. Other stages join with
    /// <see cref="AddGatewayStage{TStage}"/> without any change to these.
    /// </summary>
    public static IServiceCollection AddKeelGateway(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Telemetry.KeelMetrics>();
        services.TryAddSingleton<RecordStage>();
        services.TryAddSingleton<CallStage>();
        services.TryAddSingleton<Identity.KeyRegistry>();
        services.TryAddSingleton<Telemetry.Otlp.OtlpExporter>();
        services.TryAddSingleton<Admission.LimitEnforcer>();
        services.AddGatewayStage<IdentityStage>();
        services.AddGatewayStage<IngressStage>();
        services.AddGatewayStage<AdmissionStage>();
        services.AddGatewayStage<ResolveStage>();
        services.AddGatewayStage<InputGuardrailStage>();
        services.AddGatewayStage<OutputGuardrailStage>();
        services.TryAddSingleton(sp => new GatewayPipeline(
            sp.GetServices<IGatewayStage>(),
            sp.GetRequiredService<RecordStage>(),
            sp.GetRequiredService<CallStage>()));
        return services;
    }

    /// <summary>Adds a stage to the pipeline; its <see cref="IGatewayStage.Order"/> places it.</summary>
    public static IServiceCollection AddGatewayStage<TStage>(this IServiceCollection services)
        where TStage : class, IGatewayStage
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayStage, TStage>());
        return services;
    }

    /// <summary>The recorder as a hosted service and as itself.</summary>
    /// <param name="services">The container.</param>
    /// <param name="capacity">Traces the queue holds.</param>
    /// <param name="spoolDirectory">Where traces wait while the store fails; null drops them after retries.</param>
    public static IServiceCollection AddTraceRecorder(this IServiceCollection services, int capacity, string? spoolDirectory = null)
    {
        services.TryAddSingleton(sp => new TraceRecorder(
            sp.GetRequiredService<Storage.IKeelStore>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<TraceRecorder>>(),
            capacity,
            spoolDirectory));
        services.AddHostedService(sp => sp.GetRequiredService<TraceRecorder>());
        return services;
    }
}
