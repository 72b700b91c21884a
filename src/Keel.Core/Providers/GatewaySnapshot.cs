using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Keel.Core.Configuration;

namespace Keel.Core.Providers;

/// <summary>
/// A config compiled for serving: aliases resolved to provider instances, the master key hashed.
/// Immutable and swapped whole on reload, so a request sees one consistent view from start to end.
/// </summary>
public sealed class GatewaySnapshot
{
    public GatewaySnapshot(KeelConfig config, Func<ProviderConfig, IModelProvider> createProvider)
    {
        Config = config;
        var providers = config.Providers.ToFrozenDictionary(p => p.Key, p => createProvider(p.Value), StringComparer.Ordinal);
        Providers = providers;
        Models = config.Models.ToFrozenDictionary(
            m => m.Key,
            m =>
            {
                var providerConfig = config.Providers[m.Value.Provider];
                return new ResolvedModel(m.Key, providerConfig.Name, providerConfig.Kind, m.Value.UpstreamModel, providers[providerConfig.Name], providerConfig.Timeout);
            },
            StringComparer.Ordinal);
        MasterKeyHash = config.Auth.MasterKey is { } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;
        Secrets = [.. config.Providers.Values.Select(p => p.ApiKey).Append(config.Auth.MasterKey).OfType<string>().Where(s => s.Length >= 4)];
    }

    public KeelConfig Config { get; }
    public FrozenDictionary<string, IModelProvider> Providers { get; }
    public FrozenDictionary<string, ResolvedModel> Models { get; }

    /// <summary>SHA-256 of the master key, or null when none is configured.</summary>
    public byte[]? MasterKeyHash { get; }

    /// <summary>Every secret value of the config, to scrub from anything Keel writes out.</summary>
    public IReadOnlyList<string> Secrets { get; }

    /// <summary>Replaces every configured secret in <paramref name="text"/> with [REDACTED].</summary>
    public string Redact(string text)
    {
        foreach (var secret in Secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, "[REDACTED]", StringComparison.Ordinal);
            }
        }

        return text;
    }
}
