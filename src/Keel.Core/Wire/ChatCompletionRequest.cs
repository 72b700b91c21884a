using System.Text.Json;
using System.Text.Json.Serialization;

namespace Keel.Core.Wire;

/// <summary>
/// An OpenAI chat completion request. Every object that providers extend carries
/// <see cref="JsonExtensionDataAttribute"/> so fields Keel does not know survive the round trip.
/// </summary>
/// <summary>A request that names its model (what a provider rewrites to the upstream name).</summary>
public interface IModelRequest
{
    string? Model { get; set; }
}

public sealed class ChatCompletionRequest : IModelRequest
{
    [JsonPropertyName("model")] public string? Model { get; set; }
    [JsonPropertyName("messages")] public List<ChatMessage>? Messages { get; set; }
    [JsonPropertyName("tools")] public List<ChatTool>? Tools { get; set; }
    /// <summary>"none" | "auto" | "required" | {"type":"function","function":{"name":...}}.</summary>
    [JsonPropertyName("tool_choice")] public JsonElement? ToolChoice { get; set; }
    [JsonPropertyName("parallel_tool_calls")] public bool? ParallelToolCalls { get; set; }
    [JsonPropertyName("response_format")] public ResponseFormat? ResponseFormat { get; set; }
    [JsonPropertyName("temperature")] public double? Temperature { get; set; }
    [JsonPropertyName("top_p")] public double? TopP { get; set; }
    [JsonPropertyName("max_tokens")] public int? MaxTokens { get; set; }
    [JsonPropertyName("max_completion_tokens")] public int? MaxCompletionTokens { get; set; }
    /// <summary>A string or an array of up to four strings.</summary>
    [JsonPropertyName("stop")] public JsonElement? Stop { get; set; }
    [JsonPropertyName("seed")] public long? Seed { get; set; }
    [JsonPropertyName("n")] public int? N { get; set; }
    [JsonPropertyName("user")] public string? User { get; set; }
    [JsonPropertyName("metadata")] public JsonElement? Metadata { get; set; }
    [JsonPropertyName("stream")] public bool? Stream { get; set; }
    [JsonPropertyName("stream_options")] public StreamOptions? StreamOptions { get; set; }
    [JsonPropertyName("presence_penalty")] public double? PresencePenalty { get; set; }
    [JsonPropertyName("frequency_penalty")] public double? FrequencyPenalty { get; set; }
    [JsonPropertyName("logit_bias")] public JsonElement? LogitBias { get; set; }
    [JsonPropertyName("logprobs")] public bool? Logprobs { get; set; }
    [JsonPropertyName("top_logprobs")] public int? TopLogprobs { get; set; }

    /// <summary>
    /// Keel's own field: a registry prompt to render in front of <see cref="Messages"/>. The prompt
    /// stage consumes it and clears it, so it never goes upstream.
    /// </summary>
    [JsonPropertyName("prompt")] public PromptReference? Prompt { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>True when the request names a registry prompt (a "prompt" object or a "prompt:" model).</summary>
    [JsonIgnore] public bool NamesPrompt => Prompt is not null || (Model?.StartsWith(PromptReference.ModelPrefix, StringComparison.Ordinal) ?? false);

    /// <summary>The stop sequences whatever their wire shape (string or array).</summary>
    public IReadOnlyList<string> GetStopSequences()
    {
        if (Stop is not { } stop)
        {
            return [];
        }

        return stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => [.. stop.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)],
            _ => [],
        };
    }

    /// <summary>The effective output token limit (max_completion_tokens wins over the legacy max_tokens).</summary>
    [JsonIgnore] public int? OutputTokenLimit => MaxCompletionTokens ?? MaxTokens;
}

/// <summary>
/// A registry prompt named in a chat request: <c>{"name", "label" | "version", "variables"}</c>.
/// The compact form is <c>"model": "prompt:NAME@LABEL"</c> (or <c>@VERSION</c>).
/// </summary>
public sealed class PromptReference
{
    /// <summary>The model-name prefix of the compact form.</summary>
    public const string ModelPrefix = "prompt:";

    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("label")] public string? Label { get; set; }
    [JsonPropertyName("version")] public int? Version { get; set; }
    /// <summary>A JSON object: the template's variables.</summary>
    [JsonPropertyName("variables")] public JsonElement? Variables { get; set; }
}

public sealed class StreamOptions
{
    [JsonPropertyName("include_usage")] public bool? IncludeUsage { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ChatMessage
{
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("content")] public MessageContent? Content { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("tool_calls")] public List<ToolCall>? ToolCalls { get; set; }
    [JsonPropertyName("tool_call_id")] public string? ToolCallId { get; set; }
    [JsonPropertyName("refusal")] public string? Refusal { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>Message content: either a plain string or an array of typed parts.</summary>
[JsonConverter(typeof(MessageContentConverter))]
public sealed class MessageContent
{
    public MessageContent(string text) => Text = text;

    public MessageContent(List<ContentPart> parts) => Parts = parts;

    public string? Text { get; }
    public List<ContentPart>? Parts { get; }

    /// <summary>All text of the content (text parts joined by newlines); images and audio are skipped.</summary>
    public string GetText()
    {
        if (Text is not null)
        {
            return Text;
        }

        var texts = Parts!.Where(p => p.Type == "text" && p.Text is not null).Select(p => p.Text!);
        return string.Join('\n', texts);
    }
}

public sealed class ContentPart
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("text")] public string? Text { get; set; }
    [JsonPropertyName("image_url")] public ImageUrl? ImageUrl { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ImageUrl
{
    [JsonPropertyName("url")] public string? Url { get; set; }
    [JsonPropertyName("detail")] public string? Detail { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ToolCall
{
    /// <summary>Only in stream deltas.</summary>
    [JsonPropertyName("index")] public int? Index { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("function")] public FunctionCall? Function { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class FunctionCall
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    /// <summary>The arguments as a JSON-encoded string, exactly as the model produced them.</summary>
    [JsonPropertyName("arguments")] public string? Arguments { get; set; }
}

public sealed class ChatTool
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("function")] public FunctionDefinition? Function { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class FunctionDefinition
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("parameters")] public JsonElement? Parameters { get; set; }
    [JsonPropertyName("strict")] public bool? Strict { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

public sealed class ResponseFormat
{
    /// <summary>"text" | "json_object" | "json_schema".</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("json_schema")] public JsonElement? JsonSchema { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}
