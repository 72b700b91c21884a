using Microsoft.Extensions.Logging;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using static Keel.FunctionalTests.AccessControlTests;

namespace Keel.FunctionalTests;

/// <summary>
/// Tenant isolation and the role table, checked route by route. The route list is read from the running server,
/// so a new endpoint that declares no permission, or that this file does not cover, fails these tests.
/// </summary>
public sealed class SecurityTests
{
    /// <summary>Endpoints open to anyone (health checks) and the gateway's own endpoints (authenticated in the pipeline).</summary>
    private static readonly HashSet<string> NotControlPlane = new(StringComparer.Ordinal)
    {
        "GET /healthz", "GET /readyz",
        "POST /v1/chat/completions", "POST /chat/completions", "POST /v1/embeddings", "POST /embeddings", "GET /v1/models", "GET /models",
    };

    /// <summary>Every control-plane route, with how a key of another project is kept out of project A's data.</summary>
    private static readonly Dictionary<string, string> Isolation = new(StringComparer.Ordinal)
    {
        ["GET /api/traces/"] = "list: only the caller's project",
        ["GET /api/traces/{traceId}"] = "404",
        ["GET /api/routes/health"] = "not tenant data (the shared config's routes)",
        ["GET /metrics"] = "admin only (every project's traffic)",
        ["GET /api/metrics/summary"] = "list: only the caller's project",
        ["POST /api/scores/"] = "404 for another project's trace",
        ["GET /api/scores/"] = "list: only the caller's project",
        ["POST /v1/guardrails/scan"] = "not tenant data (scans the text sent)",
        ["POST /v1/traces"] = "writes into the caller's project; reads are scoped by GET /api/traces/{traceId}",
        ["POST /api/keys"] = "404 for another project",
        ["GET /api/keys"] = "list: only the caller's project",
        ["GET /api/keys/{id}"] = "404",
        ["PATCH /api/keys/{id}"] = "404",
        ["DELETE /api/keys/{id}"] = "404",
        ["POST /api/projects"] = "admin only",
        ["GET /api/projects"] = "list: only the caller's project",
        ["GET /api/projects/{id}"] = "404",
        ["PATCH /api/projects/{id}"] = "admin only",
        ["GET /api/audit"] = "list: only the caller's project",
        ["POST /api/erasure"] = "erases in the caller's project only; another project is 404",
        ["GET /api/prompts/"] = "list: only the caller's project",
        ["POST /api/prompts/"] = "writes into the caller's project",
        ["GET /api/prompts/{name}"] = "404",
        ["DELETE /api/prompts/{name}"] = "404",
        ["GET /api/prompts/{name}/versions/{version:int}"] = "404",
        ["GET /api/prompts/{name}/labels/{label}"] = "404",
        ["PUT /api/prompts/{name}/labels/{label}"] = "404",
        ["DELETE /api/prompts/{name}/labels/{label}"] = "404",
        ["POST /api/prompts/{name}/labels/{label}/rollback"] = "404",
        ["GET /api/prompts/{name}/labels/{label}/history"] = "404",
        ["GET /api/prompts/{name}/diff"] = "404",
        ["POST /api/prompts/{name}/render"] = "404",
        ["GET /api/experiments/"] = "list: only the caller's project",
        ["POST /api/experiments/"] = "404 for another project's prompt",
        ["GET /api/experiments/{id}"] = "404",
        ["POST /api/experiments/{id}/stop"] = "404",
        ["DELETE /api/experiments/{id}"] = "404",
    };

    private static List<(string Method, string Pattern, bool HasPermission)> Routes(KeelTestServer keel) =>
        [.. keel.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'), e.Metadata.Any(x => x.GetType().Name == "RequiresPermission"))))];

    [Fact]
    public async Task EveryEndpoint_DeclaresAPermission_AndIsCoveredByTheIsolationTable()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var routes = Routes(keel).Where(r => r.Method != "*").ToList();

        var undeclared = routes.Where(r => !r.HasPermission && !NotControlPlane.Contains($"{r.Method} {r.Pattern}")).Select(r => $"{r.Method} {r.Pattern}").ToList();
        var uncovered = routes.Where(r => r.HasPermission && !Isolation.ContainsKey($"{r.Method} {r.Pattern}")).Select(r => $"{r.Method} {r.Pattern}").ToList();

        Assert.True(undeclared.Count == 0, "Endpoints without a permission: " + string.Join(", ", undeclared));
        Assert.True(uncovered.Count == 0, "Endpoints this test does not check for isolation: " + string.Join(", ", uncovered));
    }

    [Fact]
    public async Task AnotherProjectsKey_GetsNotFound_OnEveryRouteThatNamesProjectAData()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        var a = await CreateProjectAsync(keel, admin, "team-a");
        var b = await CreateProjectAsync(keel, admin, "team-b");
        var (aKeyId, aAdmin) = await CreateKeyAsync(keel, admin, $$"""{"name":"a-admin","role":"project_admin","project":"{{a}}"}""");
        var (_, bAdmin) = await CreateKeyAsync(keel, admin, $$"""{"name":"b-admin","role":"project_admin","project":"{{b}}"}""");
        var (_, bDev) = await CreateKeyAsync(keel, admin, $$"""{"name":"b-dev","role":"developer","project":"{{b}}"}""");

        // Project A's data: a prompt with two versions, a label, an experiment, a trace.
        await PushAsync(keel, aAdmin, "You are A's bot, v1.");
        await PushAsync(keel, aAdmin, "You are A's bot, v2.");
        using var experiment = await SendAsync(keel, HttpMethod.Post, "/api/experiments", aAdmin,
            """{"name":"ab","prompt":"a-secret-prompt","label":"production","arms":[{"version":1,"weight":50},{"version":2,"weight":50}]}""");
        var experimentJson = await KeelTestServer.ReadJsonAsync(experiment);
        Assert.True(experiment.IsSuccessStatusCode, experimentJson.ToJsonString());
        var experimentId = (string)experimentJson["id"]!;
        using var call = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", aAdmin, Chat);
        var traceId = KeelTestServer.TraceIdOf(call);
        await keel.GetTraceAsync(traceId);

        (HttpMethod Method, string Path, string? Body)[] probes =
        [
            (HttpMethod.Get, $"/api/traces/{traceId}", null),
            (HttpMethod.Post, "/api/scores", $$"""{"trace_id":"{{traceId}}","name":"thumbs","value":true}"""),
            (HttpMethod.Get, $"/api/keys/{aKeyId}", null),
            (HttpMethod.Patch, $"/api/keys/{aKeyId}", """{"name":"pwned"}"""),
            (HttpMethod.Delete, $"/api/keys/{aKeyId}", null),
            (HttpMethod.Post, "/api/keys", $$"""{"name":"x","role":"developer","project":"{{a}}"}"""),
            (HttpMethod.Get, $"/api/projects/{a}", null),
            (HttpMethod.Get, "/api/prompts/a-secret-prompt", null),
            (HttpMethod.Delete, "/api/prompts/a-secret-prompt", null),
            (HttpMethod.Get, "/api/prompts/a-secret-prompt/versions/1", null),
            (HttpMethod.Get, "/api/prompts/a-secret-prompt/labels/production", null),
            (HttpMethod.Put, "/api/prompts/a-secret-prompt/labels/production", """{"version":1}"""),
            (HttpMethod.Delete, "/api/prompts/a-secret-prompt/labels/production", null),
            (HttpMethod.Post, "/api/prompts/a-secret-prompt/labels/production/rollback", null),
            (HttpMethod.Get, "/api/prompts/a-secret-prompt/labels/production/history", null),
            (HttpMethod.Get, "/api/prompts/a-secret-prompt/diff?from=1&to=2", null),
            (HttpMethod.Post, "/api/prompts/a-secret-prompt/render", """{"variables":{}}"""),
            (HttpMethod.Post, "/api/experiments", """{"name":"x","prompt":"a-secret-prompt","label":"production","arms":[{"version":1,"weight":1},{"version":2,"weight":1}]}"""),
            (HttpMethod.Get, $"/api/experiments/{experimentId}", null),
            (HttpMethod.Post, $"/api/experiments/{experimentId}/stop", null),
            (HttpMethod.Delete, $"/api/experiments/{experimentId}", null),
        ];
        foreach (var key in new[] { bAdmin, bDev })
        {
            foreach (var (method, path, body) in probes)
            {
                using var response = await SendAsync(keel, method, path, key, body);
                var text = await response.Content.ReadAsStringAsync();
                // 404, or (for a developer) 403 for the whole route whatever the id: neither reveals that A's data exists.
                Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode} {text}");
                Assert.DoesNotContain("A's bot", text, StringComparison.Ordinal);
            }
        }

        // Lists show nothing of A.
        foreach (var path in new[] { "/api/traces", "/api/keys", "/api/projects", "/api/audit", "/api/prompts", "/api/experiments", "/api/scores", "/api/metrics/summary?group_by=key" })
        {
            using var response = await SendAsync(keel, HttpMethod.Get, path, bAdmin);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{path}: {text}");
            Assert.DoesNotContain(traceId, text, StringComparison.Ordinal);
            Assert.DoesNotContain(aKeyId, text, StringComparison.Ordinal);
            Assert.DoesNotContain("a-secret-prompt", text, StringComparison.Ordinal);
            Assert.DoesNotContain("team-a", text, StringComparison.Ordinal);
        }

        // And A still has everything (the probes changed nothing).
        using var still = await SendAsync(keel, HttpMethod.Get, "/api/prompts/a-secret-prompt", aAdmin);
        using var keyStill = await SendAsync(keel, HttpMethod.Get, $"/api/keys/{aKeyId}", aAdmin);
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.Equal("a-admin", (string?)(await KeelTestServer.ReadJsonAsync(keyStill))["name"]);
    }

    private static async Task PushAsync(KeelTestServer keel, string key, string system)
    {
        var body = new JsonObject
        {
            ["name"] = "a-secret-prompt",
            ["type"] = "chat",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = system }),
            ["labels"] = new JsonArray("production"),
        };
        using var response = await SendAsync(keel, HttpMethod.Post, "/api/prompts", key, body.ToJsonString());
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public static TheoryData<string, string, string, string?, string> RoleTable => new()
    {
        // role: admin, project_admin, developer, viewer, gateway -> Y allowed, N denied (403)
        { "POST", "/v1/chat/completions", "chat", Chat, "YYYNY" },
        { "POST", "/v1/guardrails/scan", "scan", """{"input":"hello"}""", "YYYNY" },
        { "GET", "/api/traces", "read traces", null, "YYYYN" },
        { "GET", "/api/routes/health", "read routes", null, "YYYYN" },
        { "GET", "/api/prompts", "read prompts", null, "YYYYN" },
        { "POST", "/api/prompts", "write prompts", """{"name":"p","type":"text","template":"hi"}""", "YYYNN" },
        { "POST", "/api/keys", "manage keys", """{"name":"k","role":"gateway"}""", "YYNNN" },
        { "GET", "/api/audit", "read audit", null, "YYNNN" },
        { "POST", "/api/projects", "create projects", """{"name":"new-one"}""", "YNNNN" },
    };

    [Theory]
    [MemberData(nameof(RoleTable))]
    public async Task EachRole_IsAllowedExactlyWhatItsRowSays(string method, string path, string what, string? body, string expected)
    {
        await using var keel = await KeelTestServer.StartAsync();
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        string[] roles = ["admin", "project_admin", "developer", "viewer", "gateway"];
        for (var i = 0; i < roles.Length; i++)
        {
            var key = roles[i] == "admin" ? admin : (await CreateKeyAsync(keel, admin, $$"""{"name":"{{roles[i]}}","role":"{{roles[i]}}"}""")).Key;
            using var response = await SendAsync(keel, new HttpMethod(method), path, key, body?.Replace("new-one", "new-" + i, StringComparison.Ordinal));
            var allowed = response.IsSuccessStatusCode;
            Assert.True(allowed == (expected[i] == 'Y'), $"{roles[i]} {what} ({method} {path}): {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (!allowed)
            {
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            }
        }
    }
}

/// <summary>The leak guard every test server runs under can see a leak (a guard that cannot fail proves nothing).</summary>
public sealed class SecretLeakGuardTests
{
    [Fact]
    public void FindsASecretInALogLine_AndInTheDatabaseDirectory()
    {
        var guard = new SecretLeakGuard();
        guard.AddSecret("sk-provider-guard-test-1");
        guard.AddSecret("short"); // too short to be a secret worth scanning for
        guard.CreateLogger("Test").Log(Microsoft.Extensions.Logging.LogLevel.Information, "calling with sk-provider-guard-test-1 and short");
        var directory = Directory.CreateTempSubdirectory("keel-guard-").FullName;
        File.WriteAllText(Path.Combine(directory, "keel.db-wal"), "row: sk-provider-guard-test-1");
        try
        {
            var leaks = guard.FindLeaks(directory);
            Assert.Equal(2, leaks.Count);
            Assert.Contains(leaks, l => l.StartsWith("log line", StringComparison.Ordinal));
            Assert.Contains(leaks, l => l.StartsWith("keel.db-wal", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
