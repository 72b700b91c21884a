using System.ClientModel.Primitives;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Keel.Core.Pipeline;
using Keel.Core.Pipeline.Stages;
using Keel.Core.Wire;
using OpenAI.Chat;

namespace Keel.Benchmarks;

/// <summary>
/// The request half of the hot path: what Keel does with a client's chat request (parse with the
/// System.Text.Json source generator, validate, forward the raw bytes or serialize again), against
/// the same request read and written with the official OpenAI .NET SDK's types.
/// </summary>
[MemoryDiagnoser]
public class ChatRequestBenchmarks
{
    private byte[] _bytes = [];
    private ChatCompletionRequest _request = null!;
    private BinaryData _data = null!;
    private ChatCompletionOptions _options = null!;

    [Params("small", "large")]
    public string Size { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        _bytes = Size == "small" ? Payloads.SmallRequest : Payloads.LargeRequest;
        _request = JsonSerializer.Deserialize(_bytes, KeelJsonContext.Default.ChatCompletionRequest)!;
        if (RequestValidator.Validate(_request) is { } error)
        {
            throw new InvalidOperationException($"The {Size} payload is invalid: {error.Message}");
        }

        _data = BinaryData.FromBytes(_bytes);
        _options = ModelReaderWriter.Read<ChatCompletionOptions>(_data)!;
        var roundTrip = ModelReaderWriter.Write(_options).ToMemory().Length;
        Console.WriteLine($"// {Size}: {_bytes.Length} bytes, {_request.Messages!.Count} messages, {_request.Tools?.Count ?? 0} tools; SDK round trip writes {roundTrip} bytes");
    }

    [Benchmark(Baseline = true, Description = "Keel parse (STJ source-gen)")]
    public ChatCompletionRequest? KeelParse() => JsonSerializer.Deserialize(_bytes, KeelJsonContext.Default.ChatCompletionRequest);

    [Benchmark(Description = "Keel validate (RequestValidator)")]
    public GatewayError? KeelValidate() => RequestValidator.Validate(_request);

    [Benchmark(Description = "Keel serialize (STJ source-gen)")]
    public byte[] KeelSerialize() => JsonSerializer.SerializeToUtf8Bytes(_request, KeelJson.Context.ChatCompletionRequest);

    /// <summary>Keel's path when nothing changed the request: parse, validate, forward a copy of the client's bytes.</summary>
    [Benchmark(Description = "Keel ingress + forward raw bytes")]
    public int KeelForwardUnchanged()
    {
        var request = JsonSerializer.Deserialize(_bytes, KeelJsonContext.Default.ChatCompletionRequest)!;
        if (RequestValidator.Validate(request) is not null)
        {
            return -1;
        }

        ReadOnlyMemory<byte> raw = _bytes;
        return raw.ToArray().Length;
    }

    /// <summary>Keel's path when a stage changed the request (or the upstream model name differs): parse, validate, serialize.</summary>
    [Benchmark(Description = "Keel ingress + re-serialize")]
    public int KeelForwardRewritten()
    {
        var request = JsonSerializer.Deserialize(_bytes, KeelJsonContext.Default.ChatCompletionRequest)!;
        return RequestValidator.Validate(request) is not null
            ? -1
            : JsonSerializer.SerializeToUtf8Bytes(request, KeelJson.Context.ChatCompletionRequest).Length;
    }

    [Benchmark(Description = "SDK parse (ModelReaderWriter -> ChatCompletionOptions)")]
    public ChatCompletionOptions SdkParse() => ModelReaderWriter.Read<ChatCompletionOptions>(_data)!;

    [Benchmark(Description = "SDK serialize (ModelReaderWriter.Write)")]
    public BinaryData SdkSerialize() => ModelReaderWriter.Write(_options);

    /// <summary>What a gateway built on the SDK types does with every request: read into the SDK model, write it out again.</summary>
    [Benchmark(Description = "SDK parse + serialize")]
    public int SdkParseAndSerialize() => ModelReaderWriter.Write(ModelReaderWriter.Read<ChatCompletionOptions>(_data)!).ToMemory().Length;
}
