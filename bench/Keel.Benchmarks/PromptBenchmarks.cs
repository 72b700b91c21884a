using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Prompts;
using Keel.Core.Providers;
using Keel.Core.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keel.Benchmarks;

/// <summary>
/// The prompt registry on the request path (issue 7's target: resolve and render a 2 KB template in
/// at most 10 µs): a chat prompt whose system message is a 2 KB template with 8 variables, a list
/// section of 5 items and a conditional, served from memory. The variables are already parsed (the
/// ingress stage parses the body before the prompt stage runs).
/// </summary>
[MemoryDiagnoser]
public class PromptBenchmarks
{
    private const string Project = "default";

    private PromptRegistry _registry = null!;
    private GatewaySnapshot _snapshot = null!;
    private JsonElement _variables;
    private PromptStage _stage = null!;
    private readonly string _unit = "user-42";

    /// <summary>The template's length in characters (printed by the setup for the docs).</summary>
    public static int TemplateLength { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var system = new StringBuilder();
        system.Append("You are the support assistant of {{company}}, answering in {{language}} for {{customer.name}} ({{customer.tier}} tier).\n");
        while (system.Length < 1800)
        {
            system.Append("Keep answers short, factual and polite; never invent order data, refunds or delivery dates. If unsure, say so and offer a human agent. ");
        }

        system.Append("\nRecent orders:\n{{#orders}}\n- {{id}} placed {{date}}: {{status}} ({{total}} {{currency}})\n{{/orders}}\n");
        system.Append("{{#vip}}This customer is a VIP: offer priority handling.\n{{/vip}}{{^vip}}Standard handling applies.\n{{/vip}}");
        system.Append("Policy version {{policy_version}}. Today is {{today}}.");
        TemplateLength = system.Length;

        var version = new PromptVersion
        {
            Name = "support",
            Version = 1,
            Type = PromptTypes.Chat,
            Messages = [new() { Role = "system", Content = system.ToString() }, new() { Role = "user", Content = "{{question}}" }],
            Model = "local/echo",
            Params = JsonDocument.Parse("""{"temperature":0.2,"max_tokens":400}""").RootElement.Clone(),
            CreatedAt = DateTimeOffset.UnixEpoch,
            ContentHash = "",
        };
        _registry = new PromptRegistry(null, NullLogger<PromptRegistry>.Instance);
        _registry.Replace(Project, [new PromptState("support", [version, version with { Version = 2 }], new Dictionary<string, int> { ["production"] = 1 })],
        [
            new Experiment
            {
                Id = "exp_bench", Name = "bench", Prompt = "support", Label = "staging", Status = ExperimentStatus.Running, CreatedAt = DateTimeOffset.UnixEpoch,
                Arms = [new() { Name = "a", Version = 1, Weight = 50 }, new() { Name = "b", Version = 2, Weight = 50 }],
            },
        ]);
        _variables = JsonDocument.Parse("""
            {"company":"Acme","language":"English","customer":{"name":"Ana Souza","tier":"gold"},"vip":true,"policy_version":"2024-11","today":"2024-11-23",
             "question":"Where is my last order?",
             "orders":[{"id":"A1","date":"2024-11-01","status":"shipped","total":12.5,"currency":"EUR"},{"id":"A2","date":"2024-11-03","status":"delivered","total":40,"currency":"EUR"},
                       {"id":"A3","date":"2024-11-09","status":"packed","total":7.99,"currency":"EUR"},{"id":"A4","date":"2024-11-15","status":"cancelled","total":3,"currency":"EUR"},
                       {"id":"A5","date":"2024-11-20","status":"ordered","total":99,"currency":"EUR"}]}
            """).RootElement.Clone();
        _snapshot = new GatewaySnapshot(KeelConfig.Default, new ProviderFactory(TimeProvider.System).Create);
        _stage = new PromptStage(_registry);
    }

    /// <summary>Registry lookup by label, render both messages, apply the params to a request.</summary>
    [Benchmark(Baseline = true, Description = "resolve (label) + render 2 KB + apply params")]
    public int ResolveAndRender() => Render("production");

    /// <summary>The same through an A/B experiment on the label (hash of the user, arm pick).</summary>
    [Benchmark(Description = "resolve (experiment arm) + render 2 KB + apply params")]
    public int ResolveExperimentAndRender() => Render("staging");

    /// <summary>The whole prompt stage on a parsed request: reference, resolve, render, merge, span attributes.</summary>
    [Benchmark(Description = "prompt stage on a parsed request (incl. context)")]
    public async Task<int> Stage()
    {
        var context = new GatewayContext(GatewayOperation.Chat, _snapshot, ReadOnlyMemory<byte>.Empty, "0123456789abcdef0123456789abcdef", TimeProvider.System)
        {
            Chat = new ChatCompletionRequest { Model = "prompt:support@production", Prompt = new PromptReference { Variables = _variables } },
        };
        await _stage.InvokeAsync(context, static _ => ValueTask.CompletedTask);
        return context.Chat.Messages!.Count;
    }

    private int Render(string label)
    {
        _registry.TryResolve(Project, "support", label, null, static (string unit) => unit, _unit, out var resolved);
        resolved.Prompt.TryRender(_variables, out var messages, out _, out _);
        var request = new ChatCompletionRequest { Messages = messages };
        resolved.Prompt.ApplyDefaults(request);
        return messages[0].Content!.Text!.Length;
    }
}
