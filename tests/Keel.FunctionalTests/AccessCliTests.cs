using System.Net;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

/// <summary><c>keel keys</c>, <c>keel projects</c>, <c>keel audit</c> and <c>keel config show</c>, run as the real executable.</summary>
public sealed class AccessCliTests
{
    [Fact]
    public async Task Keys_CreateListRevoke_Projects_Audit_AgainstARunningKeel()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var url = keel.BaseUrl;

        var (code, stdout, stderr) = await KeelCli.RunAsync("", null, "keys", "create", "ops", "--role", "admin", "--url", url, "--json");
        Assert.True(code == 0, stderr);
        var admin = JsonNode.Parse(stdout)!;
        var adminKey = (string)admin["key"]!;

        (code, stdout, stderr) = await KeelCli.RunAsync("", null, "projects", "create", "team-a", "--rpm", "100", "--url", url, "--key", adminKey);
        Assert.True(code == 0, stderr);
        Assert.Contains("Created project team-a", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = await KeelCli.RunAsync("", null, "keys", "create", "billing app", "--role", "gateway", "--expires", "30d", "--models", "local/echo", "--url", url, "--key", adminKey);
        Assert.True(code == 0, stderr);
        var secret = stdout.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("sk-keel-", StringComparison.Ordinal));
        Assert.Contains("not shown again", stdout, StringComparison.Ordinal);

        (code, stdout, _) = await KeelCli.RunAsync("", null, "keys", "list", "--url", url, "--key", adminKey);
        Assert.Equal(0, code);
        Assert.Contains("billing app", stdout, StringComparison.Ordinal);
        Assert.Contains(secret[..16] + "…", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, stdout, StringComparison.Ordinal);
        var id = stdout.Split('\n').Single(l => l.Contains("billing app", StringComparison.Ordinal)).Split("  ")[0].Trim();

        using var request = await AccessControlTests.SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", secret, AccessControlTests.Chat);
        Assert.Equal(HttpStatusCode.OK, request.StatusCode);

        (code, stdout, stderr) = await KeelCli.RunAsync("", null, "keys", "revoke", id, "--url", url, "--key", adminKey);
        Assert.True(code == 0, stderr);
        Assert.Contains("Revoked key 'billing app'", stdout, StringComparison.Ordinal);

        (code, stdout, _) = await KeelCli.RunAsync("", null, "audit", "--url", url, "--key", adminKey);
        Assert.Equal(0, code);
        Assert.Contains("key.revoke", stdout, StringComparison.Ordinal);
        Assert.Contains("project.create", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = await KeelCli.RunAsync("", null, "users", "erase", "nobody@example.com", "--url", url, "--key", adminKey);
        Assert.True(code == 0, stderr);
        Assert.Contains("Erased 0 traces and 0 scores", stdout, StringComparison.Ordinal);

        (code, _, stderr) = await KeelCli.RunAsync("", null, "keys", "create", "x", "--expires", "soon", "--url", url, "--key", adminKey);
        Assert.Equal(1, code);
        Assert.StartsWith("error: --expires 'soon'", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await KeelCli.RunAsync("", null, "keys", "list", "--url", url);
        Assert.Equal(1, code);
        Assert.Contains("API key", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigShow_RedactsEverySecret()
    {
        var directory = Directory.CreateTempSubdirectory("keel-show-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "keel.yaml"), """
                auth: { master_key: mk-very-secret-master }
                providers:
                  up: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-provider-secret-123, headers: { X-Org-Token: org-token-secret } }
                models:
                  fast: { provider: up, model: m }
                """);
            var (code, stdout, stderr) = await KeelCli.RunAsync("", directory, "config", "show");

            Assert.True(code == 0, stderr);
            var json = JsonNode.Parse(stdout)!;
            Assert.Equal("[REDACTED]", (string?)json["providers"]!["up"]!["api_key"]);
            Assert.Equal("[REDACTED]", (string?)json["auth"]!["master_key"]);
            Assert.DoesNotContain("secret", stdout, StringComparison.Ordinal);
            Assert.Equal("up/m", (string?)json["models"]!["fast"]!["deployments"]![0]);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
