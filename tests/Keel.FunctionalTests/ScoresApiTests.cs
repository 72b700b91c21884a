using System.Net;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

/// <summary>POST /api/scores and GET /api/scores: feedback and evaluations on traces.</summary>
public sealed class ScoresApiTests
{
    private static async Task<string> ChatAsync(KeelTestServer keel)
    {
        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"local/echo","messages":[{"role":"user","content":"hello"}]}""");
        return KeelTestServer.TraceIdOf(response);
    }

    [Fact]
    public async Task Post_ThumbsUpRightAfterTheAnswer_Is201AndShowsOnTheTrace()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var traceId = await ChatAsync(keel);

        // Sent at once: the trace may not be written yet, the API waits for the recorder.
        using var created = await keel.PostJsonAsync("/api/scores", $$"""{"trace_id":"{{traceId}}","name":"thumbs","value":true,"source":"end_user","comment":"spot on"}""");
        var score = await KeelTestServer.ReadJsonAsync(created);
        using var numeric = await keel.PostJsonAsync("/api/scores", $$"""{"trace_id":"{{traceId}}","name":"relevance","value":0.75,"source":"evaluator"}""");
        using var category = await keel.PostJsonAsync("/api/scores", $$"""{"trace_id":"{{traceId}}","name":"verdict","value":"correct","source":"human_review"}""");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Created, numeric.StatusCode);
        Assert.Equal(HttpStatusCode.Created, category.StatusCode);
        Assert.StartsWith("score_", (string?)score["score_id"], StringComparison.Ordinal);
        Assert.Equal("boolean", (string?)score["data_type"]);
        Assert.Equal(1.0, (double?)score["value"]);
        Assert.Equal("true", (string?)score["string_value"]);
        Assert.Equal("spot on", (string?)score["comment"]);
        Assert.Equal("end_user", (string?)score["source"]);
        var trace = JsonNode.Parse(await keel.Client.GetStringAsync($"/api/traces/{traceId}"))!;
        var scores = trace["scores"]!.AsArray();
        Assert.Equal(["verdict", "relevance", "thumbs"], scores.Select(s => (string?)s!["name"]));
        Assert.Equal("categorical", (string?)scores[0]!["data_type"]);
        Assert.Equal("correct", (string?)scores[0]!["string_value"]);
        Assert.Equal(0.75, (double?)scores[1]!["value"]);
        var listed = JsonNode.Parse(await keel.Client.GetStringAsync($"/api/scores?trace_id={traceId}&name=thumbs"))!;
        Assert.Equal((string?)score["score_id"], (string?)listed["data"]!.AsArray().Single()!["score_id"]);
    }

    [Fact]
    public async Task Post_Score_TakesTheTracesProject()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Keel.Core.Storage.IKeelStore>(keel.Services);
        await store.Traces.WriteBatchAsync([TraceQueryFixture.Trace("p9", TimeSpan.Zero, "m", "p", 200, 1, 0) with { ProjectId = "project-9" }], CancellationToken.None);

        using var response = await keel.PostJsonAsync("/api/scores", """{"trace_id":"p9","name":"accuracy","value":3}""");

        Assert.Equal("project-9", (string?)(await KeelTestServer.ReadJsonAsync(response))["project_id"]);
    }

    [Fact]
    public async Task Post_UnknownTrace_Is404()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var response = await keel.PostJsonAsync("/api/scores", """{"trace_id":"0123456789abcdef0123456789abcdef","name":"thumbs","value":false}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
    }

    [Theory]
    [InlineData("""{"name":"thumbs","value":true}""", "trace_id")]
    [InlineData("""{"trace_id":"TRACE","value":true}""", "name")]
    [InlineData("""{"trace_id":"TRACE","name":"thumbs"}""", "value")]
    [InlineData("""{"trace_id":"TRACE","name":"thumbs","value":{"up":true}}""", "value")]
    [InlineData("""{"trace_id":"TRACE","name":"stars","value":"five","data_type":"numeric"}""", "value")]
    [InlineData("""{"trace_id":"TRACE","name":"thumbs","value":true,"source":"customer"}""", "source")]
    [InlineData("""{"trace_id":"TRACE","name":"thumbs","value":true,"data_type":"bool"}""", "data_type")]
    [InlineData("""{"trace_id":"TRACE","name":"thumbs","value":true,"comment":["x"]}""", "comment")]
    [InlineData("""{"trace_id":"TRACE","name":"thumbs","value":true,"score":1}""", "score")]
    [InlineData("""not json""", "body")]
    public async Task Post_BadInput_Is400NamingTheField(string body, string param)
    {
        await using var keel = await KeelTestServer.StartAsync();
        var traceId = await ChatAsync(keel);

        using var response = await keel.PostJsonAsync("/api/scores", body.Replace("TRACE", traceId, StringComparison.Ordinal));
        var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
    }

    [Fact]
    public async Task Post_BodyOver64KB_Is413()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var response = await keel.PostJsonAsync("/api/scores", $$"""{"trace_id":"t","name":"n","value":1,"comment":"{{new string('x', 70_000)}}"}""");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Scores_WithAMasterKey_NeedTheKey()
    {
        await using var keel = await KeelTestServer.StartAsync("auth:\n  master_key: sk-keel-master-1234\n");

        using var post = await keel.PostJsonAsync("/api/scores", """{"trace_id":"t","name":"n","value":1}""");
        using var list = await keel.Client.GetAsync("/api/scores?trace_id=t");

        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
    }
}
