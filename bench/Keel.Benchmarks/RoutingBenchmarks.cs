using System.Text;
using BenchmarkDotNet.Attributes;
using Keel.Core;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Providers;
using Keel.Core.Recording;
using Keel.Core.Routing;
using Keel.Core.Storage;
using Keel.Core.Wire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keel.Benchmarks;

/// <summary>
/// The whole in-process pipeline (identity, ingress, resolve, route and call, record) against an
/// instant in-memory provider: a single-deployment alias versus three deployments with a breaker,
/// least-busy balancing and a retry policy. The difference is what routing costs per request.
/// </summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private const string Yaml = """
        providers:
          p1: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
          p2: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
          p3: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
        models:
          one: { provider: p1, model: m }
          three:
            strategy: least-busy
            retries: 2
            breaker: { failure_ratio: 0.5, min_requests: 10, window: 30s, cooldown: 15s }
            deployments:
              - { provider: p1, model: m }
              - { provider: p2, model: m }
              - { provider: p3, model: m }
        """;

    private ServiceProvider _services = null!;
    private GatewayPipeline _pipeline = null!;
    private GatewaySnapshot _snapshot = null!;
    private TraceRecorder _recorder = null!;
    private byte[] _one = [];
    private byte[] _three = [];

    [GlobalSetup]
    public void Setup()
    {
        var config = ConfigLoader.Parse(Yaml, "bench.yaml", _ => null).Config!;
        var provider = new InstantProvider();
        _snapshot = new GatewaySnapshot(config, _ => provider, new RouteStateRegistry(TimeProvider.System));
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton<IKeelStore, DiscardStore>();
        services.AddTraceRecorder(100_000);
        services.AddKeelGateway();
        _services = services.BuildServiceProvider();
        _pipeline = _services.GetRequiredService<GatewayPipeline>();
        _recorder = _services.GetRequiredService<TraceRecorder>();
        _recorder.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _one = Encoding.UTF8.GetBytes("""{"model":"one","messages":[{"role":"user","content":"Say hello in five words."}],"temperature":0.2}""");
        _three = Encoding.UTF8.GetBytes("""{"model":"three","messages":[{"role":"user","content":"Say hello in five words."}],"temperature":0.2}""");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _recorder.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _services.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "pipeline, 1 deployment")]
    public Task<GatewayResponse?> SingleDeployment() => RunAsync(_one);

    [Benchmark(Description = "pipeline, 3 deployments + breaker + retries")]
    public Task<GatewayResponse?> ThreeDeployments() => RunAsync(_three);

    private async Task<GatewayResponse?> RunAsync(byte[] body)
    {
        var context = new GatewayContext(GatewayOperation.Chat, _snapshot, body, TraceBuilder.NewTraceId(), TimeProvider.System);
        await _pipeline.InvokeAsync(context);
        return context.Error is null ? context.Response : throw new InvalidOperationException(context.Error.Message);
    }

    private sealed class InstantProvider : IModelProvider
    {
        private static readonly byte[] Body = Encoding.UTF8.GetBytes(
            """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, nice to meet."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}""");

        private static readonly Usage Usage = new() { PromptTokens = 12, CompletionTokens = 6, TotalTokens = 18 };

        public string Name => "instant";

        public ValueTask<ProviderResult> ChatAsync(ChatCall call, CancellationToken cancellationToken) =>
            ValueTask.FromResult(ProviderResult.Ok(new JsonBodyResponse { Body = Body, Usage = Usage }));

        public ValueTask<ProviderResult> EmbedAsync(EmbedCall call, CancellationToken cancellationToken) =>
            throw new NotSupportedException("chat only");
    }

    private sealed class DiscardStore : IKeelStore, ITraceStore
    {
        public ITraceStore Traces => this;
        public IAccessStore Access => throw new NotSupportedException("This store holds traces only.");
        public IDataLifecycleStore Lifecycle => throw new NotSupportedException("This store deletes nothing.");
        public Keel.Core.Prompts.IPromptStore Prompts => throw new NotSupportedException("This pipeline serves no registry prompts.");
        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(true);
        public Task WriteBatchAsync(IReadOnlyList<TraceRecord> traces, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<long> CountAsync(CancellationToken cancellationToken) => Task.FromResult(0L);
        public Task<TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken) => Task.FromResult<TraceRecord?>(null);
        public Task<IReadOnlyList<TraceRecord>> ListAsync(TraceQuery query, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TraceRecord>>([]);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
