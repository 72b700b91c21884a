using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Core.Configuration;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Keel.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>
/// A real Keel (Kestrel on 127.0.0.1, port 0) with its own config file and data directory, torn
/// down after the test. Each test starts its own, with only the config it needs.
/// </summary>
public sealed class KeelTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SecretLeakGuard _guard;

    private KeelTestServer(WebApplication app, string directory, string? configPath, SecretLeakGuard guard)
    {
        _app = app;
        _guard = guard;
        Directory = directory;
        ConfigPath = configPath;
        BaseUrl = app.GetBaseUrl();
        Client = new HttpClient(guard.CreateHandler()) { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    public string BaseUrl { get; }
    public string Directory { get; }
    public string? ConfigPath { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => _app.Services;

    public static async Task<KeelTestServer> StartAsync(string? yaml = null, Action<IServiceCollection>? services = null, bool watch = false)
    {
        var directory = Path.Combine(Path.GetTempPath(), "keel-test-" + Guid.NewGuid().ToString("n"));
        System.IO.Directory.CreateDirectory(directory);
        string? configPath = null;
        var config = KeelConfig.Default;
        if (yaml is not null)
        {
            configPath = Path.Combine(directory, "keel.yaml");
            await File.WriteAllTextAsync(configPath, yaml);
            var result = ConfigLoader.LoadFile(configPath);
            Assert.True(result.Success, string.Join("\n", result.Errors));
            config = result.Config!;
        }

        var guard = new SecretLeakGuard();
        guard.AddSecret(config.Auth.MasterKey);
        foreach (var provider in config.Providers.Values)
        {
            guard.AddSecret(provider.ApiKey);
        }

        var options = new KeelServerOptions { Port = 0, ConfigPath = configPath, DataDirectory = Path.Combine(directory, "data"), WatchConfig = watch };
        var app = await KeelApp.CreateAsync(options, config, s =>
        {
            s.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(guard);
            services?.Invoke(s);
        });
        await app.StartAsync();
        return new KeelTestServer(app, directory, configPath, guard);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return Client.SendAsync(request);
    }

    /// <summary>Waits for the recorder to write, then reads the trace from the store.</summary>
    public async Task<TraceRecord> GetTraceAsync(string traceId)
    {
        var recorder = Services.GetRequiredService<TraceRecorder>();
        var store = Services.GetRequiredService<IKeelStore>();
        for (var i = 0; i < 200; i++)
        {
            await recorder.FlushAsync(CancellationToken.None);
            if (await store.Traces.GetAsync(traceId, CancellationToken.None) is { } trace)
            {
                return trace;
            }

            await Task.Delay(10);
        }

        throw new Xunit.Sdk.XunitException($"Trace {traceId} was never recorded.");
    }

    public static async Task<JsonNode> ReadJsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    public static string TraceIdOf(HttpResponseMessage response) =>
        response.Headers.GetValues("x-keel-trace-id").Single();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var leaks = _guard.FindLeaks(Path.Combine(Directory, "data"));
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by the OS is left for the temp cleaner.
        }

        if (leaks.Count > 0)
        {
            throw new Xunit.Sdk.XunitException("Secrets leaked: " + string.Join("; ", leaks.Distinct().Take(10)));
        }
    }
}
