using System.Text;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Providers;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Keel.Tests.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keel.Core.Tests.Pipeline;

public sealed class GatewayPipelineTests
{
    /// <summary>A stage defined only here, to show a new stage plugs in by registration alone.</summary>
    private sealed class BlockWordStage : IGatewayStage
    {
        public string Name => "block-word";

        public int Order => StageOrder.InputGuardrails;

        public ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
        {
            var text = string.Join(" ", context.Chat!.Messages!.Select(m => m.Content?.GetText()));
            if (text.Contains("forbidden", StringComparison.Ordinal))
            {
                context.Fail(GatewayError.InvalidRequest("blocked by test stage", null, "content_policy_violation"));
                return ValueTask.CompletedTask;
            }

            context.CurrentSpan!.Set("checked", true);
            return next(context);
        }
    }

    private sealed class NullStore : IKeelStore, ITraceStore
    {
        public List<TraceRecord> Written { get; } = [];
        public ITraceStore Traces => this;
        public IAccessStore Access => throw new NotSupportedException("This store holds traces only.");
        public IDataLifecycleStore Lifecycle => throw new NotSupportedException("This store deletes nothing.");
        public Keel.Core.Prompts.IPromptStore Prompts => throw new NotSupportedException("This pipeline serves no registry prompts.");
        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(true);
        public Task WriteBatchAsync(IReadOnlyList<TraceRecord> traces, CancellationToken cancellationToken)
        {
            Written.AddRange(traces);
            return Task.CompletedTask;
        }

        public Task<long> CountAsync(CancellationToken cancellationToken) => Task.FromResult((long)Written.Count);
        public Task<TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken) => Task.FromResult<TraceRecord?>(null);
        public Task<IReadOnlyList<TraceRecord>> ListAsync(TraceQuery query, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TraceRecord>>([]);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static ServiceProvider BuildServices(bool withExtraStage)
    {
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton<IKeelStore, NullStore>();
        services.AddTraceRecorder(100);
        services.AddKeelGateway();
        if (withExtraStage)
        {
            services.AddGatewayStage<BlockWordStage>();
        }

        return services.BuildServiceProvider();
    }

    private static GatewayContext NewContext(string userText)
    {
        var snapshot = new GatewaySnapshot(KeelConfig.Default, new ProviderFactory(TimeProvider.System).Create);
        var body = Encoding.UTF8.GetBytes($$"""{"model":"local/echo","messages":[{"role":"user","content":"{{userText}}"}]}""");
        return new GatewayContext(GatewayOperation.Chat, snapshot, body, TraceBuilder.NewTraceId(), new TestTimeProvider());
    }

    [Fact]
    public async Task Constructor_BuiltInStages_RunInDesignOrder()
    {
        await using var services = BuildServices(withExtraStage: false);

        var pipeline = services.GetRequiredService<GatewayPipeline>();

        Assert.Equal(["gateway", "identity", "ingress", "admission", "resolve", "input_guardrails", "output_guardrails", "call"], pipeline.StageNames);
    }

    [Fact]
    public async Task InvokeAsync_StageRegisteredFromOutside_RunsInItsSlotWithItsOwnSpan()
    {
        await using var services = BuildServices(withExtraStage: true);
        var pipeline = services.GetRequiredService<GatewayPipeline>();
        Assert.Equal(["gateway", "identity", "ingress", "admission", "resolve", "input_guardrails", "block-word", "output_guardrails", "call"], pipeline.StageNames);

        var allowed = NewContext("hello");
        await pipeline.InvokeAsync(allowed);
        var blocked = NewContext("something forbidden");
        await pipeline.InvokeAsync(blocked);

        Assert.Null(allowed.Error);
        Assert.IsType<JsonBodyResponse>(allowed.Response);
        var span = Assert.Single(allowed.Trace.Spans, s => s.Name == "block-word");
        Assert.Equal(true, span.Attributes["checked"]);
        Assert.Equal(allowed.Trace.Spans.Single(s => s.Name == "resolve").SpanId, span.ParentSpanId);

        Assert.Equal("content_policy_violation", blocked.Error!.Code);
        Assert.Null(blocked.Response);
        Assert.DoesNotContain(blocked.Trace.Spans, s => s.Name == "call");
        Assert.True(blocked.Trace.Spans.Single(s => s.Name == "block-word").IsError);
    }
}
