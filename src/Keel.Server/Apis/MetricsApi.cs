using Keel.Core.Identity;
using Keel.Core.Configuration;
using Keel.Core.Recording;
using Keel.Core.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>Prometheus metrics: <c>GET /metrics</c>.</summary>
internal static class MetricsApi
{
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", (KeelMetrics metrics, TraceRecorder recorder, GatewayState state) =>
            TypedResults.Text(PrometheusExporter.Render(metrics, recorder, state.Current), PrometheusExporter.ContentType))
            .Require(Permission.Admin); // every project's traffic: not for one tenant's keys
        return app;
    }
}
