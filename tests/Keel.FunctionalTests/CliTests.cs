using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

/// <summary>The real `keel` executable, run as a user would.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "keel-cli-" + Guid.NewGuid().ToString("n"));

    public CliTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The real keel executable, with no master key or config from the test's environment.</summary>
    internal static ProcessStartInfo Keel(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "keel.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        info.Environment.Remove("KEEL_MASTER_KEY");
        info.Environment.Remove("KEEL_CONFIG");
        info.Environment.Remove(global::Keel.Server.InlineIo.SocketsVariable);
        info.Environment.Remove(global::Keel.Server.InlineIo.ThreadCountVariable);
        return info;
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var process = Process.Start(Keel(_directory, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task ConfigValidate_ValidFile_PrintsOkAndExitsZero()
    {
        await File.WriteAllTextAsync(Path.Combine(_directory, "keel.yaml"), "models:\n  chat: { provider: local, model: echo }\n");

        var (code, stdout, _) = await RunAsync("config", "validate");

        Assert.Equal(0, code);
        Assert.Contains("keel.yaml: OK (1 providers, 4 models)", stdout);
    }

    [Fact]
    public async Task ConfigValidate_InvalidFile_PrintsOneLinePerErrorWithLineAndFieldAndExitsOne()
    {
        var path = Path.Combine(_directory, "bad.yaml");
        await File.WriteAllTextAsync(path, "providers:\n  p: { kind: nope }\nmodels:\n  m: { provider: ghost }\n");

        var (code, _, stderr) = await RunAsync("config", "validate", "--config", path);

        Assert.Equal(1, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith($"error: {path}:2:", StringComparison.Ordinal) && l.Contains("providers.p.kind", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"error: {path}:4:", StringComparison.Ordinal) && l.Contains("models.m.provider", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConfigValidate_ShippedSample_IsValid()
    {
        var sample = Path.Combine(ClientCompatibilityTests.RepoRoot(), "samples", "keel.yaml");

        var (code, stdout, stderr) = await RunAsync("config", "validate", "--config", sample);

        Assert.True(code == 0, stderr);
        Assert.Contains("OK (4 providers", stdout);
    }

    [Fact]
    public async Task ConfigValidate_Json_IsMachineReadable()
    {
        var path = Path.Combine(_directory, "bad.yaml");
        await File.WriteAllTextAsync(path, "providers:\n  p: { kind: nope }\n");

        var (code, stdout, _) = await RunAsync("config", "validate", "--config", path, "--json");

        Assert.Equal(1, code);
        var json = JsonNode.Parse(stdout)!;
        Assert.False((bool)json["valid"]!);
        Assert.Equal(2, (int)json["errors"]![0]!["line"]!);
        Assert.Equal("providers.p.kind", (string?)json["errors"]![0]!["field"]);
    }

    [Fact]
    public async Task Version_PrintsTheVersion()
    {
        var (code, stdout, _) = await RunAsync("version");

        Assert.Equal(0, code);
        Assert.StartsWith("keel 0.1.0", stdout);
    }

    [Fact]
    public async Task Serve_InvalidConfig_RefusesToStart()
    {
        var path = Path.Combine(_directory, "bad.yaml");
        await File.WriteAllTextAsync(path, "models:\n  m: { provider: ghost }\n");

        var (code, _, stderr) = await RunAsync("serve", "--config", path, "--port", "0");

        Assert.Equal(1, code);
        Assert.Contains("models.m.provider", stderr);
    }

    [Fact]
    public async Task Serve_NoConfig_ServesTheLocalProviderAndStopsCleanly()
    {
        using var served = await StartServeAsync();
        try
        {
            await AssertEchoesAsync(served);
            Assert.True(File.Exists(Path.Combine(_directory, ".keel", "keel.db")));
        }
        finally
        {
            await served.StopAsync();
        }

        Assert.Equal(0, served.Process.ExitCode);
        var log = await served.Stdout;
        Assert.Contains("Keel listening on http://127.0.0.1:", log);
        Assert.Contains("keel keys create ops --role admin", log);
        Assert.Contains("1 written, 0 spooled, 0 replayed, 0 dropped", log);
    }

    [Fact]
    public async Task Serve_InlineIo_OnByDefault_WithTwoEventThreadsPerCore_AndOffWhenConfigured()
    {
        Assert.True(OperatingSystem.IsLinux(), "reads thread names from /proc");
        var inline = await EventThreadsAsync();
        await File.WriteAllTextAsync(Path.Combine(_directory, "keel.yaml"), "server:\n  inline_io: false\n");
        var pooled = await EventThreadsAsync("--config", "keel.yaml", "--data", "pooled");

        // Inline, requests run on the event threads: two per core, so that one waiting never idles a core.
        Assert.Equal(2 * Environment.ProcessorCount, inline);
        // Off, the runtime's default: one event thread handing completions to the thread pool.
        Assert.True(pooled < inline, $"{pooled} event threads with inline_io off");

        async Task<int> EventThreadsAsync(params string[] args)
        {
            using var served = await StartServeAsync(args);
            try
            {
                // A gateway call and a control-plane call (moved off the event thread) both answer.
                await AssertEchoesAsync(served);
                using var traces = await served.Http.GetAsync("/api/traces?limit=5");
                Assert.Equal(HttpStatusCode.OK, traces.StatusCode);
                return Directory.GetDirectories($"/proc/{served.Process.Id}/task")
                    .Count(task => File.ReadAllText(Path.Combine(task, "comm")).Trim() == ".NET Sockets");
            }
            finally
            {
                await served.StopAsync();
            }
        }
    }

    private async Task<Served> StartServeAsync(params string[] args)
    {
        var port = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(Keel(_directory, ["serve", "--port", port, .. args]))!;
        var served = new Served(process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") }, process.StandardOutput.ReadToEndAsync());
        for (var i = 0; i < 200; i++)
        {
            try
            {
                if ((await served.Http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
                {
                    return served;
                }
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }

        await served.StopAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        served.Dispose();
        throw new InvalidOperationException("keel serve never became ready: " + stderr);
    }

    private static async Task AssertEchoesAsync(Served served)
    {
        using var response = await served.Http.PostAsync("/v1/chat/completions", new StringContent("""{"model":"local/echo","messages":[{"role":"user","content":"ping"}]}"""));
        Assert.Equal("ping", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!["message"]!["content"]);
    }

    private sealed record Served(Process Process, HttpClient Http, Task<string> Stdout) : IDisposable
    {
        /// <summary>SIGTERM: the host drains the recorder and exits 0.</summary>
        public async Task StopAsync()
        {
            if (!Process.HasExited)
            {
                Process.Start("kill", ["-TERM", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await Process.WaitForExitAsync(timeout.Token);
        }

        public void Dispose()
        {
            Http.Dispose();
            Process.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
