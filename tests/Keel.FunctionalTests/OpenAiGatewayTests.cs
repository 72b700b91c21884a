using System.Net;
using System.Text.Json.Nodes;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

/// <summary>Keel in front of an OpenAI-compatible upstream (the fake, on loopback).</summary>
public sealed class OpenAiGatewayTests
{
    private const string UpstreamKey = "sk-upstream-secret-0123456789";

    private static string Config(FakeProvider fake, string extraModels = "", string providerExtra = "") => $$"""
        providers:
          up: { kind: openai, base_url: "{{fake.BaseUrl}}", api_key: "{{UpstreamKey}}", headers: { x-team: keel-tests }{{providerExtra}} }
        models:
          gpt-test: { provider: up }
          renamed: { provider: up, model: upstream-name }
        {{extraModels}}
        """;

    [Fact]
    public async Task ChatCompletions_SameModelName_ForwardsClientBytesUntouchedWithAuthAndHeaders()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var body = """{"model":"gpt-test","messages":[{"role":"user","content":"hi","x_vendor":{"k":1}}],"temperature":0.5,"vendor_flag":true}""";

        using var response = await keel.PostJsonAsync("/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(fake.Requests);
        Assert.Equal(body, received.Body);
        Assert.Equal("Bearer " + UpstreamKey, received.Headers["Authorization"]);
        Assert.Equal("keel-tests", received.Headers["x-team"]);
        var json = await KeelTestServer.ReadJsonAsync(response);
        Assert.Equal("fake reply to: hi", (string?)json["choices"]![0]!["message"]!["content"]);
        Assert.Equal("kept", (string?)json["fake_extra_field"]);
    }

    [Fact]
    public async Task ChatCompletions_AliasWithUpstreamName_RewritesModelAndKeepsUnknownFields()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/v1/chat/completions",
            """{"model":"renamed","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}],"x_vendor":7}],"vendor_flag":{"a":[1,2]},"seed":42,"metadata":{"team":"a"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(fake.Requests).Json!;
        Assert.Equal("upstream-name", (string?)sent["model"]);
        Assert.Equal("""{"a":[1,2]}""", sent["vendor_flag"]!.ToJsonString());
        Assert.Equal(7, (int)sent["messages"]![0]!["x_vendor"]!);
        Assert.Equal("low", (string?)sent["messages"]![0]!["content"]![1]!["image_url"]!["detail"]);
        Assert.Equal(42, (long)sent["seed"]!);
    }

    [Fact]
    public async Task ChatCompletions_DirectProviderSlashModel_RoutesWithoutAnAlias()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"up/some-new-model","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("some-new-model", (string?)Assert.Single(fake.Requests).Json!["model"]);
    }

    [Fact]
    public async Task ChatCompletions_AzureProvider_AddressesDeploymentWithApiVersionAndApiKeyHeader()
    {
        await using var fake = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              az: { kind: azure, base_url: "{{fake.BaseUrl}}", api_key: az-key-1234, api_version: 2024-10-21 }
            models:
              chat: { provider: az, model: my-deployment }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"chat","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(fake.Requests);
        Assert.Equal("/v1/deployments/my-deployment/chat/completions", received.Path);
        Assert.Equal("?api-version=2024-10-21", received.Query);
        Assert.Equal("az-key-1234", received.Headers["api-key"]);
        Assert.False(received.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task ChatCompletions_UpstreamError_PassesStatusAndMessageWithSecretRedacted()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault
        {
            Status = 401,
            Body = "{\"error\":{\"message\":\"Incorrect API key provided: " + UpstreamKey + ".\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
        });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(UpstreamKey, text);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("Incorrect API key provided: [REDACTED].", (string?)error["message"]);
        Assert.Equal("invalid_api_key", (string?)error["code"]);

        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal(401, trace.StatusCode);
        Assert.DoesNotContain(UpstreamKey, trace.ErrorMessage);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task ChatCompletions_UpstreamFailureStatus_IsPassedOnAsOpenAiError(int status)
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { Status = status });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(status, (int)response.StatusCode);
        var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;
        Assert.Equal($"fake upstream failure {status}", (string?)error["message"]);
        Assert.Equal($"fake_{status}", (string?)error["code"]);
    }

    [Fact]
    public async Task ChatCompletions_UpstreamUnreachable_Returns502()
    {
        var yaml = """
            providers:
              dead: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
            models:
              m: { provider: dead }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml);

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"m","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_unreachable", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
    }

    [Fact]
    public async Task ChatCompletions_UpstreamSlowerThanTimeout_Returns504AndCancelsUpstream()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake, providerExtra: ", timeout: 300ms"));
        fake.Enqueue(new Fault { Delay = TimeSpan.FromSeconds(10) });

        var started = DateTime.UtcNow;
        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        Assert.Equal("upstream_timeout", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
    }

    [Fact]
    public async Task ChatCompletions_UpstreamSendsMalformedJson_Returns502()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.Enqueue(new Fault { MalformedJson = true });

        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_invalid_response", (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
    }

    [Fact]
    public async Task Embeddings_OpenAiUpstream_ForwardsAndRecordsUsage()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake, extraModels: "  emb: { provider: up, model: text-embedding-3-small }"));

        using var response = await keel.PostJsonAsync("/v1/embeddings", """{"model":"emb","input":["a","b"]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text-embedding-3-small", (string?)Assert.Single(fake.Requests).Json!["model"]);
        Assert.Equal(2, (await KeelTestServer.ReadJsonAsync(response))["data"]!.AsArray().Count);
        var trace = await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response));
        Assert.Equal("embeddings", trace.Operation);
        Assert.Equal(6, trace.InputTokens);
    }

    [Fact]
    public async Task Models_ListsConfiguredAliasesAndBuiltIns()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        var json = JsonNode.Parse(await keel.Client.GetStringAsync("/v1/models"))!;

        var ids = json["data"]!.AsArray().Select(m => (string?)m!["id"]).ToList();
        Assert.Equal(["gpt-test", "local/echo", "local/extractive", "local/hash-embed", "renamed"], ids);
        Assert.Equal("up", (string?)json["data"]![0]!["owned_by"]);
    }
}
