using System.CommandLine;
using System.Globalization;
using Keel.Server;
using Microsoft.AspNetCore.Builder;

namespace Keel.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port", "-p") { Description = $"Port to listen on (env KEEL_PORT; default {KeelServerOptions.DefaultPort})." };
        var host = new Option<string?>("--host") { Description = "Address to bind (env KEEL_HOST; default 127.0.0.1; 0.0.0.0 for all interfaces)." };
        var config = new Option<string?>("--config", "-c") { Description = "Config file (env KEEL_CONFIG; default ./keel.yaml when present, else the local provider alone)." };
        var data = new Option<string?>("--data") { Description = "Data directory for the SQLite store (env KEEL_DATA; default ./.keel)." };
        var command = new Command("serve", "Run the gateway and control plane.") { port, host, config, data };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var portValue = parse.GetValue(port) ?? ParsePort(Environment.GetEnvironmentVariable("KEEL_PORT"));
            if (portValue is < 0 or > 65535)
            {
                await Console.Error.WriteLineAsync($"error: --port must be between 0 and 65535, not {portValue}.");
                return 2;
            }

            var configPath = ConfigPaths.Resolve(parse.GetValue(config));
            var keelConfig = ConfigPaths.LoadOrReport(configPath, Console.Error);
            if (keelConfig is null)
            {
                return 1;
            }

            // Before the first socket: the runtime reads this switch once.
            InlineIo.ConfigureProcess(keelConfig.Server.InlineIo);
            var options = new KeelServerOptions
            {
                Host = parse.GetValue(host) ?? Environment.GetEnvironmentVariable("KEEL_HOST") ?? "127.0.0.1",
                Port = portValue ?? KeelServerOptions.DefaultPort,
                ConfigPath = configPath,
                DataDirectory = parse.GetValue(data) ?? Environment.GetEnvironmentVariable("KEEL_DATA") ?? ".keel",
            };

            WebApplication app;
            try
            {
                app = await KeelApp.CreateAsync(options, keelConfig, cancellationToken: cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
            {
                await Console.Error.WriteLineAsync($"error: cannot open the data directory '{options.DataDirectory}': {ex.Message}");
                return 1;
            }

            try
            {
                await app.RunAsync();
            }
            catch (IOException ex) when (ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                await Console.Error.WriteLineAsync($"error: {options.Host}:{options.Port} is already in use; pick another with --port.");
                return 1;
            }

            return 0;
        });
        return command;
    }

    private static int? ParsePort(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
}
