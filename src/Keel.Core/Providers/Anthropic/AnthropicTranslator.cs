using System.Text;
using System.Text.Json;
using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Providers.Anthropic;

/// <summary>An Anthropic request, or why the OpenAI request could not become one.</summary>
internal readonly record struct RequestTranslation(AnthropicRequest? Request, GatewayError? Error);

/// <summary>
/// Pure translation between the OpenAI Chat Completions wire format and Anthropic's Messages API:
/// requests OpenAI → Anthropic, complete responses Anthropic → OpenAI. (Streams: <see cref="AnthropicStreamTranslator"/>.)
/// </summary>
/// <remarks>
/// Best-effort parts, by design:
/// <list type="bullet">
/// <item><c>response_format</c> json_object / json_schema becomes an instruction appended to <c>system</c>
/// (Anthropic has no JSON mode in the Messages API); the model is asked for JSON only, it is not enforced.</item>
/// <item><c>temperature</c> is clamped to Anthropic's 0..1 (not rescaled).</item>
/// <item><c>seed</c>, <c>presence_penalty</c>, <c>frequency_penalty</c>, <c>logit_bias</c>, <c>logprobs</c> have no
/// Anthropic equivalent and are dropped; <c>n</c> &gt; 1 is refused (400).</item>
/// </list>
/// </remarks>
internal static class AnthropicTranslator
{
    /// <summary>Anthropic requires max_tokens; used when the client set no limit.</summary>
    public const int DefaultMaxTokens = 4096;

    internal const string JsonObjectInstruction =
        "Respond with one valid JSON object and nothing else: no prose before or after it, no Markdown code fences.";

    internal const string JsonSchemaInstruction =
        "Respond with one valid JSON value that conforms to the following JSON Schema, and nothing else: no prose before or after it, no Markdown code fences.";

    private static readonly JsonElement EmptyObject = ParseElement("{}");
    private static readonly JsonElement EmptyObjectSchema = ParseElement("""{"type":"object","properties":{}}""");

    // ---------------------------------------------------------------- requests

    public static RequestTranslation ToAnthropic(ChatCompletionRequest request, string upstreamModel, bool stream)
    {
        if (request.N is > 1)
        {
            return Fail(GatewayError.InvalidRequest(
                "Anthropic models return one choice per request; 'n' greater than 1 is not supported.", "n", "unsupported_parameter"));
        }

        var system = new List<string>();
        var messages = new List<AnthropicMessage>();
        var source = request.Messages ?? [];
        for (var i = 0; i < source.Count; i++)
        {
            var message = source[i];
            List<AnthropicContentBlock> blocks;
            string role;
            GatewayError? error;
            switch (message.Role)
            {
                case "system" or "developer":
                    if (message.Content?.GetText() is { Length: > 0 } instruction)
                    {
                        system.Add(instruction);
                    }

                    continue;
                case "user":
                    role = "user";
                    error = UserBlocks(message.Content, i, out blocks);
                    break;
                case "assistant":
                    role = "assistant";
                    error = AssistantBlocks(message, i, out blocks);
                    break;
                case "tool":
                    role = "user";
                    error = ToolResultBlock(message, i, out blocks);
                    break;
                default:
                    return Fail(GatewayError.InvalidRequest(
                        $"Messages with role '{message.Role}' cannot be sent to an Anthropic model; use 'tool' messages for tool results.",
                        $"messages[{i}].role", "invalid_value"));
            }

            if (error is not null)
            {
                return Fail(error);
            }

            Append(messages, role, blocks);
        }

        if (FormatInstruction(request.ResponseFormat) is { } formatInstruction)
        {
            system.Add(formatInstruction);
        }

        var anthropic = new AnthropicRequest
        {
            Model = upstreamModel,
            MaxTokens = request.OutputTokenLimit ?? DefaultMaxTokens,
            System = system.Count == 0 ? null : string.Join("\n\n", system),
            Messages = messages,
            Temperature = request.Temperature is { } t ? Math.Clamp(t, 0, 1) : null,
            TopP = request.TopP,
            TopK = request.Extra is { } extra && extra.TryGetValue("top_k", out var topK) && topK.ValueKind == JsonValueKind.Number && topK.TryGetInt32(out var k) ? k : null,
            Metadata = string.IsNullOrEmpty(request.User) ? null : new AnthropicMetadata { UserId = request.User },
            Stream = stream ? true : null,
        };

        var stops = request.GetStopSequences();
        if (stops.Count > 0)
        {
            anthropic.StopSequences = [.. stops];
        }

        if (request.Tools is { Count: > 0 } tools)
        {
            anthropic.Tools = new List<AnthropicTool>(tools.Count);
            for (var i = 0; i < tools.Count; i++)
            {
                var tool = tools[i];
                if (tool.Type is not (null or "function") || tool.Function?.Name is not { Length: > 0 } name)
                {
                    return Fail(GatewayError.InvalidRequest(
                        $"'tools[{i}]' must be a function tool with a name to be sent to an Anthropic model.", $"tools[{i}]", "invalid_value"));
                }

                anthropic.Tools.Add(new AnthropicTool
                {
                    Name = name,
                    Description = tool.Function.Description,
                    InputSchema = tool.Function.Parameters is { ValueKind: JsonValueKind.Object } schema ? schema : EmptyObjectSchema,
                });
            }

            var choiceError = ToolChoice(request.ToolChoice, request.ParallelToolCalls, out var choice);
            if (choiceError is not null)
            {
                return Fail(choiceError);
            }

            anthropic.ToolChoice = choice;
        }

        return new RequestTranslation(anthropic, null);
    }

    public static byte[] Serialize(AnthropicRequest request) =>
        JsonSerializer.SerializeToUtf8Bytes(request, AnthropicJsonContext.Default.AnthropicRequest);

    private static RequestTranslation Fail(GatewayError error) => new(null, error);

    /// <summary>Adds a message, merging it into the previous one when the role repeats (Anthropic requires alternation).</summary>
    private static void Append(List<AnthropicMessage> messages, string role, List<AnthropicContentBlock> blocks)
    {
        if (blocks.Count == 0)
        {
            return;
        }

        if (messages.Count > 0 && messages[^1].Role == role)
        {
            messages[^1].Content.AddRange(blocks);
            return;
        }

        messages.Add(new AnthropicMessage { Role = role, Content = blocks });
    }

    private static GatewayError? UserBlocks(MessageContent? content, int index, out List<AnthropicContentBlock> blocks)
    {
        blocks = [];
        if (content is null)
        {
            return null;
        }

        if (content.Text is { } text)
        {
            AddText(blocks, text);
            return null;
        }

        var parts = content.Parts!;
        for (var j = 0; j < parts.Count; j++)
        {
            var part = parts[j];
            var param = $"messages[{index}].content[{j}]";
            switch (part.Type)
            {
                case "text":
                    AddText(blocks, part.Text);
                    break;
                case "image_url":
                    var imageError = ImageBlock(part.ImageUrl?.Url, param + ".image_url.url", out var image);
                    if (imageError is not null)
                    {
                        return imageError;
                    }

                    blocks.Add(image!);
                    break;
                case "file":
                    var fileError = DocumentBlock(part, param + ".file", out var document);
                    if (fileError is not null)
                    {
                        return fileError;
                    }

                    blocks.Add(document!);
                    break;
                default:
                    return GatewayError.InvalidRequest(
                        $"Content parts of type '{part.Type}' cannot be sent to an Anthropic model.", param + ".type", "unsupported_content_type");
            }
        }

        return null;
    }

    private static GatewayError? AssistantBlocks(ChatMessage message, int index, out List<AnthropicContentBlock> blocks)
    {
        blocks = [];
        if (message.Content is { } content)
        {
            // Assistant turns carry text only; refusal parts and the like are history Anthropic cannot take.
            AddText(blocks, content.Text ?? string.Concat(content.Parts!.Where(p => p.Type == "text").Select(p => p.Text)));
        }

        if (message.ToolCalls is not { } calls)
        {
            return null;
        }

        for (var j = 0; j < calls.Count; j++)
        {
            var call = calls[j];
            var param = $"messages[{index}].tool_calls[{j}]";
            if (string.IsNullOrEmpty(call.Id) || string.IsNullOrEmpty(call.Function?.Name))
            {
                return GatewayError.InvalidRequest(
                    $"'{param}' needs an 'id' and a 'function.name' to be sent to an Anthropic model.", param, "missing_required_parameter");
            }

            var arguments = call.Function.Arguments;
            JsonElement input;
            if (string.IsNullOrWhiteSpace(arguments))
            {
                input = EmptyObject;
            }
            else
            {
                try
                {
                    using var document = JsonDocument.Parse(arguments);
                    input = document.RootElement.Clone();
                }
                catch (JsonException)
                {
                    return GatewayError.InvalidRequest(
                        $"'{param}.function.arguments' of message {index} is not valid JSON; Anthropic needs tool call arguments as a JSON object.",
                        param + ".function.arguments", "invalid_value");
                }

                if (input.ValueKind != JsonValueKind.Object)
                {
                    return GatewayError.InvalidRequest(
                        $"'{param}.function.arguments' of message {index} is not a JSON object; Anthropic needs tool call arguments as a JSON object.",
                        param + ".function.arguments", "invalid_value");
                }
            }

            blocks.Add(new AnthropicContentBlock { Type = "tool_use", Id = call.Id, Name = call.Function.Name, Input = input });
        }

        return null;
    }

    private static GatewayError? ToolResultBlock(ChatMessage message, int index, out List<AnthropicContentBlock> blocks)
    {
        blocks = [];
        if (string.IsNullOrEmpty(message.ToolCallId))
        {
            return GatewayError.InvalidRequest(
                $"'messages[{index}].tool_call_id' is required for tool messages.", $"messages[{index}].tool_call_id", "missing_required_parameter");
        }

        var text = message.Content?.GetText();
        blocks.Add(new AnthropicContentBlock
        {
            Type = "tool_result",
            ToolUseId = message.ToolCallId,
            Content = string.IsNullOrEmpty(text) ? null : text,
        });
        return null;
    }

    /// <summary>Anthropic refuses empty text blocks, so empty text is simply left out.</summary>
    private static void AddText(List<AnthropicContentBlock> blocks, string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            blocks.Add(new AnthropicContentBlock { Type = "text", Text = text });
        }
    }

    private static GatewayError? ImageBlock(string? url, string param, out AnthropicContentBlock? block)
    {
        block = null;
        if (string.IsNullOrEmpty(url))
        {
            return GatewayError.InvalidRequest($"'{param}' is required.", param, "missing_required_parameter");
        }

        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            if (!TryParseDataUrl(url, out var mediaType, out var data))
            {
                return GatewayError.InvalidRequest(
                    $"'{param}' must be a base64 data URL (data:image/png;base64,...) or an http(s) URL.", param, "invalid_value");
            }

            block = new AnthropicContentBlock { Type = "image", Source = new AnthropicSource { Type = "base64", MediaType = mediaType, Data = data } };
            return null;
        }

        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
        {
            block = new AnthropicContentBlock { Type = "image", Source = new AnthropicSource { Type = "url", Url = url } };
            return null;
        }

        return GatewayError.InvalidRequest(
            $"'{param}' must be a base64 data URL (data:image/png;base64,...) or an http(s) URL.", param, "invalid_value");
    }

    /// <summary>A <c>file</c> part with inline <c>file_data</c> (a base64 data URL, e.g. a PDF) becomes a document block.</summary>
    private static GatewayError? DocumentBlock(ContentPart part, string param, out AnthropicContentBlock? block)
    {
        block = null;
        if (part.Extra is { } extra && extra.TryGetValue("file", out var file) && file.ValueKind == JsonValueKind.Object &&
            file.TryGetProperty("file_data", out var fileData) && fileData.ValueKind == JsonValueKind.String &&
            TryParseDataUrl(fileData.GetString()!, out var mediaType, out var data))
        {
            block = new AnthropicContentBlock { Type = "document", Source = new AnthropicSource { Type = "base64", MediaType = mediaType, Data = data } };
            return null;
        }

        return GatewayError.InvalidRequest(
            $"'{param}' can be sent to an Anthropic model only as inline 'file_data' (a base64 data URL); file ids are not supported.", param, "unsupported_content_type");
    }

    /// <summary>Splits <c>data:&lt;media type&gt;[;params];base64,&lt;data&gt;</c>.</summary>
    internal static bool TryParseDataUrl(string url, out string mediaType, out string data)
    {
        mediaType = "";
        data = "";
        var comma = url.IndexOf(',', StringComparison.Ordinal);
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || comma < 0)
        {
            return false;
        }

        var header = url.AsSpan(5, comma - 5);
        if (!header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        header = header[..^";base64".Length];
        var semicolon = header.IndexOf(';');
        mediaType = (semicolon < 0 ? header : header[..semicolon]).Trim().ToString().ToLowerInvariant();
        data = url[(comma + 1)..];
        return mediaType.Length > 0 && data.Length > 0;
    }

    private static GatewayError? ToolChoice(JsonElement? choice, bool? parallelToolCalls, out AnthropicToolChoice? result)
    {
        result = null;
        if (choice is { ValueKind: JsonValueKind.String } text)
        {
            result = text.GetString() switch
            {
                "auto" => new AnthropicToolChoice { Type = "auto" },
                "required" => new AnthropicToolChoice { Type = "any" },
                "none" => new AnthropicToolChoice { Type = "none" },
                _ => null,
            };
        }
        else if (choice is { ValueKind: JsonValueKind.Object } named)
        {
            if (named.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object &&
                function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                result = new AnthropicToolChoice { Type = "tool", Name = name.GetString() };
            }
        }
        else if (choice is null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined })
        {
            result = parallelToolCalls == false ? new AnthropicToolChoice { Type = "auto" } : null;
        }

        if (result is null && choice is { ValueKind: JsonValueKind.String or JsonValueKind.Object })
        {
            return GatewayError.InvalidRequest(
                "'tool_choice' must be 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}} for an Anthropic model.", "tool_choice", "invalid_value");
        }

        if (result is not null && parallelToolCalls == false && result.Type != "none")
        {
            result.DisableParallelToolUse = true;
        }

        return null;
    }

    private static string? FormatInstruction(ResponseFormat? format)
    {
        switch (format?.Type)
        {
            case "json_object":
                return JsonObjectInstruction;
            case "json_schema":
                var schema = format.JsonSchema is { ValueKind: JsonValueKind.Object } jsonSchema
                    ? jsonSchema.TryGetProperty("schema", out var inner) ? inner : jsonSchema
                    : EmptyObject;
                return JsonSchemaInstruction + "\n" + schema.GetRawText();
            default:
                return null;
        }
    }

    // ---------------------------------------------------------------- responses

    /// <summary>An Anthropic message as an OpenAI chat.completion (one choice; thinking blocks dropped).</summary>
    public static ChatCompletionResponse FromAnthropic(AnthropicResponse response, long created)
    {
        var text = new StringBuilder();
        var hasText = false;
        List<ToolCall>? toolCalls = null;
        foreach (var block in response.Content ?? [])
        {
            switch (block.Type)
            {
                case "text":
                    text.Append(block.Text);
                    hasText = true;
                    break;
                case "tool_use":
                    (toolCalls ??= []).Add(new ToolCall
                    {
                        Id = block.Id,
                        Type = "function",
                        Function = new FunctionCall
                        {
                            Name = block.Name,
                            Arguments = block.Input is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } input ? input.GetRawText() : "{}",
                        },
                    });
                    break;
            }
        }

        var usage = ToUsage(response.Usage, null);
        return new ChatCompletionResponse
        {
            Id = response.Id ?? "",
            Created = created,
            Model = response.Model ?? "",
            Usage = usage,
            Choices =
            [
                new ChatChoice
                {
                    Index = 0,
                    Message = new ChatMessage
                    {
                        Role = "assistant",
                        // OpenAI sends null content for a tool-calls-only answer.
                        Content = hasText || toolCalls is null ? new MessageContent(text.ToString()) : null,
                        ToolCalls = toolCalls,
                    },
                    FinishReason = MapStopReason(response.StopReason),
                },
            ],
        };
    }

    /// <summary>Anthropic's stop_reason as an OpenAI finish_reason.</summary>
    public static string MapStopReason(string? stopReason) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop", // end_turn, stop_sequence, pause_turn, and anything new
    };

    /// <summary>
    /// OpenAI usage from Anthropic's: prompt tokens include cache reads and cache writes (Anthropic counts
    /// them apart from input_tokens); cache reads are also reported as prompt_tokens_details.cached_tokens.
    /// <paramref name="outputTokens"/> overrides the output count (a stream reports it at the end).
    /// </summary>
    public static Usage ToUsage(AnthropicUsage? usage, int? outputTokens)
    {
        var cacheRead = usage?.CacheReadInputTokens ?? 0;
        var prompt = (usage?.InputTokens ?? 0) + cacheRead + (usage?.CacheCreationInputTokens ?? 0);
        var completion = outputTokens ?? usage?.OutputTokens ?? 0;
        var result = new Usage { PromptTokens = prompt, CompletionTokens = completion, TotalTokens = prompt + completion };
        if (cacheRead > 0)
        {
            result.Extra = new Dictionary<string, JsonElement>
            {
                ["prompt_tokens_details"] = ParseElement($$"""{"cached_tokens":{{cacheRead}}}"""),
            };
        }

        return result;
    }

    private static JsonElement ParseElement(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
