using System.CommandLine;
using System.Text.Json;
using Keel.Core.Configuration;

namespace Keel.Cli.Commands;

internal static class ConfigCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "Config file (env KEEL_CONFIG; default ./keel.yaml)." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var validate = new Command("validate", "Check keel.yaml and print every error with its file, line and field. Exit code 1 when invalid.") { config, json };
        validate.SetAction(parse =>
        {
            var path = ConfigPaths.Resolve(parse.GetValue(config)) ?? ConfigPaths.DefaultFile;
            var result = File.Exists(path)
                ? ConfigLoader.LoadFile(path)
                : new ConfigLoadResult(null, [new ConfigError(path, 0, 0, "", "the file does not exist")]);
            if (parse.GetValue(json))
            {
                WriteJson(path, result);
            }
            else if (result.Success)
            {
                var c = result.Config!;
                Console.WriteLine($"{path}: OK ({c.Providers.Count} providers, {c.Models.Count} models)");
            }
            else
            {
                foreach (var error in result.Errors)
                {
                    Console.Error.WriteLine($"error: {error}");
                }

                Console.Error.WriteLine($"{result.Errors.Count} error(s) in {path}.");
            }

            return result.Success ? 0 : 1;
        });

        var showConfig = new Option<string?>("--config", "-c") { Description = "Config file (env KEEL_CONFIG; default ./keel.yaml)." };
        var show = new Command("show", "Print the config as Keel reads it (defaults filled in, ${VAR} resolved) as JSON, with every secret replaced by [REDACTED].") { showConfig };
        show.SetAction(parse =>
        {
            var config = ConfigPaths.LoadOrReport(ConfigPaths.Resolve(parse.GetValue(showConfig)), Console.Error);
            if (config is null)
            {
                return 1;
            }
            ConfigPrinter.Write(config);
            return 0;
        });

        return new Command("config", "Work with keel.yaml.") { validate, show };
    }

    private static void WriteJson(string path, ConfigLoadResult result)
    {
        using var stdout = Console.OpenStandardOutput();
        using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteString("file", path);
        writer.WriteBoolean("valid", result.Success);
        if (result.Config is { } c)
        {
            writer.WriteNumber("providers", c.Providers.Count);
            writer.WriteStartArray("models");
            foreach (var model in c.Models.Keys.Order(StringComparer.Ordinal))
            {
                writer.WriteStringValue(model);
            }

            writer.WriteEndArray();
        }

        writer.WriteStartArray("errors");
        foreach (var error in result.Errors)
        {
            writer.WriteStartObject();
            writer.WriteString("file", error.File);
            writer.WriteNumber("line", error.Line);
            writer.WriteNumber("column", error.Column);
            writer.WriteString("field", error.Field);
            writer.WriteString("message", error.Message);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        stdout.WriteByte((byte)'\n');
    }
}
