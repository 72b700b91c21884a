using System.Collections.Frozen;
using YamlDotNet.RepresentationModel;

namespace Keel.Core.Configuration;

public static partial class ConfigLoader
{
    private static readonly string[] TelemetryKeys = ["otlp", "service_name"];
    private static readonly string[] OtlpKeys = ["endpoint", "headers"];

    private sealed partial class Reader
    {
        private TelemetryConfig ReadTelemetry(YamlNode node)
        {
            const string path = "telemetry";
            if (!ExpectMapping(node, path, out var map))
            {
                return new TelemetryConfig();
            }
            CheckKeys(map, path, TelemetryKeys);
            var result = new TelemetryConfig { ServiceName = ReadString(map, path, "service_name") ?? "keel" };
            if (Child(map, "otlp") is not { } otlpNode || !ExpectMapping(otlpNode, $"{path}.otlp", out var otlp))
            {
                return result;
            }
            CheckKeys(otlp, $"{path}.otlp", OtlpKeys);
            var endpoint = ReadString(otlp, $"{path}.otlp", "endpoint");
            if (endpoint is not null && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            {
                Error(Child(otlp, "endpoint")!, $"{path}.otlp.endpoint", $"'{endpoint}' is not an http(s) URL, e.g. http://otel-collector:4318");
                endpoint = null;
            }
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (Child(otlp, "headers") is { } headersNode && ExpectMapping(headersNode, $"{path}.otlp.headers", out var headersMap))
            {
                foreach (var (keyNode, valueNode) in headersMap.Children)
                {
                    var name = ((YamlScalarNode)keyNode).Value ?? "";
                    if (valueNode is YamlScalarNode scalar && Interpolate(scalar, $"{path}.otlp.headers.{name}") is { } value)
                    {
                        headers[name] = value;
                    }
                    else
                    {
                        Error(valueNode, $"{path}.otlp.headers.{name}", "must be a string");
                    }
                }
            }
            return result with { OtlpEndpoint = endpoint?.TrimEnd('/'), OtlpHeaders = headers.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase) };
        }
    }
}
