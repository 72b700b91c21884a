using Microsoft.Extensions.DependencyInjection;
using Keel.Core.Identity;
using Keel.Core.Pipeline;
using Keel.Core.Providers;
using Microsoft.AspNetCore.Http;

namespace Keel.Server;

/// <summary>The one way the HTTP layer reads request headers and establishes the caller.</summary>
internal static class HttpIdentity
{
    public static Func<string, string?> HeaderReader(HttpRequest request)
    {
        var headers = request.Headers;
        return name => headers.TryGetValue(name, out var value) ? value.ToString() : null;
    }

    private static readonly string[] KeyParameters = ["api_key", "api-key", "apikey", "key", "access_token", "token"];

    public static CallerIdentity? Authenticate(HttpContext http, GatewaySnapshot snapshot, out GatewayError? error) =>
        KeyAuthenticator.Authenticate(snapshot, http.RequestServices.GetRequiredService<KeyRegistry>(), HeaderReader(http.Request),
            http.Connection.RemoteIpAddress, HasKeyInQuery(http.Request), http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow(), out error);

    /// <summary>True when the query string carries a parameter that is commonly used for API keys.</summary>
    public static bool HasKeyInQuery(HttpRequest request)
    {
        if (!request.QueryString.HasValue)
        {
            return false;
        }
        foreach (var name in KeyParameters)
        {
            if (request.Query.ContainsKey(name))
            {
                return true;
            }
        }
        return false;
    }
}
