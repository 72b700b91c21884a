using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Keel.Core.Configuration;
using Keel.Core.Routing;

namespace Keel.Core.Providers;

/// <summary>
/// A config compiled for serving: aliases resolved to provider instances, the master key hashed.
/// Immutable and swapped whole on reload, so a request sees one consistent view from start to end.
/// </summary>
public sealed class GatewaySnapshot
{
    public GatewaySnapshot(KeelConfig config, Func<ProviderConfig, IModelProvider> createProvider, RouteStateRegistry? registry = null, BalancingPolicies? policies = null)
    {
        Config = config;
        Registry = registry ?? new RouteStateRegistry(TimeProvider.System);
        Policies = policies ?? new BalancingPolicies();
        Providers = config.Providers.ToFrozenDictionary(p => p.Key, p => createProvider(p.Value), StringComparer.Ordinal);
        Models = config.Models.ToFrozenDictionary(m => m.Key, m => BuildRoute(m.Value), StringComparer.Ordinal);
        MasterKeyHash = config.Auth.MasterKey is { } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;
        Guardrails = new Guardrails.GuardrailPolicySet(config.Guardrails);
        Secrets = [.. config.Providers.Values.Select(p => p.ApiKey).Append(config.Auth.MasterKey).Concat(config.Telemetry.OtlpHeaders.Values).OfType<string>().Where(s => s.Length >= 4)];
    }

    public KeelConfig Config { get; }
    public RouteStateRegistry Registry { get; }
    public BalancingPolicies Policies { get; }
    public FrozenDictionary<string, IModelProvider> Providers { get; }

    /// <summary>Every alias (and built-in model) ready to serve.</summary>
    public FrozenDictionary<string, ModelRoute> Models { get; }

    /// <summary>The guardrail policies of this config, compiled.</summary>
    public Guardrails.GuardrailPolicySet Guardrails { get; }

    /// <summary>Builds a route for a model config; also used for direct "provider/model" names.</summary>
    public ModelRoute BuildRoute(ModelConfig model)
    {
        var deployments = model.Deployments.Select(d =>
            {
                var provider = Config.Providers[d.Provider];
                var server = provider.BaseUrl is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri : null;
                return new Deployment(d, provider, Providers[d.Provider], Registry.GetDeployment(model.Alias, d, model.Breaker))
                {
                    Price = Metering.PriceCatalog.Default.Resolve(provider, d),
                    GenAiProvider = Telemetry.GenAiConventions.ProviderNameOf(provider),
                    ServerAddress = server?.Host,
                    ServerPort = server?.Port,
                };
            })
            .ToList();
        return new ModelRoute(model, deployments, Policies.Get(model.Strategy), Registry.GetRoute(model.Alias), Registry.Time);
    }

    /// <summary>SHA-256 of the master key, or null when none is configured.</summary>
    public byte[]? MasterKeyHash { get; }

    /// <summary><see cref="Redact"/> as a delegate, made once; null when the config has no secret to scrub.</summary>
    public Func<string, string>? Redactor => _redactor ??= Secrets.Count > 0 ? Redact : null;

    private Func<string, string>? _redactor;

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
