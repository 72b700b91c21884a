using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.Server.Apis;

/// <summary>Endpoint filter: the control plane needs the same key as the gateway.</summary>
internal sealed class ControlPlaneAuth : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var snapshot = http.RequestServices.GetRequiredService<GatewayState>().Current;
        var identity = HttpIdentity.Authenticate(http, snapshot, out var error);
        if (identity is null)
        {
            await ErrorWriter.WriteAsync(http, error!, snapshot);
            return Results.Empty;
        }

        http.Features.Set(identity);
        return await next(context);
    }
}

internal static class ErrorResults
{
    public static IResult NotFound(string message) => new GatewayErrorResult(new GatewayError(404, "invalid_request_error", "not_found", message));

    public static IResult BadRequest(string message, string? param) => new GatewayErrorResult(GatewayError.InvalidRequest(message, param));
}

/// <summary>An <see cref="IResult"/> that writes an OpenAI-style error.</summary>
internal sealed class GatewayErrorResult(GatewayError error) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) =>
        ErrorWriter.WriteAsync(httpContext, error, httpContext.RequestServices.GetRequiredService<GatewayState>().Current);
}
