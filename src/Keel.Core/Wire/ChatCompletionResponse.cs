using System.Text.Json;
using System.Text.Json.Serialization;

namespace Keel.Core.Wire;

public sealed class ChatCompletionResponse
{
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("object")] public string Object { get; set; } = "chat.completion";
    [JsonPropertyName("created")] public long Created { get; set; }
    [JsonPropertyName("model")] public string Model { get; set; } = "";
    [JsonPropertyName("choices")] public List<ChatChoice> Choices { get; set; } = [];
    [JsonPropertyName("usage")] public Usage? Usage { get; set; }
    [JsonPropertyName("system_fingerprint")] public string? SystemFingerprint { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ChatChoice
{
    [JsonPropertyName("index")] public int Index { get; set; }
    [JsonPropertyName("message")] public ChatMessage Message { get; set; } = new();
    [JsonPropertyName("finish_reason")] public string? FinishReason { get; set; }
    [JsonPropertyName("logprobs")] public JsonElement? Logprobs { get; set; }
}

public sealed class Usage
{
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; set; }
    [JsonPropertyName("completion_tokens")] public int CompletionTokens { get; set; }
    [JsonPropertyName("total_tokens")] public int TotalTokens { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ChatCompletionChunk
{
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("object")] public string Object { get; set; } = "chat.completion.chunk";
    [JsonPropertyName("created")] public long Created { get; set; }
    [JsonPropertyName("model")] public string Model { get; set; } = "";
    [JsonPropertyName("choices")] public List<ChunkChoice> Choices { get; set; } = [];
    /// <summary>Present (and non-null) only on the final usage chunk when include_usage was asked for.</summary>
    [JsonPropertyName("usage")] public Usage? Usage { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ChunkChoice
{
    [JsonPropertyName("index")] public int Index { get; set; }
    [JsonPropertyName("delta")] public ChatMessage Delta { get; set; } = new();
    [JsonPropertyName("finish_reason")] public string? FinishReason { get; set; }
}

public sealed class EmbeddingRequest : IModelRequest
{
    [JsonPropertyName("model")] public string? Model { get; set; }
    /// <summary>A string, an array of strings, an array of token ids, or an array of such arrays.</summary>
    [JsonPropertyName("input")] public JsonElement? Input { get; set; }
    [JsonPropertyName("encoding_format")] public string? EncodingFormat { get; set; }
    [JsonPropertyName("dimensions")] public int? Dimensions { get; set; }
    [JsonPropertyName("user")] public string? User { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class EmbeddingResponse
{
    [JsonPropertyName("object")] public string Object { get; set; } = "list";
    [JsonPropertyName("data")] public List<EmbeddingItem> Data { get; set; } = [];
    [JsonPropertyName("model")] public string Model { get; set; } = "";
    [JsonPropertyName("usage")] public EmbeddingUsage Usage { get; set; } = new();
}

public sealed class EmbeddingItem
{
    [JsonPropertyName("object")] public string Object { get; set; } = "embedding";
    [JsonPropertyName("index")] public int Index { get; set; }
    [JsonPropertyName("embedding")] public EmbeddingVector Embedding { get; set; } = new([], false);
}

public sealed class EmbeddingUsage
{
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; set; }
    [JsonPropertyName("total_tokens")] public int TotalTokens { get; set; }
}

public sealed class ErrorEnvelope
{
    [JsonPropertyName("error")] public ErrorBody Error { get; set; } = new();
}

public sealed class ErrorBody
{
    [JsonPropertyName("message")] public string Message { get; set; } = "";
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("param")] public string? Param { get; set; }
    [JsonPropertyName("code")] public string? Code { get; set; }
}

public sealed class ModelList
{
    [JsonPropertyName("object")] public string Object { get; set; } = "list";
    [JsonPropertyName("data")] public List<ModelInfo> Data { get; set; } = [];
}

public sealed class ModelInfo
{
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("object")] public string Object { get; set; } = "model";
    [JsonPropertyName("created")] public long Created { get; set; }
    [JsonPropertyName("owned_by")] public string OwnedBy { get; set; } = "";
}

/// <summary>An embedding written as a float array, or as base64 little-endian float32 when the client asked for it.</summary>
[JsonConverter(typeof(EmbeddingVectorConverter))]
public sealed record EmbeddingVector(float[] Values, bool Base64);

internal sealed class EmbeddingVectorConverter : JsonConverter<EmbeddingVector>
{
    public override EmbeddingVector Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            var bytes = reader.GetBytesFromBase64();
            return new EmbeddingVector(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray(), true);
        }

        var values = new List<float>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(reader.GetSingle());
        }

        return new EmbeddingVector([.. values], false);
    }

    public override void Write(Utf8JsonWriter writer, EmbeddingVector value, JsonSerializerOptions options)
    {
        if (value.Base64)
        {
            writer.WriteBase64StringValue(System.Runtime.InteropServices.MemoryMarshal.AsBytes(value.Values.AsSpan()));
            return;
        }

        writer.WriteStartArray();
        foreach (var v in value.Values)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
    }
}
