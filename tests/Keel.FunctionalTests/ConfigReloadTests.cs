using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Tests.Common;

namespace Keel.FunctionalTests;

public sealed class ConfigReloadTests
{
    private static async Task<List<string?>> ModelsAsync(KeelTestServer keel) =>
        [.. JsonNode.Parse(await keel.Client.GetStringAsync("/v1/models"))!["data"]!.AsArray().Select(m => (string?)m!["id"])];

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException("condition not met within 5 s");
    }

    [Fact]
    public async Task FileChange_ValidConfig_IsServedByTheNextRequest()
    {
        await using var keel = await KeelTestServer.StartAsync("models:\n  a: { provider: local, model: echo }\n", watch: true);
        Assert.Contains("a", await ModelsAsync(keel));

        await File.WriteAllTextAsync(keel.ConfigPath!, "models:\n  b: { provider: local, model: echo }\n");

        await WaitForAsync(async () => (await ModelsAsync(keel)).Contains("b"));
        Assert.DoesNotContain("a", await ModelsAsync(keel));
        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"b","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task FileChange_InvalidConfig_KeepsTheLastGoodOne()
    {
        await using var keel = await KeelTestServer.StartAsync("models:\n  a: { provider: local, model: echo }\n", watch: true);

        await File.WriteAllTextAsync(keel.ConfigPath!, "models:\n  a: { provider: nowhere }\n");
        await Task.Delay(800);
        await File.WriteAllTextAsync(keel.ConfigPath!, "models:\n  c: { provider: local, model: echo }\n  a: { provider: local, model: echo }\n");
        await WaitForAsync(async () => (await ModelsAsync(keel)).Contains("c"));

        Assert.Contains("a", await ModelsAsync(keel));
    }

    [Fact]
    public async Task FileChange_DuringAStream_DoesNotBreakTheInFlightRequest()
    {
        await using var fake = await FakeProvider.StartAsync();
        var yaml = $$"""
            providers:
              up: { kind: openai, base_url: "{{fake.BaseUrl}}" }
            models:
              gpt-test: { provider: up }
            """;
        await using var keel = await KeelTestServer.StartAsync(yaml, watch: true);
        fake.Enqueue(new Fault { ChunkDelay = TimeSpan.FromMilliseconds(120) });
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"one two three four"}]}""", Encoding.UTF8, "application/json"),
        };
        using var response = await keel.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        // The reload removes the model the stream is using.
        await File.WriteAllTextAsync(keel.ConfigPath!, "models:\n  other: { provider: local, model: echo }\n");
        var body = await response.Content.ReadAsStringAsync();

        Assert.EndsWith("data: [DONE]\n\n", body);
        await WaitForAsync(async () => (await ModelsAsync(keel)).Contains("other"));
    }
}
