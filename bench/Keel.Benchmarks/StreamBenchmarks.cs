using System.ClientModel.Primitives;
using System.Net.ServerSentEvents;
using BenchmarkDotNet.Attributes;
using Keel.Core.Providers;
using Keel.Core.Recording;
using OpenAI.Chat;

namespace Keel.Benchmarks;

/// <summary>
/// A 50-chunk stream: Keel's incremental SSE parser, the per-chunk JSON check the OpenAI provider
/// does, and the accumulator the trace recorder runs; against parsing each chunk into the SDK's
/// StreamingChatCompletionUpdate (and writing it out again to relay it).
/// </summary>
[MemoryDiagnoser]
public class StreamBenchmarks
{
    private readonly byte[] _stream = Payloads.Stream50;

    [GlobalSetup]
    public void Setup() => Console.WriteLine($"// stream: {_stream.Length} bytes");

    [Benchmark(Baseline = true, Description = "Keel ServerSentEvents.ReadAsync")]
    public async Task<int> KeelParse()
    {
        var count = 0;
        await foreach (var sse in ServerSentEvents.ReadAsync(new MemoryStream(_stream, writable: false), CancellationToken.None))
        {
            count += sse.Data.Length;
        }

        return count;
    }

    /// <summary>What OpenAiProvider.ReadChunksAsync does per chunk: [DONE] check and a well-formed-JSON check.</summary>
    [Benchmark(Description = "Keel SSE + JSON check (provider relay)")]
    public async Task<int> KeelRelay()
    {
        var count = 0;
        await foreach (var sse in ServerSentEvents.ReadAsync(new MemoryStream(_stream, writable: false), CancellationToken.None))
        {
            if (sse.Data.Span.SequenceEqual("[DONE]"u8))
            {
                break;
            }

            if (ServerSentEvents.IsWellFormedJson(sse.Data.Span))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The relay plus the trace recorder's StreamAccumulator (rebuilds the completion for the trace).</summary>
    [Benchmark(Description = "Keel relay + StreamAccumulator (tracing)")]
    public async Task<int> KeelRelayAndAccumulate()
    {
        var accumulator = new StreamAccumulator();
        await foreach (var sse in ServerSentEvents.ReadAsync(new MemoryStream(_stream, writable: false), CancellationToken.None))
        {
            if (sse.Data.Span.SequenceEqual("[DONE]"u8))
            {
                break;
            }

            if (ServerSentEvents.IsWellFormedJson(sse.Data.Span))
            {
                accumulator.Add(sse.Data.Span);
            }
        }

        return accumulator.Chunks;
    }

    [Benchmark(Description = "SDK-style: SseParser + StreamingChatCompletionUpdate")]
    public async Task<int> SdkParse()
    {
        var count = 0;
        var parser = SseParser.Create(new MemoryStream(_stream, writable: false), static (_, data) => data.ToArray());
        await foreach (var item in parser.EnumerateAsync())
        {
            if (item.Data.AsSpan().SequenceEqual("[DONE]"u8))
            {
                break;
            }

            var update = ModelReaderWriter.Read<StreamingChatCompletionUpdate>(BinaryData.FromBytes(item.Data))!;
            count += update.ContentUpdate.Count;
        }

        return count;
    }

    [Benchmark(Description = "SDK-style: parse + re-serialize each update")]
    public async Task<int> SdkParseAndSerialize()
    {
        var bytes = 0;
        var parser = SseParser.Create(new MemoryStream(_stream, writable: false), static (_, data) => data.ToArray());
        await foreach (var item in parser.EnumerateAsync())
        {
            if (item.Data.AsSpan().SequenceEqual("[DONE]"u8))
            {
                break;
            }

            var update = ModelReaderWriter.Read<StreamingChatCompletionUpdate>(BinaryData.FromBytes(item.Data))!;
            bytes += ModelReaderWriter.Write(update).ToMemory().Length;
        }

        return bytes;
    }
}
