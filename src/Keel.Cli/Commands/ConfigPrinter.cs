using System.Text.Encodings.Web;
using System.Text.Json;
using Keel.Core.Configuration;

namespace Keel.Cli.Commands;

/// <summary><c>keel config show</c>: the effective config as JSON, secrets redacted (keys, the master key, header values).</summary>
internal static class ConfigPrinter
{
    public const string Redacted = "[REDACTED]";

    public static void Write(KeelConfig config)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("source", config.Source);
            w.WriteStartObject("server");
            w.WriteNumber("max_request_body_bytes", config.Server.MaxRequestBodyBytes);
            w.WriteEndObject();
            w.WriteStartObject("auth");
            w.WriteString("master_key", config.Auth.MasterKey is null ? null : Redacted);
            w.WriteEndObject();
            w.WriteStartObject("recording");
            w.WriteBoolean("store_bodies", config.Recording.StoreBodies);
            w.WriteNumber("queue_capacity", config.Recording.QueueCapacity);
            w.WriteEndObject();

            w.WriteStartObject("providers");
            foreach (var (name, p) in config.Providers.OrderBy(static p => p.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject(name);
                w.WriteString("kind", p.Kind);
                w.WriteString("base_url", p.BaseUrl);
                w.WriteString("api_key", p.ApiKey is null ? null : Redacted);
                if (p.ApiVersion is not null)
                {
                    w.WriteString("api_version", p.ApiVersion);
                }
                if (p.Headers.Count > 0)
                {
                    w.WriteStartObject("headers");
                    foreach (var header in p.Headers.Keys.Order(StringComparer.Ordinal))
                    {
                        w.WriteString(header, Redacted); // header values often carry tokens
                    }
                    w.WriteEndObject();
                }
                w.WriteString("timeout", p.Timeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }
            w.WriteEndObject();

            w.WriteStartObject("models");
            foreach (var (alias, m) in config.Models.OrderBy(static m => m.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject(alias);
                w.WriteString("strategy", m.Strategy);
                w.WriteStartArray("deployments");
                foreach (var d in m.Deployments)
                {
                    w.WriteStringValue(d.Id);
                }
                w.WriteEndArray();
                if (m.Fallbacks.Count > 0)
                {
                    w.WriteStartArray("fallbacks");
                    foreach (var f in m.Fallbacks)
                    {
                        w.WriteStringValue(f);
                    }
                    w.WriteEndArray();
                }
                if (m.Guardrails is not null)
                {
                    w.WriteString("guardrails", m.Guardrails);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();

            w.WriteStartObject("guardrails");
            w.WriteString("default", config.Guardrails.Default);
            w.WriteStartArray("policies");
            foreach (var name in config.Guardrails.Policies.Keys.Order(StringComparer.Ordinal))
            {
                w.WriteStringValue(name);
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
    }
}
