using System.ClientModel.Primitives;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Keel.Core.Providers;
using Keel.Core.Wire;
using OpenAI.Chat;

namespace Keel.Benchmarks;

/// <summary>
/// The response half: Keel forwards the upstream's bytes and only scans them for "usage"
/// (<see cref="UsageReader"/>); a gateway on the SDK types reads the whole chat.completion into
/// the SDK's model and writes it out again for its client.
/// </summary>
[MemoryDiagnoser]
public class ChatResponseBenchmarks
{
    private byte[] _bytes = [];
    private BinaryData _data = null!;

    [Params("small", "large")]
    public string Size { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        _bytes = Size == "small" ? Payloads.SmallResponse : Payloads.LargeResponse;
        _data = BinaryData.FromBytes(_bytes);
        if (!UsageReader.TryRead(_bytes, out var usage) || usage is null)
        {
            throw new InvalidOperationException("The payload has no usage.");
        }

        var completion = ModelReaderWriter.Read<ChatCompletion>(_data)!;
        Console.WriteLine($"// {Size}: {_bytes.Length} bytes, usage {usage.TotalTokens} (SDK reads {completion.Usage.TotalTokenCount})");
    }

    [Benchmark(Baseline = true, Description = "Keel UsageReader.TryRead (forward bytes)")]
    public Usage? KeelUsageReader() => UsageReader.TryRead(_bytes, out var usage) ? usage : null;

    [Benchmark(Description = "Keel typed parse (STJ source-gen)")]
    public ChatCompletionResponse? KeelParse() => JsonSerializer.Deserialize(_bytes, KeelJsonContext.Default.ChatCompletionResponse);

    [Benchmark(Description = "SDK parse (ModelReaderWriter -> ChatCompletion)")]
    public ChatCompletion SdkParse() => ModelReaderWriter.Read<ChatCompletion>(_data)!;

    [Benchmark(Description = "SDK parse + serialize")]
    public int SdkParseAndSerialize() => ModelReaderWriter.Write(ModelReaderWriter.Read<ChatCompletion>(_data)!).ToMemory().Length;
}
