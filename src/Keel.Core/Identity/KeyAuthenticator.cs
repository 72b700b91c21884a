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

    /// <summary>
    /// The caller, from (in order) a virtual key (<c>sk-keel-…</c>), the master key, or, while neither a master key
    /// nor an active admin key exists, any loopback client (the bootstrap state). Keys in the URL are refused.
    /// </summary>
    public static CallerIdentity? Authenticate(
        GatewaySnapshot snapshot, KeyRegistry? registry, Func<string, string?> getHeader, IPAddress? remote, bool keyInQuery, DateTimeOffset now,
        out GatewayError? error)
    {
        error = null;
        if (keyInQuery)
        {
            error = GatewayError.Unauthorized(
                "API keys in the URL are refused: URLs end up in logs and browser histories. Send the key as 'Authorization: Bearer KEY'.",
                "key_in_query");
            return null;
        }

        var presented = ReadKey(getHeader);
        var open = snapshot.MasterKeyHash is null && registry?.HasActiveAdminKey != true;
        if (presented is null || (open && !presented.StartsWith(KeyFormat.Marker, StringComparison.Ordinal)))
        {
            if (open && (remote is null || IPAddress.IsLoopback(remote)))
            {
                return new CallerIdentity("local", Roles.Admin, null);
            }

            error = presented is null && !open
                ? GatewayError.Unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer KEY' (or the 'x-api-key' header).", "missing_api_key")
                : GatewayError.Unauthorized(
                    "This Keel has no master key or admin key yet, so it only serves clients on loopback. Create a key with 'keel keys create' on this machine, or set KEEL_MASTER_KEY.",
                    "no_master_key");
            return null;
        }

        if (presented.Length > MaxKeyLength)
        {
            error = GatewayError.Unauthorized("Incorrect API key provided.");
            return null;
        }

        if (registry is not null && KeyFormat.PrefixOf(presented) is { } prefix && registry.FindByPrefix(prefix) is { } key)
        {
            if (!Matches(presented, key.Hash))
            {
                error = GatewayError.Unauthorized("Incorrect API key provided.");
                return null;
            }
            if (key.RevokedAt is not null)
            {
                error = GatewayError.Unauthorized($"The API key {key.Prefix}… has been revoked.", "revoked_api_key");
                return null;
            }
            if (key.ExpiresAt is { } expires && expires <= now)
            {
                error = GatewayError.Unauthorized($"The API key {key.Prefix}… expired at {expires:u}.", "expired_api_key");
                return null;
            }
            return new CallerIdentity(key.KeyId, key.Role, key.ProjectId);
        }

        if (snapshot.MasterKeyHash is { } expected && Matches(presented, expected))
        {
            return new CallerIdentity("master", Roles.Admin, null);
        }

        error = GatewayError.Unauthorized("Incorrect API key provided.");
        return null;
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
