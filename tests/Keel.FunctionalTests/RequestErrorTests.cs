using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

/// <summary>Every bad request gets OpenAI-style error JSON with the right status, never a stack trace.</summary>
public sealed class RequestErrorTests
{
    private static async Task<(HttpStatusCode Status, JsonNode Error, HttpResponseMessage Response)> PostAsync(KeelTestServer keel, string path, string body, string contentType = "application/json")
    {
        var response = await keel.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, contentType));
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", text);
        return (response.StatusCode, JsonNode.Parse(text)!["error"]!, response);
    }

    [Theory]
    [InlineData("{\"model\": \"local/echo\", \"messages\": [", "invalid_json", "messages[0]")]
    [InlineData("", "invalid_json", null)]
    [InlineData("[1,2]", "invalid_json", null)]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "missing_required_parameter", "model")]
    [InlineData("{\"model\":\"local/echo\"}", "missing_required_parameter", "messages")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[]}", "empty_array", "messages")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "invalid_value", "messages[0].role")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"x\"}]}", "missing_required_parameter", "messages[1].tool_call_id")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "missing_required_parameter", "messages[0].content[0].image_url.url")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":3}", "invalid_value", "temperature")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "invalid_json", "temperature")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":true}}", "invalid_value", "stream_options")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"sometimes\"}", "invalid_value", "tool_choice")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"bad name!\"}}]}", "invalid_value", "tools[0].function.name")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"yaml\"}}", "invalid_value", "response_format.type")]
    [InlineData("{\"model\":\"local/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "invalid_type", "stop")]
    public async Task ChatCompletions_InvalidRequest_Returns400NamingTheProblem(string body, string code, string? param)
    {
        await using var keel = await KeelTestServer.StartAsync();

        var (status, error, response) = await PostAsync(keel, "/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Equal(code, (string?)error["code"]);
        Assert.Equal(param, (string?)error["param"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        Assert.Single(response.Headers.GetValues("x-keel-trace-id"));
    }

    [Theory]
    [InlineData("{\"model\":\"local/hash-embed\"}", "input")]
    [InlineData("{\"model\":\"local/hash-embed\",\"input\":[\"a\",1]}", "input")]
    [InlineData("{\"model\":\"local/hash-embed\",\"input\":\"a\",\"encoding_format\":\"hex\"}", "encoding_format")]
    [InlineData("{\"model\":\"local/hash-embed\",\"input\":\"a\",\"dimensions\":0}", "dimensions")]
    [InlineData("{\"model\":\"local/echo\",\"input\":\"a\"}", "model")]
    public async Task Embeddings_InvalidRequest_Returns400NamingTheParameter(string body, string param)
    {
        await using var keel = await KeelTestServer.StartAsync();

        var (status, error, _) = await PostAsync(keel, "/v1/embeddings", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(param, (string?)error["param"]);
    }

    [Fact]
    public async Task ChatCompletions_UnknownModel_Returns404ModelNotFound()
    {
        await using var keel = await KeelTestServer.StartAsync();

        var (status, error, _) = await PostAsync(keel, "/v1/chat/completions", """{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", (string?)error["code"]);
        Assert.Contains("local/echo", (string?)error["message"]);
    }

    [Fact]
    public async Task ChatCompletions_BodyOverTheLimit_Returns413WithoutStoringIt()
    {
        await using var keel = await KeelTestServer.StartAsync("server: { max_request_body_bytes: 2048 }\n");
        var big = new string('x', 4096);

        var (status, error, response) = await PostAsync(keel, "/v1/chat/completions", $$"""{"model":"local/echo","messages":[{"role":"user","content":"{{big}}"}]}""");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("request_too_large", (string?)error["code"]);
        Assert.Contains("2048", (string?)error["message"]);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(413, trace.StatusCode);
        Assert.Null(trace.RequestBody);
    }

    [Fact]
    public async Task ChatCompletions_ChunkedBodyOverTheLimit_Returns413()
    {
        await using var keel = await KeelTestServer.StartAsync("server: { max_request_body_bytes: 2048 }\n");
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(new string(' ', 5000) + "{}")));
        content.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await keel.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task UnknownUrl_Returns404JsonWithTraceId()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var response = await keel.Client.GetAsync("/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("unknown_url", (string?)error["code"]);
        Assert.Single(response.Headers.GetValues("x-keel-trace-id"));
    }

    [Fact]
    public async Task WrongMethod_Returns405Json()
    {
        await using var keel = await KeelTestServer.StartAsync();

        using var response = await keel.Client.GetAsync("/v1/chat/completions");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("method_not_allowed", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]);
    }

    [Fact]
    public async Task Health_HealthzAndReadyz_ReportOk()
    {
        await using var keel = await KeelTestServer.StartAsync();

        var health = JsonNode.Parse(await keel.Client.GetStringAsync("/healthz"))!;
        var ready = JsonNode.Parse(await keel.Client.GetStringAsync("/readyz"))!;

        Assert.Equal("ok", (string?)health["status"]);
        Assert.Equal("ready", (string?)ready["status"]);
        Assert.Equal("ok", (string?)ready["checks"]!["store"]);
    }

    [Fact]
    public async Task Traces_ListAndGet_ReturnRecordedTracesNewestFirstWithPaging()
    {
        await using var keel = await KeelTestServer.StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var r = await keel.PostJsonAsync("/v1/chat/completions", $$"""{"model":"local/echo","messages":[{"role":"user","content":"m{{i}}"}]}""");
            ids.Add(KeelTestServer.TraceIdOf(r));
            await keel.GetTraceAsync(ids[^1]);
            await Task.Delay(5);
        }

        var page = JsonNode.Parse(await keel.Client.GetStringAsync("/api/traces?limit=2"))!;
        var next = JsonNode.Parse(await keel.Client.GetStringAsync($"/api/traces?limit=2&cursor={(string?)page["next_cursor"]}"))!;
        var one = JsonNode.Parse(await keel.Client.GetStringAsync($"/api/traces/{ids[1]}"))!;
        using var missing = await keel.Client.GetAsync("/api/traces/0000");
        using var badCursor = await keel.Client.GetAsync("/api/traces?cursor=abc");

        Assert.Equal([ids[2], ids[1]], page["data"]!.AsArray().Select(t => (string?)t!["trace_id"]));
        Assert.Equal(ids[0], (string?)next["data"]![0]!["trace_id"]);
        Assert.Contains("m1", (string?)one["request_body"]);
        Assert.Equal(6, one["spans"]!.AsArray().Count); // gateway, identity, ingress, resolve, call, attempt
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
    }
}
