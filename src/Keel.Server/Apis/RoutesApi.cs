using Keel.Core.Identity;
using Keel.Core.Configuration;
using Keel.Core.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

internal sealed record DeploymentHealth(
    string Id, string Provider, string Model, string Breaker, int InFlight, double? LatencyMs, long Requests, long Failures, int RequestsThisMinute, int? Rpm, int? Tpm);

internal sealed record RouteHealth(string Alias, string Strategy, int Retries, IReadOnlyList<string> Fallbacks, IReadOnlyList<DeploymentHealth> Deployments);

internal sealed record RoutesHealthReport(IReadOnlyList<RouteHealth> Routes);

/// <summary>Live state of every route: breakers, in-flight calls, latencies.</summary>
internal static class RoutesApi
{
    public static IEndpointRouteBuilder MapRoutesApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/routes/health", (GatewayState state) =>
        {
            var routes = state.Current.Models.Values
                .OrderBy(r => r.Alias, StringComparer.Ordinal)
                .Select(r => new RouteHealth(
                    r.Alias,
                    r.Config.Strategy,
                    r.Config.Retries,
                    r.Config.Fallbacks,
                    [.. r.Deployments.Select(d => new DeploymentHealth(
                        d.Id,
                        d.Provider.Name,
                        d.Config.Model,
                        d.State.Breaker.State switch { BreakerState.Open => "open", BreakerState.HalfOpen => "half_open", _ => "closed" },
                        d.State.InFlight,
                        double.IsNaN(d.State.LatencyMs) ? null : Math.Round(d.State.LatencyMs, 3),
                        d.State.Requests,
                        d.State.Failures,
                        d.State.MinuteRequests,
                        d.Config.Rpm,
                        d.Config.Tpm))]))
                .ToList();
            return TypedResults.Json(new RoutesHealthReport(routes), ControlPlaneJsonContext.Default.RoutesHealthReport);
        }).Require(Permission.Read);
        return app;
    }
}
