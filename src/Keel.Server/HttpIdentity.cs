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

    public static CallerIdentity? Authenticate(HttpContext http, GatewaySnapshot snapshot, out GatewayError? error) =>
        KeyAuthenticator.Authenticate(snapshot, HeaderReader(http.Request), http.Connection.RemoteIpAddress, out error);
}
