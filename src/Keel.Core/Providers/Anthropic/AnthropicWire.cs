using System.Text.Json;
using System.Text.Json.Serialization;

namespace Keel.Core.Providers.Anthropic;

/// <summary>A request to Anthropic's Messages API (<c>POST /v1/messages</c>): only the fields Keel sends.</summary>
internal sealed class AnthropicRequest
{
    [JsonPropertyName("model")] public string Model { get; set; } = "";
    [JsonPropertyName("max_tokens")] public int MaxTokens { get; set; }
    [JsonPropertyName("system")] public string? System { get; set; }
    [JsonPropertyName("messages")] public List<AnthropicMessage> Messages { get; set; } = [];
    [JsonPropertyName("tools")] public List<AnthropicTool>? Tools { get; set; }
    [JsonPropertyName("tool_choice")] public AnthropicToolChoice? ToolChoice { get; set; }
    [JsonPropertyName("temperature")] public double? Temperature { get; set; }
    [JsonPropertyName("top_p")] public double? TopP { get; set; }
    [JsonPropertyName("top_k")] public int? TopK { get; set; }
    [JsonPropertyName("stop_sequences")] public List<string>? StopSequences { get; set; }
    [JsonPropertyName("metadata")] public AnthropicMetadata? Metadata { get; set; }
    [JsonPropertyName("stream")] public bool? Stream { get; set; }
}

internal sealed class AnthropicMessage
{
    /// <summary>"user" or "assistant"; the two must alternate.</summary>
    [JsonPropertyName("role")] public string Role { get; set; } = "";
    [JsonPropertyName("content")] public List<AnthropicContentBlock> Content { get; set; } = [];
}

/// <summary>
/// Every content block shape in one class (text, image, document, tool_use, tool_result, thinking…);
/// unset fields are left out when written.
/// </summary>
internal sealed class AnthropicContentBlock
{
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("text")] public string? Text { get; set; }
    [JsonPropertyName("source")] public AnthropicSource? Source { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("input")] public JsonElement? Input { get; set; }
    [JsonPropertyName("tool_use_id")] public string? ToolUseId { get; set; }
    /// <summary>A tool_result's content (Keel sends it as a string).</summary>
    [JsonPropertyName("content")] public string? Content { get; set; }
    [JsonPropertyName("is_error")] public bool? IsError { get; set; }
}

internal sealed class AnthropicSource
{
    /// <summary>"base64" or "url".</summary>
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("media_type")] public string? MediaType { get; set; }
    [JsonPropertyName("data")] public string? Data { get; set; }
    [JsonPropertyName("url")] public string? Url { get; set; }
}

internal sealed class AnthropicTool
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("input_schema")] public JsonElement InputSchema { get; set; }
}

internal sealed class AnthropicToolChoice
{
    /// <summary>"auto" | "any" | "tool" | "none".</summary>
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("disable_parallel_tool_use")] public bool? DisableParallelToolUse { get; set; }
}

internal sealed class AnthropicMetadata
{
    [JsonPropertyName("user_id")] public string? UserId { get; set; }
}

/// <summary>A Messages API response (also the <c>message</c> of a stream's message_start).</summary>
internal sealed class AnthropicResponse
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("model")] public string? Model { get; set; }
    [JsonPropertyName("content")] public List<AnthropicContentBlock>? Content { get; set; }
    [JsonPropertyName("stop_reason")] public string? StopReason { get; set; }
    [JsonPropertyName("stop_sequence")] public string? StopSequence { get; set; }
    [JsonPropertyName("usage")] public AnthropicUsage? Usage { get; set; }
}

internal sealed class AnthropicUsage
{
    [JsonPropertyName("input_tokens")] public int? InputTokens { get; set; }
    [JsonPropertyName("output_tokens")] public int? OutputTokens { get; set; }
    [JsonPropertyName("cache_creation_input_tokens")] public int? CacheCreationInputTokens { get; set; }
    [JsonPropertyName("cache_read_input_tokens")] public int? CacheReadInputTokens { get; set; }
}

/// <summary>One streaming event: message_start, content_block_start/delta/stop, message_delta, message_stop, ping, error.</summary>
internal sealed class AnthropicStreamEvent
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("message")] public AnthropicResponse? Message { get; set; }
    [JsonPropertyName("index")] public int? Index { get; set; }
    [JsonPropertyName("content_block")] public AnthropicContentBlock? ContentBlock { get; set; }
    [JsonPropertyName("delta")] public AnthropicDelta? Delta { get; set; }
    [JsonPropertyName("usage")] public AnthropicUsage? Usage { get; set; }
    [JsonPropertyName("error")] public AnthropicErrorBody? Error { get; set; }
}

/// <summary>The delta of a content_block_delta (text_delta, input_json_delta…) or of a message_delta (stop_reason).</summary>
internal sealed class AnthropicDelta
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("text")] public string? Text { get; set; }
    [JsonPropertyName("partial_json")] public string? PartialJson { get; set; }
    [JsonPropertyName("stop_reason")] public string? StopReason { get; set; }
    [JsonPropertyName("stop_sequence")] public string? StopSequence { get; set; }
}

internal sealed class AnthropicErrorBody
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}
