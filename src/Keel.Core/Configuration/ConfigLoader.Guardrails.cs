using System.Collections.Frozen;
using Keel.Core.Guardrails;
using Keel.Core.Guardrails.Topics;
using YamlDotNet.RepresentationModel;

namespace Keel.Core.Configuration;

public static partial class ConfigLoader
{
    private static readonly string[] GuardrailsKeys = ["default", "policies", "topics"];
    private static readonly string[] PolicyKeys = ["input", "output", "allowed_domains", "json", "max_length", "min_score", "scan_roles", "stream_hold_back", "second_opinion", "moderation"];
    private static readonly string[] SecondOpinionKeys = ["model", "scanners", "mode", "timeout"];
    private static readonly string[] ModerationKeys = ["provider", "model", "timeout"];
    private static readonly string[] TopicKeys = ["keywords", "patterns", "examples", "threshold"];
    private static readonly string[] JsonCheckKeys = ["action", "repairs"];
    private static readonly string[] MaxLengthKeys = ["chars", "action"];

    /// <summary>Scanner families a policy may name, per side.</summary>
    private static readonly string[] InputFamilies = [GuardrailScanners.Pii, GuardrailScanners.Secrets, GuardrailScanners.Injection, GuardrailScanners.Toxicity, TopicScanner.ScannerName];
    private static readonly string[] OutputFamilies = [.. InputFamilies, Guardrails.Output.UrlScanner.ScannerName];

    private static readonly Dictionary<string, GuardrailAction> ActionNames = new(StringComparer.Ordinal)
    {
        ["block"] = GuardrailAction.Block,
        ["redact"] = GuardrailAction.Redact,
        ["redact-reversible"] = GuardrailAction.RedactReversible,
        ["flag"] = GuardrailAction.Flag,
    };

    /// <summary>The policy name that turns guardrails off for one model even when a default is set.</summary>
    public const string NoGuardrails = "none";

    private sealed partial class Reader
    {
        private readonly List<(YamlNode Node, string Field, string Policy)> _policyRefs = [];
        private readonly List<(YamlNode Node, string Field, string Target, bool IsProvider)> _advisorRefs = [];

        private string? ReadGuardrailReference(YamlMappingNode map, string path)
        {
            var name = ReadString(map, path, "guardrails");
            if (name is not null && name != NoGuardrails)
            {
                _policyRefs.Add((Child(map, "guardrails")!, $"{path}.guardrails", name));
            }
            return name;
        }

        private GuardrailsConfig ReadGuardrails(YamlNode node)
        {
            const string path = "guardrails";
            if (!ExpectMapping(node, path, out var map))
            {
                return new GuardrailsConfig();
            }
            CheckKeys(map, path, GuardrailsKeys);

            var topics = new List<TopicDefinition>();
            if (Child(map, "topics") is { } topicsNode && ExpectMapping(topicsNode, $"{path}.topics", out var topicsMap))
            {
                foreach (var (keyNode, valueNode) in topicsMap.Children)
                {
                    if (ReadTopic(((YamlScalarNode)keyNode).Value ?? "", valueNode) is { } topic)
                    {
                        topics.Add(topic);
                    }
                }
            }

            var policies = new Dictionary<string, GuardrailPolicyConfig>(StringComparer.Ordinal);
            if (Child(map, "policies") is { } policiesNode && ExpectMapping(policiesNode, $"{path}.policies", out var policiesMap))
            {
                foreach (var (keyNode, valueNode) in policiesMap.Children)
                {
                    var name = ((YamlScalarNode)keyNode).Value ?? "";
                    if (name == NoGuardrails)
                    {
                        Error(keyNode, $"{path}.policies.{name}", $"'{NoGuardrails}' is reserved: a model with 'guardrails: {NoGuardrails}' runs no guardrails");
                        continue;
                    }
                    if (ReadPolicy(name, valueNode, topics) is { } policy)
                    {
                        policies[name] = policy;
                    }
                }
            }

            var defaultName = ReadString(map, path, "default");
            if (defaultName is not null && defaultName != NoGuardrails)
            {
                _policyRefs.Add((Child(map, "default")!, $"{path}.default", defaultName));
            }
            return new GuardrailsConfig
            {
                Default = defaultName is null or NoGuardrails ? null : defaultName,
                Policies = policies.ToFrozenDictionary(StringComparer.Ordinal),
                Topics = topics,
            };
        }

        private void CheckGuardrailReferences(GuardrailsConfig guardrails, IReadOnlyDictionary<string, ModelConfig> models, IReadOnlyDictionary<string, ProviderConfig> providers)
        {
            foreach (var (node, field, target, isProvider) in _advisorRefs)
            {
                if (isProvider && !providers.TryGetValue(target, out var provider))
                {
                    Error(node, field, $"unknown provider '{target}'");
                }
                else if (isProvider && providers[target].Kind != ProviderKinds.OpenAi)
                {
                    Error(node, field, $"provider '{target}' is of kind '{providers[target].Kind}'; a moderation endpoint needs an openai provider (OpenAI or a compatible server)");
                }
                else if (!isProvider && !models.ContainsKey(target))
                {
                    Error(node, field, $"unknown model alias '{target}'");
                }
            }
            foreach (var (node, field, name) in _policyRefs)
            {
                if (!guardrails.Policies.ContainsKey(name))
                {
                    var known = guardrails.Policies.Count == 0 ? "none are defined under guardrails.policies" : "defined: " + string.Join(", ", guardrails.Policies.Keys.Order(StringComparer.Ordinal));
                    Error(node, field, $"unknown guardrail policy '{name}' ({known}); write '{NoGuardrails}' for no guardrails");
                }
            }
        }

        private TopicDefinition? ReadTopic(string name, YamlNode node)
        {
            var path = $"guardrails.topics.{name}";
            if (!ExpectMapping(node, path, out var map))
            {
                return null;
            }
            CheckKeys(map, path, TopicKeys);
            var patterns = ReadStringList(map, path, "patterns");
            if (Child(map, "patterns") is YamlSequenceNode patternNodes)
            {
                foreach (var item in patternNodes.Children)
                {
                    if (item is YamlScalarNode { Value: { } pattern } && TopicScanner.ValidatePattern(pattern) is { } problem)
                    {
                        Error(item, $"{path}.patterns", $"'{pattern}' is not a usable regular expression: {problem}");
                    }
                }
            }
            var topic = new TopicDefinition
            {
                Name = name,
                Keywords = ReadStringList(map, path, "keywords"),
                Patterns = patterns,
                Examples = ReadStringList(map, path, "examples"),
                Threshold = ReadDouble(map, path, "threshold", 0.01, 1) ?? TopicScanner.DefaultThreshold,
            };
            if (topic.Keywords.Count + topic.Patterns.Count + topic.Examples.Count == 0)
            {
                Error(node, path, "a topic needs at least one of keywords, patterns or examples");
            }
            return topic;
        }

        private GuardrailPolicyConfig? ReadPolicy(string name, YamlNode node, List<TopicDefinition> topics)
        {
            var path = $"guardrails.policies.{name}";
            if (!ExpectMapping(node, path, out var map))
            {
                return null;
            }
            CheckKeys(map, path, PolicyKeys);
            var input = ReadActions(map, path, "input", InputFamilies, topics);
            var output = ReadActions(map, path, "output", OutputFamilies, topics);

            JsonCheckConfig? json = null;
            if (Child(map, "json") is { } jsonNode)
            {
                json = jsonNode is YamlScalarNode
                    ? new JsonCheckConfig { Action = ReadAction(map, path, "json", blockOrFlag: true) ?? GuardrailAction.Block }
                    : ReadJsonCheck(jsonNode, $"{path}.json");
            }

            MaxLengthConfig? maxLength = null;
            if (Child(map, "max_length") is { } lengthNode && ExpectMapping(lengthNode, $"{path}.max_length", out var lengthMap))
            {
                CheckKeys(lengthMap, $"{path}.max_length", MaxLengthKeys);
                if (ReadLong(lengthMap, $"{path}.max_length", "chars", min: 1) is { } chars)
                {
                    maxLength = new MaxLengthConfig
                    {
                        Chars = (int)Math.Min(chars, int.MaxValue),
                        Action = ReadAction(lengthMap, $"{path}.max_length", "action", blockOrFlag: true) ?? GuardrailAction.Block,
                    };
                }
                else if (Child(lengthMap, "chars") is null)
                {
                    Error(lengthNode, $"{path}.max_length.chars", "is required: the most characters an answer may have");
                }
            }

            var roles = ReadStringList(map, path, "scan_roles");
            foreach (var role in roles.Where(static r => r is not ("system" or "developer" or "user" or "assistant" or "tool")))
            {
                Error(Child(map, "scan_roles")!, $"{path}.scan_roles", $"unknown role '{role}'; expected any of: system, developer, user, assistant, tool");
            }

            SecondOpinionConfig? secondOpinion = null;
            if (Child(map, "second_opinion") is { } opinionNode && ExpectMapping(opinionNode, $"{path}.second_opinion", out var opinionMap))
            {
                secondOpinion = ReadSecondOpinion(opinionMap, $"{path}.second_opinion");
            }
            ModerationConfig? moderation = null;
            if (Child(map, "moderation") is { } moderationNode && ExpectMapping(moderationNode, $"{path}.moderation", out var moderationMap))
            {
                CheckKeys(moderationMap, $"{path}.moderation", ModerationKeys);
                if (ReadString(moderationMap, $"{path}.moderation", "provider") is { } provider)
                {
                    _advisorRefs.Add((Child(moderationMap, "provider")!, $"{path}.moderation.provider", provider, true));
                    moderation = new ModerationConfig
                    {
                        Provider = provider,
                        Model = ReadString(moderationMap, $"{path}.moderation", "model") ?? "omni-moderation-latest",
                        Timeout = ReadDuration(moderationMap, $"{path}.moderation", "timeout") ?? TimeSpan.FromSeconds(10),
                    };
                }
                else
                {
                    Error(moderationNode, $"{path}.moderation.provider", "is required: an openai provider");
                }
            }

            return new GuardrailPolicyConfig
            {
                Name = name,
                SecondOpinion = secondOpinion,
                Moderation = moderation,
                Input = input,
                Output = output,
                AllowedDomains = ReadStringList(map, path, "allowed_domains"),
                Json = json,
                MaxLength = maxLength,
                MinScore = ReadDouble(map, path, "min_score", 0, 1) ?? 0,
                ScanRoles = Child(map, "scan_roles") is null ? ["user", "tool"] : roles,
                StreamHoldBack = (int)(ReadLong(map, path, "stream_hold_back", min: 0) ?? 64),
            };
        }

        private SecondOpinionConfig? ReadSecondOpinion(YamlMappingNode map, string path)
        {
            CheckKeys(map, path, SecondOpinionKeys);
            var model = ReadString(map, path, "model");
            if (model is null)
            {
                Error(map, $"{path}.model", "is required: the model alias to ask");
                return null;
            }
            _advisorRefs.Add((Child(map, "model")!, $"{path}.model", model, false));
            var scanners = Child(map, "scanners") is null ? ["injection"] : ReadStringList(map, path, "scanners");
            foreach (var family in scanners.Where(static f => f is not (GuardrailScanners.Injection or GuardrailScanners.Toxicity)))
            {
                Error(Child(map, "scanners")!, $"{path}.scanners", $"'{family}' cannot be judged by a model; expected injection or toxicity");
            }
            var mode = ReadString(map, path, "mode") ?? SecondOpinionModes.Confirm;
            if (mode is not (SecondOpinionModes.Confirm or SecondOpinionModes.Always))
            {
                Error(Child(map, "mode")!, $"{path}.mode", $"unknown mode '{mode}'; expected confirm or always");
            }
            return new SecondOpinionConfig
            {
                Model = model,
                Scanners = scanners,
                Mode = mode,
                Timeout = ReadDuration(map, path, "timeout") ?? TimeSpan.FromSeconds(10),
            };
        }

        private JsonCheckConfig? ReadJsonCheck(YamlNode node, string path)
        {
            if (!ExpectMapping(node, path, out var map))
            {
                return null;
            }
            CheckKeys(map, path, JsonCheckKeys);
            return new JsonCheckConfig
            {
                Action = ReadAction(map, path, "action", blockOrFlag: true) ?? GuardrailAction.Block,
                Repairs = (int)Math.Min(ReadLong(map, path, "repairs", min: 0) ?? 1, 5),
            };
        }

        private FrozenDictionary<string, GuardrailAction> ReadActions(YamlMappingNode policy, string policyPath, string key, string[] families, List<TopicDefinition> topics)
        {
            var path = $"{policyPath}.{key}";
            var actions = new Dictionary<string, GuardrailAction>(StringComparer.Ordinal);
            if (Child(policy, key) is not { } node || !ExpectMapping(node, path, out var map))
            {
                return actions.ToFrozenDictionary(StringComparer.Ordinal);
            }
            foreach (var (keyNode, _) in map.Children)
            {
                var name = ((YamlScalarNode)keyNode).Value ?? "";
                var family = name.Split('.', 2)[0];
                if (!families.Contains(family))
                {
                    Error(keyNode, $"{path}.{name}", $"unknown scanner '{family}'; expected one of: {string.Join(", ", families)} (or a finding name such as pii.email)");
                    continue;
                }
                if (family == TopicScanner.ScannerName && name.Length > family.Length && !topics.Exists(t => "topics." + t.Name == name))
                {
                    Error(keyNode, $"{path}.{name}", $"unknown topic '{name[(family.Length + 1)..]}'; define it under guardrails.topics");
                    continue;
                }
                if (ReadAction(map, path, name, blockOrFlag: false) is { } action)
                {
                    actions[name] = action;
                }
            }
            return actions.ToFrozenDictionary(StringComparer.Ordinal);
        }

        private GuardrailAction? ReadAction(YamlMappingNode map, string path, string key, bool blockOrFlag)
        {
            if (ReadString(map, path, key) is not { } text)
            {
                return null;
            }
            if (ActionNames.TryGetValue(text, out var action) && (!blockOrFlag || action is GuardrailAction.Block or GuardrailAction.Flag))
            {
                return action;
            }
            var allowed = blockOrFlag ? "block, flag" : string.Join(", ", ActionNames.Keys);
            Error(Child(map, key)!, $"{path}.{key}", $"unknown action '{text}'; expected one of: {allowed}");
            return null;
        }

        private List<string> ReadStringList(YamlMappingNode map, string path, string key)
        {
            var result = new List<string>();
            if (Child(map, key) is not { } node)
            {
                return result;
            }
            if (node is not YamlSequenceNode list)
            {
                Error(node, $"{path}.{key}", "must be a list of strings, e.g. [a, b]");
                return result;
            }
            foreach (var item in list.Children)
            {
                if (item is YamlScalarNode scalar && Interpolate(scalar, $"{path}.{key}") is { Length: > 0 } value)
                {
                    result.Add(value);
                }
                else
                {
                    Error(item, $"{path}.{key}", "each item must be a non-empty string");
                }
            }
            return result;
        }
    }
}
