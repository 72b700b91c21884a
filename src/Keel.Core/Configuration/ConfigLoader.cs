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

    private static readonly string[] RootKeys = ["server", "auth", "recording", "providers", "models"];
    private static readonly string[] ServerKeys = ["max_request_body_bytes"];
    private static readonly string[] AuthKeys = ["master_key"];
    private static readonly string[] RecordingKeys = ["store_bodies", "queue_capacity"];
    private static readonly string[] ProviderKeys = ["kind", "base_url", "api_key", "api_version", "headers", "timeout"];
    private static readonly string[] ModelKeys = ["provider", "model"];

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
            models.TryAdd(model, new ModelConfig { Alias = model, Provider = LocalProviderName, UpstreamModel = model["local/".Length..] });
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

    private sealed class Reader(string file, Func<string, string?> env)
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
                config = config with { Server = new ServerConfig { MaxRequestBodyBytes = limit ?? config.Server.MaxRequestBodyBytes } };
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

            return config with
            {
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

            return new ModelConfig { Alias = alias, Provider = provider, UpstreamModel = upstream };
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
