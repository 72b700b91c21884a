using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Tests.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>Virtual keys, roles, projects and the audit log, through the real server.</summary>
public sealed class AccessControlTests
{
    internal const string Chat = """{"model":"local/echo","messages":[{"role":"user","content":"hi"}]}""";

    internal static async Task<HttpResponseMessage> SendAsync(KeelTestServer keel, HttpMethod method, string path, string? key, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return await keel.Client.SendAsync(request);
    }

    internal static async Task<(string Id, string Key)> CreateKeyAsync(KeelTestServer keel, string? adminKey, string body)
    {
        using var response = await SendAsync(keel, HttpMethod.Post, "/api/keys", adminKey, body);
        var json = await KeelTestServer.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, json.ToJsonString());
        return ((string)json["id"]!, (string)json["key"]!);
    }

    internal static async Task<string> CreateProjectAsync(KeelTestServer keel, string? adminKey, string name, string limits = "")
    {
        using var response = await SendAsync(keel, HttpMethod.Post, "/api/projects", adminKey, $$"""{"name":"{{name}}"{{limits}}}""");
        var json = await KeelTestServer.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, json.ToJsonString());
        return (string)json["id"]!;
    }

    [Fact]
    public async Task Key_CreatedOnce_StoredHashed_UsableAtOnce_RevokedOnTheNextRequest_AllAudited()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var created = await SendAsync(keel, HttpMethod.Post, "/api/keys", null, """{"name":"ci bot","role":"developer"}""");
        var json = await KeelTestServer.ReadJsonAsync(created);
        var key = (string)json["key"]!;
        var id = (string)json["id"]!;

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.StartsWith("sk-keel-", key, StringComparison.Ordinal);
        Assert.Equal(key[..16], (string?)json["prefix"]);
        Assert.Equal("default", (string?)json["project"]);
        Assert.Null(json["hash"]);

        using var listed = await SendAsync(keel, HttpMethod.Get, "/api/keys", null);
        var listText = await listed.Content.ReadAsStringAsync();
        Assert.Contains(id, listText, StringComparison.Ordinal);
        Assert.DoesNotContain(key, listText, StringComparison.Ordinal);

        // The store keeps only a hash: the secret is nowhere in the database file.
        var db = await File.ReadAllBytesAsync(Path.Combine(keel.Directory, "data", "keel.db"));
        Assert.DoesNotContain(key, Encoding.UTF8.GetString(db), StringComparison.Ordinal);

        using var ok = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Chat);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        using var revoke = await SendAsync(keel, HttpMethod.Delete, $"/api/keys/{id}", null);
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        using var after = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Chat);
        var error = (await KeelTestServer.ReadJsonAsync(after))["error"]!;
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal("revoked_api_key", (string?)error["code"]);

        using var audit = await SendAsync(keel, HttpMethod.Get, "/api/audit", null);
        var entries = (await KeelTestServer.ReadJsonAsync(audit))["data"]!.AsArray();
        Assert.Equal(["key.revoke", "key.create"], entries.Select(e => (string?)e!["action"]));
        Assert.All(entries, e => Assert.Equal("local", (string?)e!["actor"]));
        Assert.Null(entries[1]!["before"]);
        Assert.Contains("\"revoked_at\"", (string?)entries[0]!["after"], StringComparison.Ordinal);
        Assert.DoesNotContain("\"revoked_at\"", (string?)entries[0]!["before"], StringComparison.Ordinal);
        Assert.DoesNotContain(key, await audit.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bootstrap_FirstAdminKey_ClosesTheOpenLoopback()
    {
        await using var keel = await KeelTestServer.StartAsync();
        using var open = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", null, Chat);
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);

        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");

        using var closed = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", null, Chat);
        using var withKey = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", admin, Chat);
        Assert.Equal(HttpStatusCode.Unauthorized, closed.StatusCode);
        Assert.Equal("missing_api_key", (string?)(await KeelTestServer.ReadJsonAsync(closed))["error"]!["code"]);
        Assert.Equal(HttpStatusCode.OK, withKey.StatusCode);
    }

    [Fact]
    public async Task ExpiredKey_IsRefused()
    {
        var clock = new TestTimeProvider(DateTimeOffset.UtcNow);
        await using var keel = await KeelTestServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var expires = clock.GetUtcNow().AddHours(1).ToString("O");
        var (_, key) = await CreateKeyAsync(keel, null, $$"""{"name":"temp","role":"gateway","expires_at":"{{expires}}"}""");

        using var before = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Chat);
        clock.Advance(TimeSpan.FromHours(2));
        using var after = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Chat);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal("expired_api_key", (string?)(await KeelTestServer.ReadJsonAsync(after))["error"]!["code"]);
    }

    [Theory]
    [InlineData("sk-keel-AAAAAAAAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")] // well-formed, unknown
    [InlineData("sk-keel-short")]
    [InlineData("sk-keel-AAAAAAAA!bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")]
    [InlineData("Bearer")]
    public async Task MalformedOrUnknownKeys_Are401(string presented)
    {
        await using var keel = await KeelTestServer.StartAsync();
        var (_, real) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        // A key that shares the real key's public prefix but not its secret.
        var forged = real[..16] + new string('x', real.Length - 16);

        foreach (var key in new[] { presented, forged })
        {
            using var response = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Chat);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
        }
    }

    [Fact]
    public async Task VeryLongHeader_AndKeyInQueryString_AreRefused()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var (_, key) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");

        using var longKey = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", new string('k', 20_000), Chat);
        using var query = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions?api_key=" + key, null, Chat);
        using var queryOnApi = await SendAsync(keel, HttpMethod.Get, "/api/keys?key=" + key, key);

        Assert.Equal(HttpStatusCode.Unauthorized, longKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, query.StatusCode);
        Assert.Equal("key_in_query", (string?)(await KeelTestServer.ReadJsonAsync(query))["error"]!["code"]);
        Assert.Equal(HttpStatusCode.Unauthorized, queryOnApi.StatusCode);
    }

    [Fact]
    public async Task BadKeyRequests_ClearErrors()
    {
        await using var keel = await KeelTestServer.StartAsync();
        (string Body, string Param)[] cases =
        [
            ("""{"role":"developer"}""", "name"),
            ("""{"name":"x","role":"superuser"}""", "role"),
            ("""{"name":"x","expires_at":"yesterday"}""", "expires_at"),
            ("""{"name":"x","expires_at":"2001-01-01T00:00:00Z"}""", "expires_at"),
            ("""{"name":"x","limits":{"rpm":0}}""", "limits.rpm"),
            ("""{"name":"x","limits":{"rpmm":5}}""", "limits"),
            ("""{"name":"x","role":"admin","project":"default"}""", "project"),
        ];
        foreach (var (body, param) in cases)
        {
            using var response = await SendAsync(keel, HttpMethod.Post, "/api/keys", null, body);
            var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
            Assert.StartsWith(param, (string?)error["param"] ?? "", StringComparison.Ordinal);
        }
        using var noProject = await SendAsync(keel, HttpMethod.Post, "/api/keys", null, """{"name":"x","project":"proj_nope"}""");
        Assert.Equal(HttpStatusCode.NotFound, noProject.StatusCode);
    }

    [Fact]
    public async Task BadProjectAndAuditRequests_ClearErrors()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var project = await CreateProjectAsync(keel, null, "team");

        (HttpMethod Method, string Path, string? Body, HttpStatusCode Status, string? Param)[] cases =
        [
            (HttpMethod.Post, "/api/projects", """{"name":""}""", HttpStatusCode.BadRequest, "name"),
            (HttpMethod.Post, "/api/projects", """{"name":"team"}""", HttpStatusCode.Conflict, "name"),
            (HttpMethod.Patch, $"/api/projects/{project}", """{"retention_days":0}""", HttpStatusCode.BadRequest, "retention_days"),
            (HttpMethod.Patch, $"/api/projects/{project}", """{"limits":{"tpm":-1}}""", HttpStatusCode.BadRequest, "limits.tpm"),
            (HttpMethod.Patch, "/api/projects/proj_nope", """{"retention_days":3}""", HttpStatusCode.NotFound, null),
            (HttpMethod.Get, "/api/audit?cursor=abc", null, HttpStatusCode.BadRequest, "cursor"),
            (HttpMethod.Get, "/api/audit?limit=0", null, HttpStatusCode.BadRequest, "limit"),
        ];
        foreach (var (method, path, body, status, param) in cases)
        {
            using var response = await SendAsync(keel, method, path, null, body);
            var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;
            Assert.True(response.StatusCode == status, $"{method} {path} {body}: {(int)response.StatusCode}");
            Assert.Equal(param, (string?)error["param"]);
        }
    }
}
