using Keel.Core.Configuration;
using Keel.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>Liveness (the process answers) and readiness (config loaded, store reachable).</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Json(new HealthReport("ok", new Dictionary<string, string>()), ControlPlaneJsonContext.Default.HealthReport)).AllowInline();
        app.MapGet("/readyz", async (GatewayState state, IKeelStore store, CancellationToken cancellationToken) =>
        {
            var storeOk = await store.PingAsync(cancellationToken);
            var checks = new Dictionary<string, string>
            {
                ["config"] = $"ok ({state.Current.Models.Count} models)",
                ["store"] = storeOk ? "ok" : "unreachable",
            };
            return TypedResults.Json(
                new HealthReport(storeOk ? "ready" : "not_ready", checks),
                ControlPlaneJsonContext.Default.HealthReport,
                statusCode: storeOk ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return app;
    }
}
