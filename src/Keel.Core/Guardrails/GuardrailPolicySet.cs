using System.Collections.Frozen;
using Keel.Core.Configuration;
using Keel.Core.Guardrails.Output;
using Keel.Core.Guardrails.Topics;

namespace Keel.Core.Guardrails;

/// <summary>A guardrail policy compiled for serving: the engines for each side and the output checks.</summary>
public sealed class CompiledGuardrailPolicy
{
    internal CompiledGuardrailPolicy(GuardrailPolicyConfig config, IReadOnlyList<TopicDefinition> topics)
    {
        Config = config;
        Input = BuildEngine(config.Input, config.MinScore, topics);
        Output = BuildEngine(config.Output, config.MinScore, topics, config.AllowedDomains);
        ScanRoles = config.ScanRoles.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>The policy as configured.</summary>
    public GuardrailPolicyConfig Config { get; }

    /// <summary>The policy's name.</summary>
    public string Name => Config.Name;

    /// <summary>Scanners for the request's messages, or null when the policy scans no input.</summary>
    public GuardrailEngine? Input { get; }

    /// <summary>Scanners for the model's answer, or null when the policy scans no output text.</summary>
    public GuardrailEngine? Output { get; }

    /// <summary>Roles whose messages the input scanners read.</summary>
    public FrozenSet<string> ScanRoles { get; }

    /// <summary>True when anything looks at the answer (scanners, JSON check, length limit).</summary>
    public bool ChecksOutput => Output is not null || Config.Json is not null || Config.MaxLength is not null;

    /// <summary>Builds the engine for one side: the scanners are the families its actions name, in the built-in order.</summary>
    internal static GuardrailEngine? BuildEngine(
        IReadOnlyDictionary<string, GuardrailAction> actions, double minScore, IReadOnlyList<TopicDefinition> topics, IReadOnlyList<string>? allowedDomains = null)
    {
        if (actions.Count == 0)
        {
            return null;
        }
        var families = actions.Keys.Select(static k => k.Split('.', 2)[0]).ToHashSet(StringComparer.Ordinal);
        var scanners = new List<IScanner>();
        foreach (var name in GuardrailScanners.Names)
        {
            if (families.Contains(name))
            {
                scanners.Add(GuardrailScanners.Get(name)!);
            }
        }
        if (families.Contains(TopicScanner.ScannerName))
        {
            // Only the topics the policy names (or all, when it names the family).
            var named = actions.Keys.Where(static k => k.StartsWith("topics.", StringComparison.Ordinal)).Select(static k => k["topics.".Length..]).ToHashSet(StringComparer.Ordinal);
            var selected = actions.ContainsKey(TopicScanner.ScannerName) ? topics : [.. topics.Where(t => named.Contains(t.Name))];
            scanners.Add(new TopicScanner(selected));
        }
        if (families.Contains(UrlScanner.ScannerName))
        {
            scanners.Add(new UrlScanner(allowedDomains ?? []));
        }
        return new GuardrailEngine(scanners, new GuardrailPolicy
        {
            Actions = actions,
            DefaultAction = GuardrailAction.Flag,
            MinScore = minScore,
        });
    }
}

/// <summary>Every policy of a config, compiled once per config load, and which one applies to a model.</summary>
public sealed class GuardrailPolicySet
{
    /// <summary>Compiles the policies of <paramref name="config"/>.</summary>
    public GuardrailPolicySet(GuardrailsConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Policies = config.Policies.ToFrozenDictionary(p => p.Key, p => new CompiledGuardrailPolicy(p.Value, config.Topics), StringComparer.Ordinal);
        Default = config.Default is { } name ? Policies.GetValueOrDefault(name) : null;
    }

    /// <summary>Policies by name.</summary>
    public FrozenDictionary<string, CompiledGuardrailPolicy> Policies { get; }

    /// <summary>The policy for models that name none, or null.</summary>
    public CompiledGuardrailPolicy? Default { get; }

    /// <summary>
    /// The scanners and actions used by the scan API and <c>keel guard scan</c> when no policy is configured or named:
    /// the four built-in scanners with <see cref="GuardrailPolicy.Default"/>.
    /// </summary>
    public static CompiledGuardrailPolicy BuiltIn { get; } = new(new GuardrailPolicyConfig
    {
        Name = "builtin",
        Input = GuardrailPolicy.Default.Actions.ToFrozenDictionary(StringComparer.Ordinal),
        Output = GuardrailPolicy.Default.Actions.ToFrozenDictionary(StringComparer.Ordinal),
    }, []);

    /// <summary>The policy for <paramref name="model"/>: its own, else the default; null when none applies.</summary>
    public CompiledGuardrailPolicy? For(ModelConfig model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Guardrails switch
        {
            null => Default,
            ConfigLoader.NoGuardrails => null,
            var name => Policies.GetValueOrDefault(name),
        };
    }
}
