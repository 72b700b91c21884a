using System.Net;
using System.Security.Cryptography;
using System.Text;
using Keel.Core.Pipeline;
using Keel.Core.Providers;

namespace Keel.Core.Identity;

/// <summary>
/// Establishes who is calling from the request's key. Shared by the gateway and the control plane.
/// Keys are compared as SHA-256 digests with a fixed-time comparison.
/// </summary>
public static class KeyAuthenticator
{
    /// <summary>The longest key header Keel reads; anything longer is refused without hashing it.</summary>
    public const int MaxKeyLength = 512;

    public static CallerIdentity? Authenticate(GatewaySnapshot snapshot, Func<string, string?> getHeader, IPAddress? remote, out GatewayError? error)
    {
        error = null;
        if (snapshot.MasterKeyHash is not { } expected)
        {
            if (remote is null || IPAddress.IsLoopback(remote))
            {
                return new CallerIdentity("local", "admin", null);
            }

            error = GatewayError.Unauthorized(
                "This Keel has no master key configured, so it only serves clients on loopback. Set KEEL_MASTER_KEY (or auth.master_key) to accept remote clients.",
                "no_master_key");
            return null;
        }

        var presented = ReadKey(getHeader);
        if (presented is null)
        {
            error = GatewayError.Unauthorized(
                "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' (or the 'x-api-key' header).",
                "missing_api_key");
            return null;
        }

        if (presented.Length > MaxKeyLength || !Matches(presented, expected))
        {
            error = GatewayError.Unauthorized("Incorrect API key provided.");
            return null;
        }

        return new CallerIdentity("master", "admin", null);
    }

    private static string? ReadKey(Func<string, string?> getHeader)
    {
        var authorization = getHeader("Authorization");
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        var apiKey = getHeader("x-api-key") ?? getHeader("api-key");
        return string.IsNullOrWhiteSpace(apiKey) ? null : apiKey.Trim();
    }

    private static bool Matches(string presented, byte[] expectedHash)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        return CryptographicOperations.FixedTimeEquals(hash, expectedHash);
    }
}
