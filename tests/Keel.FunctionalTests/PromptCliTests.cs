using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

/// <summary>The real `keel prompt` and `keel experiment` verbs against a running Keel, as CI would use them.</summary>
public sealed class PromptCliTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "keel-prompt-cli-" + Guid.NewGuid().ToString("n"));

    public PromptCliTests() => Directory.CreateDirectory(_directory);

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

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string url, params string[] args)
    {
        var info = CliTests.Keel(_directory, args);
        info.Environment["KEEL_URL"] = url;
        info.Environment.Remove("KEEL_API_KEY");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    private string WriteFile(string name, string yaml)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string PromptV1 = """
        name: support-reply
        type: chat
        messages:
          - { role: system, content: "You answer for {{company}}. Be brief." }
          - { role: user, content: "{{question}}" }
        model: local/echo
        params: { temperature: 0.2 }
        labels: [staging]
        message: "first"
        """;

    [Fact]
    public async Task PromptVerbs_PushListPromoteRollbackDiff_AgainstARunningKeel()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var url = keel.BaseUrl;
        var file = WriteFile("support.yaml", PromptV1);

        var push = await RunAsync(url, "prompt", "push", file, "--label", "production");
        Assert.True(push.ExitCode == 0, push.Stderr);
        Assert.Contains("support-reply: created version 1", push.Stdout);
        Assert.Contains("production: (none) -> 1", push.Stdout);

        var same = await RunAsync(url, "prompt", "push", file);
        Assert.Contains("unchanged (version 1 has the same content)", same.Stdout);

        File.WriteAllText(file, PromptV1.Replace("Be brief.", "Be very brief.", StringComparison.Ordinal).Replace("0.2", "0.4", StringComparison.Ordinal));
        var second = await RunAsync(url, "prompt", "push", file);
        Assert.Contains("created version 2", second.Stdout);
        Assert.Contains("staging: 1 -> 2", second.Stdout);

        var list = await RunAsync(url, "prompt", "list");
        var row = list.Stdout.Split('\n').Single(l => l.StartsWith("support-reply", StringComparison.Ordinal));
        Assert.Matches(@"^support-reply\s+chat\s+2\s+production=1, staging=2\s", row);

        var promote = await RunAsync(url, "prompt", "promote", "support-reply", "2", "--label", "production");
        Assert.Equal("support-reply: production 1 -> 2", promote.Stdout.Trim());
        var answer = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"prompt:support-reply","prompt":{"variables":{"company":"Acme","question":"q"}}}""");
        Assert.Equal(2, (await keel.GetTraceAsync(KeelTestServer.TraceIdOf(answer))).PromptVersion);

        var rollback = await RunAsync(url, "prompt", "rollback", "support-reply", "--label", "production");
        Assert.Equal("support-reply: production rolled back 2 -> 1", rollback.Stdout.Trim());
        answer = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"prompt:support-reply","prompt":{"variables":{"company":"Acme","question":"q"}}}""");
        Assert.Equal(1, (await keel.GetTraceAsync(KeelTestServer.TraceIdOf(answer))).PromptVersion);

        var diff = await RunAsync(url, "prompt", "diff", "support-reply", "v1", "v2");
        Assert.Equal(0, diff.ExitCode);
        Assert.Contains("-You answer for {{company}}. Be brief.\n+You answer for {{company}}. Be very brief.\n", diff.Stdout);
        Assert.Contains("params.temperature: 0.2 -> 0.4", diff.Stdout);

        var json = await RunAsync(url, "prompt", "show", "support-reply", "--json");
        Assert.Equal(1, (int)JsonNode.Parse(json.Stdout)!["labels"]!["production"]!);

        var pulled = await RunAsync(url, "prompt", "pull", "support-reply", "--version", "2");
        Assert.Contains("content: \"You answer for {{company}}. Be very brief.\"", pulled.Stdout);
        var back = await RunAsync(url, "prompt", "push", WriteFile("pulled.yaml", pulled.Stdout));
        Assert.Contains("unchanged (version 2 has the same content)", back.Stdout);
    }

    [Fact]
    public async Task PromptVerbs_Errors_AreOneLineAndExitOne()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var bad = WriteFile("bad.yaml", "name: x\nmessages:\n  - { role: system, content: \"hi {{#a}}\" }\n");

        var invalid = await RunAsync(keel.BaseUrl, "prompt", "push", bad);
        var missing = await RunAsync(keel.BaseUrl, "prompt", "show", "nope");
        var unreachable = await RunAsync("http://127.0.0.1:9", "prompt", "list");
        var noRollback = await RunAsync(keel.BaseUrl, "prompt", "rollback", "nope", "--label", "production");

        Assert.Equal(1, invalid.ExitCode);
        Assert.StartsWith($"error: {bad}:3:", invalid.Stderr);
        Assert.Contains("messages[0].content: section '{{#a}}' is never closed", invalid.Stderr);
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("error: There is no prompt named 'nope'. Push it first (keel prompt push FILE, or POST /api/prompts).", missing.Stderr.Trim());
        Assert.Equal(1, unreachable.ExitCode);
        Assert.StartsWith("error: cannot reach Keel at http://127.0.0.1:9", unreachable.Stderr);
        Assert.Single(unreachable.Stderr.Trim().Split('\n'));
        Assert.Equal(1, noRollback.ExitCode);
    }

    [Fact]
    public async Task ExperimentVerbs_CreateAndShow_PrintTheArms()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var file = WriteFile("p.yaml", PromptV1);
        await RunAsync(keel.BaseUrl, "prompt", "push", file, "--label", "production");
        File.WriteAllText(file, PromptV1.Replace("Be brief.", "Be short.", StringComparison.Ordinal));
        await RunAsync(keel.BaseUrl, "prompt", "push", file);

        var created = await RunAsync(keel.BaseUrl, "experiment", "create", "--prompt", "support-reply", "--arm", "1:70", "--arm", "short=2:30", "--primary-score", "helpful", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        var id = (string)JsonNode.Parse(created.Stdout)!["id"]!;
        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = new StringContent("""{"model":"prompt:support-reply","user":"same-user","prompt":{"variables":{"company":"A","question":"q"}}}"""),
            };
            using var response = await keel.Client.SendAsync(request);
            await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        }

        var show = await RunAsync(keel.BaseUrl, "experiment", "show", id);

        Assert.True(show.ExitCode == 0, show.Stderr);
        Assert.Contains($"{id} support-reply@production: running, primary score helpful", show.Stdout);
        var rows = show.Stdout.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^(a|short)\s+\d")).ToList();
        Assert.Equal(2, rows.Count);
        // One user, sticky: all five requests in one arm.
        Assert.Single(rows, r => System.Text.RegularExpressions.Regex.IsMatch(r, @"^\S+\s+\d\s+\d+\s+5\s+0\s"));
        Assert.Contains("no 'helpful' scores yet", show.Stdout);

        var bad = await RunAsync(keel.BaseUrl, "experiment", "create", "--prompt", "support-reply", "--arm", "x:y", "--arm", "2");
        Assert.Equal(2, bad.ExitCode);
    }
}
