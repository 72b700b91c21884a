using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Keel.Core.Pipeline;

namespace Keel.Benchmarks;

/// <summary>
/// Per-request tracing overhead that is not I/O: every request makes one trace id and one span id per
/// pipeline stage (five on a chat call). Keel draws them from the crypto RNG; System.Diagnostics'
/// W3C id generators are the comparison.
/// </summary>
[MemoryDiagnoser]
public class TracingBenchmarks
{
    private static readonly TimeProvider Time = TimeProvider.System;

    [Benchmark(Baseline = true, Description = "Keel TraceBuilder.NewSpanId (crypto RNG)")]
    public string KeelSpanId() => TraceBuilder.NewSpanId();

    [Benchmark(Description = "Keel TraceBuilder.NewTraceId (crypto RNG)")]
    public string KeelTraceId() => TraceBuilder.NewTraceId();

    [Benchmark(Description = "ActivitySpanId.CreateRandom().ToHexString()")]
    public string ActivitySpanIdHex() => ActivitySpanId.CreateRandom().ToHexString();

    [Benchmark(Description = "ActivityTraceId.CreateRandom().ToHexString()")]
    public string ActivityTraceIdHex() => ActivityTraceId.CreateRandom().ToHexString();

    /// <summary>The spans of one chat request: gateway, identity, ingress, resolve, call.</summary>
    [Benchmark(Description = "Keel: 5 spans of a chat request (StartSpan + End)")]
    public int FiveSpans()
    {
        var trace = new TraceBuilder(Time);
        Span? parent = null;
        foreach (var name in (ReadOnlySpan<string>)["gateway", "identity", "ingress", "resolve", "call"])
        {
            parent = trace.StartSpan(name, parent?.SpanId);
            parent.Set("keel.stage", name);
        }

        foreach (var span in trace.Spans)
        {
            span.End();
        }

        return trace.Spans.Count;
    }
}
