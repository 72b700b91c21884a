using Keel.Server;
using System.Net;
using System.Text.Json.Nodes;
using Keel.Tests.Common;
using Microsoft.Extensions.DependencyInjection;
using static Keel.FunctionalTests.AccessControlTests;

namespace Keel.FunctionalTests;

/// <summary>Retention (traces past their project's days are deleted) and erasure of an end user (GDPR).</summary>
public sealed class DataLifecycleTests
{
    private static async Task<string> ChatAsUserAsync(KeelTestServer keel, string? key, string user)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("x-keel-user-id", user);
        if (key is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await keel.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = KeelTestServer.TraceIdOf(response);
        await keel.GetTraceAsync(id);
        return id;
    }

    [Fact]
    public async Task Retention_DeletesTracesPastTheirProjectsDays_KeepsTheRest_AndTheirScores()
    {
        var clock = new TestTimeProvider(DateTimeOffset.UtcNow);
        await using var keel = await KeelTestServer.StartAsync("""
            recording: { retention_days: 7 }
            """, s => s.AddSingleton<TimeProvider>(clock));
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        var longLived = await CreateProjectAsync(keel, admin, "archive");
        using var patch = await SendAsync(keel, HttpMethod.Patch, $"/api/projects/{longLived}", admin, """{"retention_days":30}""");
        Assert.Equal(30, (int)(await KeelTestServer.ReadJsonAsync(patch))["retention_days"]!);
        var (_, archiveKey) = await CreateKeyAsync(keel, admin, $$"""{"name":"a","role":"developer","project":"{{longLived}}"}""");

        var old = await ChatAsUserAsync(keel, admin, "u1");
        using (var score = await SendAsync(keel, HttpMethod.Post, "/api/scores", admin, $$"""{"trace_id":"{{old}}","name":"thumbs","value":true}"""))
        {
            Assert.Equal(HttpStatusCode.Created, score.StatusCode);
        }
        var oldArchived = await ChatAsUserAsync(keel, archiveKey, "u2");
        clock.Advance(TimeSpan.FromDays(8));
        var recent = await ChatAsUserAsync(keel, admin, "u3");

        var deleted = await keel.Services.GetRequiredService<RetentionService>().RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, deleted);
        using var gone = await SendAsync(keel, HttpMethod.Get, $"/api/traces/{old}", admin);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var scores = await SendAsync(keel, HttpMethod.Get, $"/api/scores?trace_id={old}", admin);
        Assert.Empty((await KeelTestServer.ReadJsonAsync(scores))["data"]!.AsArray());
        foreach (var kept in new[] { oldArchived, recent })
        {
            using var response = await SendAsync(keel, HttpMethod.Get, $"/api/traces/{kept}", admin);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Erasure_DeletesEveryTraceOfTheUser_InTheCallersProjectOnly_AndIsAudited()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        var a = await CreateProjectAsync(keel, admin, "team-a");
        var b = await CreateProjectAsync(keel, admin, "team-b");
        var (_, aAdmin) = await CreateKeyAsync(keel, admin, $$"""{"name":"a","role":"project_admin","project":"{{a}}"}""");
        var (_, bAdmin) = await CreateKeyAsync(keel, admin, $$"""{"name":"b","role":"project_admin","project":"{{b}}"}""");

        var aTraces = new[] { await ChatAsUserAsync(keel, aAdmin, "alice@example.com"), await ChatAsUserAsync(keel, aAdmin, "alice@example.com") };
        var bTrace = await ChatAsUserAsync(keel, bAdmin, "alice@example.com");
        var other = await ChatAsUserAsync(keel, aAdmin, "bob");

        using var erased = await SendAsync(keel, HttpMethod.Post, "/api/erasure", aAdmin, """{"user_id":"alice@example.com"}""");
        var result = await KeelTestServer.ReadJsonAsync(erased);

        Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
        Assert.Equal(2, (int)result["traces_deleted"]!);
        Assert.StartsWith("sha256:", (string?)result["user"], StringComparison.Ordinal);
        foreach (var id in aTraces)
        {
            using var gone = await SendAsync(keel, HttpMethod.Get, $"/api/traces/{id}", admin);
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
        foreach (var id in new[] { bTrace, other })
        {
            using var kept = await SendAsync(keel, HttpMethod.Get, $"/api/traces/{id}", admin);
            Assert.Equal(HttpStatusCode.OK, kept.StatusCode); // another project's, and another user's, are untouched
        }

        using var audit = await SendAsync(keel, HttpMethod.Get, "/api/audit?action=user.erase", admin);
        var auditText = await audit.Content.ReadAsStringAsync();
        var entry = (await KeelTestServer.ReadJsonAsync(audit))["data"]![0]!;
        Assert.Equal(a, (string?)entry["project"]);
        Assert.Contains("\"traces_deleted\":2", (string?)entry["after"], StringComparison.Ordinal);
        Assert.DoesNotContain("alice@example.com", auditText, StringComparison.Ordinal);

        using var otherProject = await SendAsync(keel, HttpMethod.Post, "/api/erasure", aAdmin, $$"""{"user_id":"alice@example.com","project":"{{b}}"}""");
        Assert.Equal(HttpStatusCode.NotFound, otherProject.StatusCode);
        using var missing = await SendAsync(keel, HttpMethod.Post, "/api/erasure", aAdmin, "{}");
        Assert.Equal("user_id", (string?)(await KeelTestServer.ReadJsonAsync(missing))["error"]!["param"]);
    }
}
