using System.Text;
using System.Text.Json;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Prompts;
using Keel.Core.Providers;
using Keel.Core.Wire;
using Keel.Tests.Common;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keel.Core.Tests.Prompts;

/// <summary>The registry served from memory (no store) and the prompt stage on a real pipeline context.</summary>
public sealed class PromptRegistryTests
{
    private static PromptVersion Version(int number, string template, string? model = "local/echo") => new()
    {
        Name = "greet",
        Version = number,
        Type = PromptTypes.Text,
        Template = template,
        Model = model,
        CreatedAt = DateTimeOffset.UnixEpoch,
        ContentHash = "",
    };

    private static PromptRegistry Registry(params Experiment[] experiments)
    {
        var registry = new PromptRegistry(null, NullLogger<PromptRegistry>.Instance);
        registry.Replace("default",
            [new PromptState("greet", [Version(1, "Hello {{name}}"), Version(2, "Hi {{name}}"), Version(3, "Hey {{name}}")], new Dictionary<string, int> { ["production"] = 1, ["staging"] = 2 })],
            experiments);
        return registry;
    }

    private static GatewayError? Resolve(PromptRegistry registry, string? label, int? version, out PromptResolution resolved, string project = "default") =>
        registry.TryResolve(project, "greet", label, version, static (string unit) => unit, "user-1", out resolved);

    [Fact]
    public void TryResolve_LabelVersionLatestAndDefault()
    {
        var registry = Registry();

        Assert.Null(Resolve(registry, "staging", null, out var staging));
        Assert.Null(Resolve(registry, null, 3, out var exact));
        Assert.Null(Resolve(registry, "latest", null, out var latest));
        Assert.Null(Resolve(registry, null, null, out var fallback));

        Assert.Equal(2, staging.Prompt.Version.Version);
        Assert.Equal(3, exact.Prompt.Version.Version);
        Assert.Equal(3, latest.Prompt.Version.Version);
        Assert.Equal(1, fallback.Prompt.Version.Version);
        Assert.Equal("production", fallback.Label);
    }

    [Fact]
    public void TryResolve_UnknownNameVersionLabelOrProject_Are404WithTheirParam()
    {
        var registry = Registry();

        Assert.Equal(("prompt_label_not_found", "prompt.label"), Codes(Resolve(registry, "canary", null, out _)));
        Assert.Equal(("prompt_version_not_found", "prompt.version"), Codes(Resolve(registry, null, 4, out _)));
        Assert.Equal(("prompt_not_found", "prompt.name"), Codes(Resolve(registry, null, null, out _, project: "other")));
        Assert.Contains("its labels are: production, staging, latest", Resolve(registry, "canary", null, out _)!.Message);

        static (string?, string?) Codes(GatewayError? error) => (error!.Code, error.Param);
    }

    [Fact]
    public void TryResolve_ExperimentOnTheLabel_AssignsArmsButNotExplicitVersions()
    {
        var experiment = new Experiment
        {
            Id = "exp_1", Name = "x", Prompt = "greet", Label = "production", Status = ExperimentStatus.Running, CreatedAt = DateTimeOffset.UnixEpoch,
            Arms = [new() { Name = "a", Version = 1, Weight = 1 }, new() { Name = "c", Version = 3, Weight = 1 }],
        };
        var registry = Registry(experiment);
        var seen = new HashSet<int>();
        for (var i = 0; i < 50; i++)
        {
            registry.TryResolve("default", "greet", null, null, static (int n) => "user-" + n, i, out var resolved);
            Assert.Equal(resolved.Arm!.Version, resolved.Prompt.Version.Version);
            seen.Add(resolved.Prompt.Version.Version);
        }

        Assert.Equal([1, 3], seen.Order());
        Assert.Null(Resolve(registry, null, 2, out var exact));
        Assert.Null(exact.Experiment);
        Assert.Null(Resolve(registry, "staging", null, out var otherLabel));
        Assert.Null(otherLabel.Experiment);
    }

    [Fact]
    public async Task PromptStage_TextPrompt_BecomesAUserMessageInFrontAndSetsModelAndTraceFields()
    {
        var stage = new PromptStage(Registry());
        var snapshot = new GatewaySnapshot(KeelConfig.Default, new ProviderFactory(TimeProvider.System).Create);
        using var variables = JsonDocument.Parse("""{"name":"Zoë"}""");
        var context = new GatewayContext(GatewayOperation.Chat, snapshot, Encoding.UTF8.GetBytes("{}"), TraceBuilder.NewTraceId(), new TestTimeProvider())
        {
            Chat = new ChatCompletionRequest
            {
                Model = "prompt:greet@staging",
                Messages = [new ChatMessage { Role = "user", Content = new MessageContent("and more") }],
                Prompt = new PromptReference { Variables = variables.RootElement },
            },
        };
        var ran = false;

        await stage.InvokeAsync(context, _ => { ran = true; return ValueTask.CompletedTask; });

        Assert.True(ran);
        Assert.Null(context.Error);
        Assert.Equal(["Hi Zoë", "and more"], context.Chat.Messages!.Select(m => m.Content!.Text));
        Assert.Equal("user", context.Chat.Messages![0].Role);
        Assert.Equal("local/echo", context.RequestedModel);
        Assert.Null(context.Chat.Prompt);
        Assert.True(context.RequestModified);
        Assert.Equal(("greet", 2), (context.PromptName, context.PromptVersion));
    }

    [Theory]
    [InlineData("prompt:greet", "greet", null, null)]
    [InlineData("prompt:greet@production", "greet", "production", null)]
    [InlineData("prompt:greet@latest", "greet", "latest", null)]
    [InlineData("prompt:v1.greet@12", "v1.greet", null, 12)]
    public void TryParseModel_CompactForms(string model, string name, string? label, int? version)
    {
        Assert.True(PromptStage.TryParseModel(model, out var n, out var l, out var v));
        Assert.Equal((name, label, version), (n, l, v));
    }

    [Theory]
    [InlineData("prompt:")]
    [InlineData("prompt:@production")]
    [InlineData("prompt:greet@")]
    [InlineData("prompt:greet@0")]
    [InlineData("prompt:greet@Prod")]
    [InlineData("prompt:a b")]
    public void TryParseModel_Malformed_IsRefused(string model) => Assert.False(PromptStage.TryParseModel(model, out _, out _, out _));
}
