using System.ClientModel;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Keel.Tests.Common;
using OpenAI;
using OpenAI.Chat;

namespace Keel.FunctionalTests;

/// <summary>The official OpenAI SDKs, pointed at Keel's base URL, work unchanged.</summary>
public sealed class ClientCompatibilityTests
{
    private static string Config(FakeProvider fake) => $$"""
        providers:
          up: { kind: openai, base_url: "{{fake.BaseUrl}}", api_key: sk-compat }
        models:
          gpt-test: { provider: up }
        """;

    private static OpenAIClient ClientFor(KeelTestServer keel) =>
        new(new ApiKeyCredential("unused-on-loopback"), new OpenAIClientOptions { Endpoint = new Uri(keel.BaseUrl + "/v1") });

    [Fact]
    public async Task DotNetSdk_ChatStreamingToolsAndEmbeddings_WorkThroughKeel()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var client = ClientFor(keel);
        var chat = client.GetChatClient("gpt-test");

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("hello from dotnet")]);
        Assert.Equal("fake reply to: hello from dotnet", completion.Content[0].Text);
        Assert.True(completion.Usage.TotalTokenCount > 0);

        var streamed = new System.Text.StringBuilder();
        var updates = 0;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("stream me")], new ChatCompletionOptions()))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }

            usage ??= update.Usage;
        }

        Assert.Equal("fake reply to: stream me", streamed.ToString());
        Assert.True(updates > 2);

        fake.ToolCall = ("get_weather", """{"city":"Paris"}""");
        var tool = ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { tool } };
        List<ChatMessage> messages = [new UserChatMessage("weather in Paris?")];
        ChatCompletion toolTurn = await chat.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.ToolCalls, toolTurn.FinishReason);
        var call = Assert.Single(toolTurn.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", (string?)JsonNode.Parse(call.FunctionArguments.ToString())!["city"]);
        messages.Add(new AssistantChatMessage(toolTurn));
        messages.Add(new ToolChatMessage(call.Id, "sunny, 21C"));
        ChatCompletion answer = await chat.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        var sentToolMessage = JsonNode.Parse(fake.Requests.Last().Body)!["messages"]![2]!;
        Assert.Equal("tool", (string?)sentToolMessage["role"]);
        Assert.Equal(call.Id, (string?)sentToolMessage["tool_call_id"]);

        var embeddings = client.GetEmbeddingClient("local/hash-embed");
        var vector = (await embeddings.GenerateEmbeddingAsync("the quick brown fox")).Value.ToFloats().ToArray();
        var again = (await embeddings.GenerateEmbeddingAsync("the quick brown fox")).Value.ToFloats().ToArray();
        Assert.Equal(256, vector.Length);
        Assert.Equal(vector, again);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient("no-such-model").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(404, error.Status);
    }

    [Fact]
    public async Task NodeSdk_ChatStreamingToolsAndEmbeddings_WorkThroughKeel()
    {
        var script = Path.Combine(RepoRoot(), "tests", "clients", "node", "compat.mjs");
        Assert.True(Directory.Exists(Path.Combine(Path.GetDirectoryName(script)!, "node_modules", "openai")),
            "The openai npm package is not installed: run scripts/test.sh (it runs npm ci in tests/clients/node).");
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        fake.ToolCall = ("get_weather", """{"city":"Paris"}""");

        var start = new ProcessStartInfo("node", [script, keel.BaseUrl + "/v1", "gpt-test", "local/hash-embed"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await stderr}\n{await stdout}");
        var results = JsonNode.Parse(await stdout)!;
        Assert.Equal("fake reply to: hello from node", (string?)results["chat"]);
        Assert.Equal("get_weather", (string?)results["tools"]!["name"]);
        Assert.Equal(256, (int)results["embeddings"]!["dimensions"]!);
    }

    internal static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Keel.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Keel.slnx not found above " + AppContext.BaseDirectory);
    }
}
