using System.Text.Json.Serialization;

namespace Keel.Core.Wire;

/// <summary>Source-generated serializers for every wire DTO: no reflection on the hot path.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(List<ContentPart>))]
[JsonSerializable(typeof(EmbeddingRequest))]
[JsonSerializable(typeof(EmbeddingResponse))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(Usage))]
public sealed partial class KeelJsonContext : JsonSerializerContext;

/// <summary>JSON that Keel writes: relaxed escaping, so quotes and non-ASCII text stay readable and compact.</summary>
public static class KeelJson
{
    public static KeelJsonContext Context { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
