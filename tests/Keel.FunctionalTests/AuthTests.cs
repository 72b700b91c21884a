using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

public sealed class AuthTests
{
    private const string MasterKey = "mk-test-9f8e7d6c5b4a";
    private const string Chat = """{"model":"local/echo","messages":[{"role":"user","content":"hi"}]}""";

    private static Task<KeelTestServer> StartWithKeyAsync() => KeelTestServer.StartAsync($"auth: {{ master_key: {MasterKey} }}\n");

    [Fact]
    public async Task ChatCompletions_NoKeyWhenOneIsConfigured_Returns401AndStoresNothing()
    {
        await using var keel = await StartWithKeyAsync();

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("missing_api_key", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
        using var list = new HttpRequestMessage(HttpMethod.Get, "/api/traces");
        list.Headers.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);
        var traces = JsonNode.Parse(await (await keel.Client.SendAsync(list)).Content.ReadAsStringAsync())!;
        Assert.Empty(traces["data"]!.AsArray());
    }

    [Fact]
    public async Task ChatCompletions_WrongKey_Returns401WithoutEchoingIt()
    {
        await using var keel = await StartWithKeyAsync();

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat, key: "mk-wrong-key-000");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("mk-wrong-key-000", text);
        Assert.Contains("invalid_api_key", text);
    }

    [Fact]
    public async Task ChatCompletions_OverlongKey_Returns401()
    {
        await using var keel = await StartWithKeyAsync();

        using var response = await keel.PostJsonAsync("/v1/chat/completions", Chat, key: new string('k', 5000));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("Authorization", "Bearer " + MasterKey)]
    [InlineData("x-api-key", MasterKey)]
    public async Task ChatCompletions_RightKeyInEitherHeader_IsServed(string header, string value)
    {
        await using var keel = await StartWithKeyAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await keel.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal("master", trace.KeyId);
        Assert.DoesNotContain(MasterKey, trace.RequestBody);
    }

    [Theory]
    [InlineData("/v1/models")]
    [InlineData("/api/traces")]
    [InlineData("/api/routes/health")]
    public async Task ReadEndpoints_WithoutKey_Return401(string path)
    {
        await using var keel = await StartWithKeyAsync();

        using var response = await keel.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Healthz_NeedsNoKey()
    {
        await using var keel = await StartWithKeyAsync();

        using var response = await keel.Client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
