using System.Text.Json;
using System.Text.RegularExpressions;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// Checks a parsed chat request against the OpenAI schema so a mistake is reported by Keel with the
/// exact parameter path, not by an upstream in its own words (or not at all).
/// </summary>
internal static partial class RequestValidator
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool", "function"];
    private static readonly HashSet<string> PartTypes = ["text", "image_url", "input_audio", "file", "refusal"];

    public static GatewayError? Validate(ChatCompletionRequest request)
    {
        // A request naming a registry prompt may leave out the model and the messages: the prompt
        // stage supplies them (and checks the prompt reference itself).
        var namesPrompt = request.NamesPrompt;
        if (string.IsNullOrWhiteSpace(request.Model) && !namesPrompt)
        {
            return GatewayError.InvalidRequest("You must provide a model parameter.", "model", "missing_required_parameter");
        }

        if (request.Messages is null && !namesPrompt)
        {
            return GatewayError.InvalidRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }

        if (request.Messages is { Count: 0 } && !namesPrompt)
        {
            return GatewayError.InvalidRequest("'messages' must contain at least one message.", "messages", "empty_array");
        }

        for (var i = 0; i < (request.Messages?.Count ?? 0); i++)
        {
            if (ValidateMessage(request.Messages![i], $"messages[{i}]") is { } error)
            {
                return error;
            }
        }

        if (request.Tools is { } tools)
        {
            for (var i = 0; i < tools.Count; i++)
            {
                var tool = tools[i];
                if (tool.Type != "function")
                {
                    return GatewayError.InvalidRequest($"Invalid value for 'tools[{i}].type': expected 'function'.", $"tools[{i}].type", "invalid_value");
                }

                if (tool.Function?.Name is not { } name || !FunctionName().IsMatch(name))
                {
                    return GatewayError.InvalidRequest(
                        $"Invalid 'tools[{i}].function.name': it must be 1 to 64 letters, digits, underscores or dashes.", $"tools[{i}].function.name", "invalid_value");
                }

                if (tool.Function.Parameters is { ValueKind: not JsonValueKind.Object })
                {
                    return GatewayError.InvalidRequest($"'tools[{i}].function.parameters' must be a JSON Schema object.", $"tools[{i}].function.parameters", "invalid_type");
                }
            }
        }

        if (request.ToolChoice is { } choice && ValidateToolChoice(choice, request.Tools) is { } toolChoiceError)
        {
            return toolChoiceError;
        }

        if (request.ResponseFormat is { } format)
        {
            switch (format.Type)
            {
                case "text" or "json_object":
                    break;
                case "json_schema":
                    if (format.JsonSchema is not { ValueKind: JsonValueKind.Object } schema ||
                        !schema.TryGetProperty("name", out var schemaName) || schemaName.ValueKind != JsonValueKind.String)
                    {
                        return GatewayError.InvalidRequest("'response_format.json_schema' must be an object with a 'name'.", "response_format.json_schema", "missing_required_parameter");
                    }

                    break;
                default:
                    return GatewayError.InvalidRequest(
                        $"Invalid value for 'response_format.type': '{format.Type}'. Supported values are: 'text', 'json_object' and 'json_schema'.", "response_format.type", "invalid_value");
            }
        }

        if (request.Temperature is < 0 or > 2)
        {
            return Range("temperature", "0", "2");
        }

        if (request.TopP is < 0 or > 1)
        {
            return Range("top_p", "0", "1");
        }

        if (request.N is < 1 or > 128)
        {
            return Range("n", "1", "128");
        }

        if (request.MaxTokens is < 1)
        {
            return Range("max_tokens", "1", "the model's limit");
        }

        if (request.MaxCompletionTokens is < 1)
        {
            return Range("max_completion_tokens", "1", "the model's limit");
        }

        if (request.PresencePenalty is < -2 or > 2)
        {
            return Range("presence_penalty", "-2", "2");
        }

        if (request.FrequencyPenalty is < -2 or > 2)
        {
            return Range("frequency_penalty", "-2", "2");
        }

        if (request.TopLogprobs is < 0 or > 20)
        {
            return Range("top_logprobs", "0", "20");
        }

        if (request.Stop is { } stop)
        {
            var ok = stop.ValueKind switch
            {
                JsonValueKind.Null or JsonValueKind.String => true,
                JsonValueKind.Array => stop.GetArrayLength() <= 4 && stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String),
                _ => false,
            };
            if (!ok)
            {
                return GatewayError.InvalidRequest("'stop' must be a string or an array of at most 4 strings.", "stop", "invalid_type");
            }
        }

        if (request.Metadata is { ValueKind: not JsonValueKind.Null } metadata &&
            (metadata.ValueKind != JsonValueKind.Object || metadata.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String)))
        {
            return GatewayError.InvalidRequest("'metadata' must be an object whose values are strings.", "metadata", "invalid_type");
        }

        if (request.StreamOptions is not null && request.Stream != true)
        {
            return GatewayError.InvalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
        }

        return null;
    }

    private static GatewayError? ValidateMessage(ChatMessage message, string path)
    {
        if (message.Role is null)
        {
            return GatewayError.InvalidRequest($"Missing required parameter: '{path}.role'.", $"{path}.role", "missing_required_parameter");
        }

        if (!Roles.Contains(message.Role))
        {
            return GatewayError.InvalidRequest(
                $"Invalid value: '{message.Role}'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.", $"{path}.role", "invalid_value");
        }

        if (message.Content?.Parts is { } parts)
        {
            for (var j = 0; j < parts.Count; j++)
            {
                var part = parts[j];
                var partPath = $"{path}.content[{j}]";
                if (part.Type is null || !PartTypes.Contains(part.Type))
                {
                    return GatewayError.InvalidRequest(
                        $"Invalid value for '{partPath}.type': '{part.Type}'. Supported values are: 'text', 'image_url', 'input_audio', 'file' and 'refusal'.", $"{partPath}.type", "invalid_value");
                }

                if (part.Type == "text" && part.Text is null)
                {
                    return GatewayError.InvalidRequest($"Missing required parameter: '{partPath}.text'.", $"{partPath}.text", "missing_required_parameter");
                }

                if (part.Type == "image_url" && string.IsNullOrEmpty(part.ImageUrl?.Url))
                {
                    return GatewayError.InvalidRequest($"Missing required parameter: '{partPath}.image_url.url'.", $"{partPath}.image_url.url", "missing_required_parameter");
                }
            }
        }

        switch (message.Role)
        {
            case "tool" when string.IsNullOrEmpty(message.ToolCallId):
                return GatewayError.InvalidRequest($"Missing required parameter: '{path}.tool_call_id'.", $"{path}.tool_call_id", "missing_required_parameter");
            case "assistant" when message.Content is null && message.ToolCalls is not { Count: > 0 } && message.Extra?.ContainsKey("function_call") != true:
                return GatewayError.InvalidRequest($"'{path}' has role 'assistant' but neither 'content' nor 'tool_calls'.", $"{path}.content", "missing_required_parameter");
            case "system" or "developer" or "user" or "tool" when message.Content is null:
                return GatewayError.InvalidRequest($"Missing required parameter: '{path}.content'.", $"{path}.content", "missing_required_parameter");
        }

        if (message.ToolCalls is { } calls)
        {
            for (var j = 0; j < calls.Count; j++)
            {
                if (string.IsNullOrEmpty(calls[j].Id) || calls[j].Function?.Name is null)
                {
                    return GatewayError.InvalidRequest($"'{path}.tool_calls[{j}]' needs an 'id' and a 'function.name'.", $"{path}.tool_calls[{j}]", "missing_required_parameter");
                }
            }
        }

        return null;
    }

    private static GatewayError? ValidateToolChoice(JsonElement choice, List<ChatTool>? tools)
    {
        if (choice.ValueKind == JsonValueKind.String)
        {
            var value = choice.GetString();
            if (value is not ("none" or "auto" or "required"))
            {
                return GatewayError.InvalidRequest($"Invalid value for 'tool_choice': '{value}'. Supported values are: 'none', 'auto' and 'required', or a function object.", "tool_choice", "invalid_value");
            }

            if (value == "required" && tools is not { Count: > 0 })
            {
                return GatewayError.InvalidRequest("'tool_choice' is 'required' but no 'tools' were given.", "tool_choice", "invalid_value");
            }

            return null;
        }

        if (choice.ValueKind == JsonValueKind.Object &&
            choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object &&
            function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
        {
            var wanted = name.GetString();
            if (tools?.Any(t => t.Function?.Name == wanted) != true)
            {
                return GatewayError.InvalidRequest($"'tool_choice' names function '{wanted}', which is not in 'tools'.", "tool_choice", "invalid_value");
            }

            return null;
        }

        if (choice.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return GatewayError.InvalidRequest("'tool_choice' must be 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.", "tool_choice", "invalid_type");
    }

    private static GatewayError Range(string param, string min, string max) =>
        GatewayError.InvalidRequest($"Invalid '{param}': it must be between {min} and {max}.", param, "invalid_value");

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();
}
