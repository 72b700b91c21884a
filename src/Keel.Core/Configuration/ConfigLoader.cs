using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Keel.Core.Configuration;

/// <summary>
/// Reads keel.yaml into <see cref="KeelConfig"/>. Walks the YAML node tree by hand so every error
/// carries the line, column and dotted field path, and reports every error found, not just the first.
/// </summary>
public static partial class ConfigLoader
{
    public const string LocalProviderName = "local";

    /// <summary>Models of the built-in offline provider, always present.</summary>
    public static readonly IReadOnlyList<string> BuiltInModels = ["local/echo", "local/extractive", "local/hash-embed"];

    private static readonly string[] RootKeys = ["server", "auth", "recording", "providers", "models", "guardrails", "telemetry"];
    private static readonly string[] ServerKeys = ["max_request_body_bytes", "inline_io"];
    private static readonly string[] AuthKeys = ["master_key"];
    private static readonly string[] RecordingKeys = ["store_bodies", "queue_capacity", "retention_days"];
    private static readonly string[] ProviderKeys = ["kind", "base_url", "api_key", "api_version", "headers", "timeout", "stream_usage"];
    private static readonly string[] ModelKeys = ["provider", "model", "strategy", "deployments", "fallbacks", "fallback_on", "retries", "retry_budget", "timeouts", "breaker", "price", "guardrails"];
    private static readonly string[] DeploymentKeys = ["provider", "model", "weight", "rpm", "tpm", "price", "cost"];
    private static readonly string[] PriceKeys = ["input", "output", "cached_input"];
    private static readonly string[] CostKeys = ["input", "output"];
    private static readonly string[] TimeoutKeys = ["connect", "first_token", "total"];
    private static readonly string[] BreakerKeys = ["failure_ratio", "min_requests", "window", "cooldown"];
    private static readonly Dictionary<string, ErrorClasses> ErrorClassNames = new(StringComparer.Ordinal)
    {
        ["rate_limit"] = ErrorClasses.RateLimit,
        ["server_error"] = ErrorClasses.ServerError,
        ["timeout"] = ErrorClasses.Timeout,
        ["connection"] = ErrorClasses.Connection,
        ["context_length"] = ErrorClasses.ContextLength,
        ["content_policy"] = ErrorClasses.ContentPolicy,
    };

    /// <summary>Loads and validates a config file.</summary>
    public static ConfigLoadResult LoadFile(string path, Func<string, string?>? getEnv = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, [new ConfigError(path, 0, 0, "", $"cannot read the config file: {ex.Message}")]);
        }

        return Parse(text, path, getEnv);
    }

    /// <summary>Parses and validates config text; <paramref name="fileName"/> names it in errors.</summary>
    public static ConfigLoadResult Parse(string yaml, string fileName, Func<string, string?>? getEnv = null)
    {
        var reader = new Reader(fileName, getEnv ?? Environment.GetEnvironmentVariable);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException?.Message ?? ex.Message;
            return new(null, [new ConfigError(fileName, (int)ex.Start.Line, (int)ex.Start.Column, "", $"invalid YAML: {StripMark(message)}")]);
        }

        var config = new KeelConfig { Source = fileName };
        if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is not YamlScalarNode { Value: null or "" })
        {
            config = reader.ReadRoot(stream.Documents[0].RootNode, config);
        }

        if (config.Auth.MasterKey is null && reader.Env("KEEL_MASTER_KEY") is { Length: > 0 } envKey)
        {
            config = config with { Auth = config.Auth with { MasterKey = envKey } };
        }

        return reader.Errors.Count > 0 ? new(null, reader.Errors) : new(WithBuiltIns(config), []);
    }

    /// <summary>Adds the built-in local provider and its models.</summary>
    internal static KeelConfig WithBuiltIns(KeelConfig config)
    {
        var providers = config.Providers.ToDictionary(StringComparer.Ordinal);
        providers[LocalProviderName] = new ProviderConfig { Name = LocalProviderName, Kind = ProviderKinds.Local };
        var models = config.Models.ToDictionary(StringComparer.Ordinal);
        foreach (var model in BuiltInModels)
        {
            models.TryAdd(model, new ModelConfig
            {
                Alias = model,
                Deployments = [new DeploymentConfig { Provider = LocalProviderName, Model = model["local/".Length..] }],
                Retries = 0,
            });
        }

        return config with
        {
            Providers = providers.ToFrozenDictionary(StringComparer.Ordinal),
            Models = models.ToFrozenDictionary(StringComparer.Ordinal),
        };
    }

    /// <summary>Parses "500ms", "30s", "2m", "1h" or a bare number of seconds.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        var match = DurationPattern().Match(text.Trim());
        value = default;
        if (!match.Success || !double.TryParse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return false;
        }

        value = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromSeconds(n),
        };
        return true;
    }

    private static string StripMark(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line...): "; the location is already in the error.
        var index = message.LastIndexOf("): ", StringComparison.Ordinal);
        return index >= 0 ? message[(index + 3)..] : message;
    }

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}")]
    private static partial Regex EnvPattern();

    private sealed partial class Reader(string file, Func<string, string?> env)
    {
        public List<ConfigError> Errors { get; } = [];

        public string? Env(string name) => env(name);

        public KeelConfig ReadRoot(YamlNode root, KeelConfig config)
        {
            if (!ExpectMapping(root, "", out var map))
            {
                return config;
            }

            CheckKeys(map, "", RootKeys);
            if (Child(map, "server") is { } server && ExpectMapping(server, "server", out var serverMap))
            {
                CheckKeys(serverMap, "server", ServerKeys);
                var limit = ReadLong(serverMap, "server", "max_request_body_bytes", min: 1024);
                var inline = ReadBool(serverMap, "server", "inline_io");
                config = config with
                {
                    Server = new ServerConfig
                    {
                        MaxRequestBodyBytes = limit ?? config.Server.MaxRequestBodyBytes,
                        InlineIo = inline ?? config.Server.InlineIo,
                    },
                };
            }

            if (Child(map, "auth") is { } auth && ExpectMapping(auth, "auth", out var authMap))
            {
                CheckKeys(authMap, "auth", AuthKeys);
                var key = ReadString(authMap, "auth", "master_key");
                config = config with { Auth = new AuthConfig { MasterKey = string.IsNullOrEmpty(key) ? null : key } };
            }

            if (Child(map, "recording") is { } recording && ExpectMapping(recording, "recording", out var recMap))
            {
                CheckKeys(recMap, "recording", RecordingKeys);
                config = config with
                {
                    Recording = new RecordingConfig
                    {
                        StoreBodies = ReadBool(recMap, "recording", "store_bodies") ?? true,
                        QueueCapacity = (int)(ReadLong(recMap, "recording", "queue_capacity", min: 16) ?? 10_000),
                        RetentionDays = ReadLong(recMap, "recording", "retention_days", min: 1) is { } days ? (int)Math.Min(days, 100_000) : null,
                    },
                };
            }

            var providers = new Dictionary<string, ProviderConfig>(StringComparer.Ordinal);
            if (Child(map, "providers") is { } providersNode && ExpectMapping(providersNode, "providers", out var providersMap))
            {
                foreach (var (keyNode, valueNode) in providersMap.Children)
                {
                    var name = ((YamlScalarNode)keyNode).Value ?? "";
                    if (ReadProvider(name, keyNode, valueNode) is { } provider)
                    {
                        providers[name] = provider;
                    }
                }
            }

            var models = new Dictionary<string, ModelConfig>(StringComparer.Ordinal);
            if (Child(map, "models") is { } modelsNode && ExpectMapping(modelsNode, "models", out var modelsMap))
            {
                foreach (var (keyNode, valueNode) in modelsMap.Children)
                {
                    var alias = ((YamlScalarNode)keyNode).Value ?? "";
                    if (ReadModel(alias, valueNode, providers) is { } model)
                    {
                        models[alias] = model;
                    }
                }
            }

            CheckFallbacks(models);
            if (Child(map, "telemetry") is { } telemetryNode)
            {
                config = config with { Telemetry = ReadTelemetry(telemetryNode) };
            }

            var guardrails = Child(map, "guardrails") is { } guardrailsNode ? ReadGuardrails(guardrailsNode) : new GuardrailsConfig();
            CheckGuardrailReferences(guardrails, models, providers);
            return config with
            {
                Guardrails = guardrails,
                Providers = providers.ToFrozenDictionary(StringComparer.Ordinal),
                Models = models.ToFrozenDictionary(StringComparer.Ordinal),
            };
        }

        private ProviderConfig? ReadProvider(string name, YamlNode keyNode, YamlNode node)
        {
            var path = $"providers.{name}";
            if (name == LocalProviderName)
            {
                Error(keyNode, path, "the name 'local' is reserved for the built-in offline provider; choose another name");
                return null;
            }

            if (!ExpectMapping(node, path, out var map))
            {
                return null;
            }

            CheckKeys(map, path, ProviderKeys);
            var kind = ReadString(map, path, "kind");
            if (kind is null)
            {
                Error(node, $"{path}.kind", $"is required; one of: {string.Join(", ", ProviderKinds.All.Where(k => k != ProviderKinds.Local))}");
                return null;
            }

            if (!ProviderKinds.All.Contains(kind) || kind == ProviderKinds.Local)
            {
                Error(Child(map, "kind")!, $"{path}.kind", $"unknown provider kind '{kind}'; expected one of: {string.Join(", ", ProviderKinds.All.Where(k => k != ProviderKinds.Local))}");
                return null;
            }

            var baseUrl = ReadString(map, path, "base_url");
            var apiVersion = ReadString(map, path, "api_version");
            baseUrl ??= kind switch
            {
                ProviderKinds.OpenAi => "https://api.openai.com/v1",
                ProviderKinds.Anthropic => "https://api.anthropic.com/v1",
                _ => null,
            };
            if (baseUrl is null)
            {
                Error(node, $"{path}.base_url", "is required for kind 'azure' (e.g. https://NAME.openai.azure.com/openai)");
            }
            else if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                Error(Child(map, "base_url") ?? node, $"{path}.base_url", $"'{baseUrl}' is not an absolute http(s) URL");
            }

            if (kind == ProviderKinds.Azure && string.IsNullOrEmpty(apiVersion))
            {
                Error(node, $"{path}.api_version", "is required for kind 'azure' (e.g. 2024-10-21)");
            }

            var headers = FrozenDictionary<string, string>.Empty;
            if (Child(map, "headers") is { } headersNode && ExpectMapping(headersNode, $"{path}.headers", out var headersMap))
            {
                var dict = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var (hk, hv) in headersMap.Children)
                {
                    var headerName = ((YamlScalarNode)hk).Value ?? "";
                    if (hv is YamlScalarNode scalar)
                    {
                        dict[headerName] = Interpolate(scalar, $"{path}.headers.{headerName}") ?? "";
                    }
                    else
                    {
                        Error(hv, $"{path}.headers.{headerName}", "must be a string");
                    }
                }

                headers = dict.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
            }

            var timeout = TimeSpan.FromMinutes(10);
            if (Child(map, "timeout") is YamlScalarNode timeoutNode)
            {
                if (!TryParseDuration(timeoutNode.Value ?? "", out timeout))
                {
                    Error(timeoutNode, $"{path}.timeout", $"'{timeoutNode.Value}' is not a duration; write e.g. 30s, 500ms, 2m");
                }
            }

            return new ProviderConfig
            {
                Name = name,
                Kind = kind,
                BaseUrl = baseUrl?.TrimEnd('/'),
                ApiKey = ReadString(map, path, "api_key") is { Length: > 0 } key ? key : null,
                ApiVersion = apiVersion,
                Headers = headers,
                Timeout = timeout,
                StreamUsage = ReadBool(map, path, "stream_usage") ?? true,
            };
        }

        private ModelConfig? ReadModel(string alias, YamlNode node, Dictionary<string, ProviderConfig> providers)
        {
            var path = $"models.{alias}";
            if (!ExpectMapping(node, path, out var map))
            {
                return null;
            }

            CheckKeys(map, path, ModelKeys);
            var deployments = new List<DeploymentConfig>();
            if (Child(map, "deployments") is { } deploymentsNode)
            {
                if (Child(map, "provider") is { } both)
                {
                    Error(both, $"{path}.provider", "give either 'provider' (one deployment) or 'deployments' (a list), not both");
                }

                if (Child(map, "price") is { } modelPrice)
                {
                    Error(modelPrice, $"{path}.price", "with 'deployments', give each deployment its own price: deployments: [{ provider, model, price: { input, output } }]");
                }

                if (deploymentsNode is not YamlSequenceNode list || list.Children.Count == 0)
                {
                    Error(deploymentsNode, $"{path}.deployments", "must be a non-empty list of { provider, model, weight?, rpm?, tpm?, price? }");
                    return null;
                }

                for (var i = 0; i < list.Children.Count; i++)
                {
                    if (ReadDeployment(list.Children[i], $"{path}.deployments[{i}]", alias, providers, allowExtras: true) is { } deployment)
                    {
                        deployments.Add(deployment);
                    }
                }
            }
            else if (ReadDeployment(map, path, alias, providers, allowExtras: false) is { } single)
            {
                deployments.Add(single);
            }

            if (deployments.Count == 0)
            {
                return null;
            }

            var strategy = ReadString(map, path, "strategy") ?? BalancingStrategies.Weighted;
            if (!BalancingStrategies.All.Contains(strategy))
            {
                Error(Child(map, "strategy")!, $"{path}.strategy", $"unknown strategy '{strategy}'; expected one of: {string.Join(", ", BalancingStrategies.All)}");
            }

            var fallbacks = new List<string>();
            if (Child(map, "fallbacks") is { } fallbacksNode)
            {
                if (fallbacksNode is YamlSequenceNode fallbackList)
                {
                    foreach (var item in fallbackList.Children)
                    {
                        if (item is YamlScalarNode { Value: { Length: > 0 } name })
                        {
                            fallbacks.Add(name);
                            _fallbackRefs.Add((item, $"{path}.fallbacks", alias, name));
                        }
                        else
                        {
                            Error(item, $"{path}.fallbacks", "each fallback is the name of another model alias");
                        }
                    }
                }
                else
                {
                    Error(fallbacksNode, $"{path}.fallbacks", "must be a list of model aliases, e.g. [chat-backup]");
                }
            }

            var fallbackOn = ErrorClasses.DefaultFallback;
            if (Child(map, "fallback_on") is { } onNode)
            {
                fallbackOn = ErrorClasses.None;
                if (onNode is YamlSequenceNode onList)
                {
                    foreach (var item in onList.Children)
                    {
                        var name = (item as YamlScalarNode)?.Value ?? "";
                        if (ErrorClassNames.TryGetValue(name, out var flag))
                        {
                            fallbackOn |= flag;
                        }
                        else
                        {
                            Error(item, $"{path}.fallback_on", $"unknown error class '{name}'; expected any of: {string.Join(", ", ErrorClassNames.Keys)}");
                        }
                    }
                }
                else
                {
                    Error(onNode, $"{path}.fallback_on", "must be a list, e.g. [rate_limit, server_error, timeout]");
                }
            }

            var retries = ReadLong(map, path, "retries", min: 0) is { } r ? (int)Math.Min(r, 10) : Math.Min(2, deployments.Count - 1);
            var budget = ReadDouble(map, path, "retry_budget", 0, 1) ?? 0.2;
            var firstProvider = deployments[0].Provider == LocalProviderName ? null : providers.GetValueOrDefault(deployments[0].Provider);
            var timeouts = new TimeoutsConfig { Total = firstProvider?.Timeout ?? TimeSpan.FromMinutes(10) };
            if (Child(map, "timeouts") is { } timeoutsNode && ExpectMapping(timeoutsNode, $"{path}.timeouts", out var timeoutsMap))
            {
                CheckKeys(timeoutsMap, $"{path}.timeouts", TimeoutKeys);
                timeouts = new TimeoutsConfig
                {
                    Connect = ReadDuration(timeoutsMap, $"{path}.timeouts", "connect") ?? timeouts.Connect,
                    FirstToken = ReadDuration(timeoutsMap, $"{path}.timeouts", "first_token") ?? timeouts.FirstToken,
                    Total = ReadDuration(timeoutsMap, $"{path}.timeouts", "total") ?? timeouts.Total,
                };
            }

            var breaker = new BreakerConfig();
            if (Child(map, "breaker") is { } breakerNode && ExpectMapping(breakerNode, $"{path}.breaker", out var breakerMap))
            {
                CheckKeys(breakerMap, $"{path}.breaker", BreakerKeys);
                breaker = new BreakerConfig
                {
                    FailureRatio = ReadDouble(breakerMap, $"{path}.breaker", "failure_ratio", 0.01, 1) ?? breaker.FailureRatio,
                    MinRequests = (int)(ReadLong(breakerMap, $"{path}.breaker", "min_requests", min: 1) ?? breaker.MinRequests),
                    Window = ReadDuration(breakerMap, $"{path}.breaker", "window") ?? breaker.Window,
                    Cooldown = ReadDuration(breakerMap, $"{path}.breaker", "cooldown") ?? breaker.Cooldown,
                };
            }

            return new ModelConfig
            {
                Alias = alias,
                Deployments = deployments,
                Strategy = strategy,
                Fallbacks = fallbacks,
                FallbackOn = fallbackOn,
                Retries = retries,
                RetryBudget = budget,
                Timeouts = timeouts,
                Breaker = breaker,
                Guardrails = ReadGuardrailReference(map, path),
            };
        }

        private readonly List<(YamlNode Node, string Field, string Alias, string Target)> _fallbackRefs = [];

        /// <summary>Fallbacks may name aliases defined later in the file, so they are checked at the end.</summary>
        public void CheckFallbacks(IReadOnlyDictionary<string, ModelConfig> models)
        {
            foreach (var (node, field, alias, target) in _fallbackRefs)
            {
                if (target == alias)
                {
                    Error(node, field, $"'{alias}' cannot fall back to itself");
                }
                else if (!models.ContainsKey(target) && !BuiltInModels.Contains(target))
                {
                    Error(node, field, $"unknown model alias '{target}'; fallbacks name other entries under 'models'");
                }
            }
        }

        private DeploymentConfig? ReadDeployment(YamlNode node, string path, string alias, Dictionary<string, ProviderConfig> providers, bool allowExtras)
        {
            if (!ExpectMapping(node, path, out var map))
            {
                return null;
            }

            if (allowExtras)
            {
                CheckKeys(map, path, DeploymentKeys);
            }

            var provider = ReadString(map, path, "provider");
            if (provider is null)
            {
                Error(node, $"{path}.provider", "is required: the name of a provider under 'providers' (or 'local')");
                return null;
            }

            if (provider != LocalProviderName && !providers.ContainsKey(provider))
            {
                var known = string.Join(", ", providers.Keys.Append(LocalProviderName));
                Error(Child(map, "provider")!, $"{path}.provider", $"unknown provider '{provider}'; defined providers: {known}");
                return null;
            }

            var upstream = ReadString(map, path, "model") ?? alias;
            if (provider == LocalProviderName && upstream is not ("echo" or "extractive" or "hash-embed"))
            {
                Error(Child(map, "model") ?? node, $"{path}.model", $"the local provider has models echo, extractive and hash-embed, not '{upstream}'");
                return null;
            }

            var price = ReadPrice(map, path, allowLegacyCost: allowExtras);
            return new DeploymentConfig
            {
                Provider = provider,
                Model = upstream,
                Weight = allowExtras ? ReadDouble(map, path, "weight", 0, 1_000_000) ?? 1 : 1,
                Rpm = allowExtras && ReadLong(map, path, "rpm", min: 1) is { } rpm ? (int)Math.Min(rpm, int.MaxValue) : null,
                Tpm = allowExtras && ReadLong(map, path, "tpm", min: 1) is { } tpm ? (int)Math.Min(tpm, int.MaxValue) : null,
                Price = price,
            };
        }

        /// <summary>
        /// <c>price: { input, output, cached_input? }</c> in USD per 1M tokens. <c>cost: { input?, output? }</c>
        /// is the older name (deployment lists only), still read: a missing side costs 0.
        /// </summary>
        private Metering.ModelPrice? ReadPrice(YamlMappingNode map, string path, bool allowLegacyCost)
        {
            var priceNode = Child(map, "price");
            var costNode = allowLegacyCost ? Child(map, "cost") : null;
            if (priceNode is not null && costNode is not null)
            {
                Error(costNode, $"{path}.cost", "give 'price' or the older 'cost', not both; 'price' takes { input, output, cached_input }");
                return null;
            }

            if (priceNode is not null && ExpectMapping(priceNode, $"{path}.price", out var priceMap))
            {
                var field = $"{path}.price";
                CheckKeys(priceMap, field, PriceKeys);
                var input = ReadDouble(priceMap, field, "input", 0, 1_000_000);
                var output = ReadDouble(priceMap, field, "output", 0, 1_000_000);
                var cached = ReadDouble(priceMap, field, "cached_input", 0, 1_000_000);
                foreach (var (name, value) in new[] { ("input", input), ("output", output) })
                {
                    if (value is null && Child(priceMap, name) is null)
                    {
                        Error(priceNode, $"{field}.{name}", $"is required: USD per 1M {name} tokens, e.g. price: {{ input: 0.15, output: 0.6 }}");
                    }
                }

                if (cached > input)
                {
                    Error(Child(priceMap, "cached_input")!, $"{field}.cached_input", $"{cached.Value.ToString(CultureInfo.InvariantCulture)} is more than input {input!.Value.ToString(CultureInfo.InvariantCulture)}; cached tokens are a discount on input tokens");
                }

                return input is { } i && output is { } o ? new Metering.ModelPrice(i, o, cached, Metering.PriceSource.Config) : null;
            }

            if (costNode is not null && ExpectMapping(costNode, $"{path}.cost", out var costMap))
            {
                CheckKeys(costMap, $"{path}.cost", CostKeys);
                var input = ReadDouble(costMap, $"{path}.cost", "input", 0, 1_000_000);
                var output = ReadDouble(costMap, $"{path}.cost", "output", 0, 1_000_000);
                return input is null && output is null ? null : new Metering.ModelPrice(input ?? 0, output ?? 0, null, Metering.PriceSource.Config);
            }

            return null;
        }

        private double? ReadDouble(YamlMappingNode map, string path, string key, double min, double max)
        {
            if (ReadString(map, path, key) is not { } text)
            {
                return null;
            }

            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            {
                Error(Child(map, key)!, $"{path}.{key}", $"'{text}' must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
                return null;
            }

            return value;
        }

        private TimeSpan? ReadDuration(YamlMappingNode map, string path, string key)
        {
            if (ReadString(map, path, key) is not { } text)
            {
                return null;
            }

            if (!TryParseDuration(text, out var value))
            {
                Error(Child(map, key)!, $"{path}.{key}", $"'{text}' is not a duration; write e.g. 30s, 500ms, 2m");
                return null;
            }

            return value;
        }

        private bool ExpectMapping(YamlNode node, string path, out YamlMappingNode map)
        {
            if (node is YamlMappingNode m)
            {
                map = m;
                return true;
            }

            map = null!;
            Error(node, path.Length == 0 ? "(root)" : path, "must be a mapping of keys to values");
            return false;
        }

        private void CheckKeys(YamlMappingNode map, string path, string[] allowed)
        {
            foreach (var key in map.Children.Keys)
            {
                var name = (key as YamlScalarNode)?.Value ?? "";
                if (!allowed.Contains(name))
                {
                    var field = path.Length == 0 ? name : $"{path}.{name}";
                    Error(key, field, $"unknown field '{name}'; expected one of: {string.Join(", ", allowed)}");
                }
            }
        }

        private static YamlNode? Child(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

        private string? ReadString(YamlMappingNode map, string path, string key)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }

            if (node is not YamlScalarNode scalar)
            {
                Error(node, $"{path}.{key}", "must be a string");
                return null;
            }

            return Interpolate(scalar, $"{path}.{key}");
        }

        private long? ReadLong(YamlMappingNode map, string path, string key, long min)
        {
            if (ReadString(map, path, key) is not { } text)
            {
                return null;
            }

            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min)
            {
                Error(Child(map, key)!, $"{path}.{key}", $"'{text}' must be a whole number of at least {min}");
                return null;
            }

            return value;
        }

        private bool? ReadBool(YamlMappingNode map, string path, string key)
        {
            if (ReadString(map, path, key) is not { } text)
            {
                return null;
            }

            if (text is "true" or "false")
            {
                return text == "true";
            }

            Error(Child(map, key)!, $"{path}.{key}", $"'{text}' must be true or false");
            return null;
        }

        /// <summary>Replaces ${VAR} and ${VAR:-default}; an unset variable without a default is an error.</summary>
        private string? Interpolate(YamlScalarNode scalar, string path)
        {
            var value = scalar.Value;
            if (value is null || !value.Contains("${", StringComparison.Ordinal))
            {
                return value;
            }

            var result = new StringBuilder();
            var last = 0;
            foreach (Match match in EnvPattern().Matches(value))
            {
                result.Append(value, last, match.Index - last);
                var name = match.Groups[1].Value;
                var resolved = env(name);
                if (string.IsNullOrEmpty(resolved))
                {
                    if (match.Groups[2].Success)
                    {
                        resolved = match.Groups[3].Value;
                    }
                    else
                    {
                        Error(scalar, path, $"environment variable {name} is not set; set it, or write ${{{name}:-}} to allow it to be empty");
                        resolved = "";
                    }
                }

                result.Append(resolved);
                last = match.Index + match.Length;
            }

            result.Append(value, last, value.Length - last);
            return result.ToString();
        }

        private void Error(YamlNode node, string field, string message) =>
            Errors.Add(new ConfigError(file, (int)node.Start.Line, (int)node.Start.Column, field, message));
    }
}
