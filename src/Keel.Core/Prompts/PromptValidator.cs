using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Keel.Core.Pipeline.Stages;
using Keel.Core.Wire;

namespace Keel.Core.Prompts;

/// <summary>
/// Checks a draft before it becomes a version (the API and the CLI's file loader share it), and
/// computes the content hash that makes an identical push a no-op.
/// </summary>
public static partial class PromptValidator
{
    /// <summary>Roles a chat prompt's messages may have.</summary>
    public static readonly IReadOnlyList<string> Roles = ["system", "developer", "user", "assistant"];

    /// <summary>Request fields a prompt's params may not set: they belong to the request or to the prompt itself.</summary>
    public static readonly IReadOnlyList<string> ReservedParams = ["model", "messages", "stream", "stream_options", "prompt", "user"];

    /// <summary>Prompt names: letters, digits, '.', '_' and '-', up to 128; no '@', ':' or '/' (they separate references).</summary>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>Labels: lower-case letters, digits, '_' and '-', up to 64, not all digits (those are versions).</summary>
    public static bool IsValidLabel(string? label) =>
        label is not null && LabelPattern().IsMatch(label) && !label.All(char.IsAsciiDigit);

    public const string NameRule = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit";
    public const string LabelRule = "1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit and not all digits";

    /// <summary>Every problem of the draft (empty when it is valid).</summary>
    public static List<PromptProblem> Validate(PromptDraft draft)
    {
        var problems = new List<PromptProblem>();
        if (!IsValidName(draft.Name))
        {
            problems.Add(new("name", $"'{draft.Name}' is not a valid prompt name: {NameRule}"));
        }

        switch (draft.Type)
        {
            case PromptTypes.Text:
                if (draft.Messages is not null)
                {
                    problems.Add(new("messages", "a text prompt has a 'template', not 'messages' (use type: chat for messages)"));
                }

                if (string.IsNullOrEmpty(draft.Template))
                {
                    problems.Add(new("template", "is required for a text prompt"));
                }
                else
                {
                    CheckTemplate(draft.Template, "template", problems);
                }

                break;
            case PromptTypes.Chat:
                if (draft.Template is not null)
                {
                    problems.Add(new("template", "a chat prompt has 'messages', not a 'template' (use type: text for one template)"));
                }

                if (draft.Messages is not { Count: > 0 } messages)
                {
                    problems.Add(new("messages", "a chat prompt needs at least one message { role, content }"));
                    break;
                }

                for (var i = 0; i < messages.Count; i++)
                {
                    if (!Roles.Contains(messages[i].Role))
                    {
                        problems.Add(new($"messages[{i}].role", $"unknown role '{messages[i].Role}'; expected one of: {string.Join(", ", Roles)}"));
                    }

                    CheckTemplate(messages[i].Content, $"messages[{i}].content", problems);
                }

                break;
            default:
                problems.Add(new("type", $"unknown prompt type '{draft.Type}'; expected 'text' or 'chat'"));
                break;
        }

        if (draft.Model is { } model && string.IsNullOrWhiteSpace(model))
        {
            problems.Add(new("model", "must not be empty; leave it out to let each request name its model"));
        }

        if (draft.Model is { } prefixed && prefixed.StartsWith(PromptReference.ModelPrefix, StringComparison.Ordinal))
        {
            problems.Add(new("model", "a prompt's model cannot itself be a prompt reference"));
        }

        if (draft.Params is { } parameters)
        {
            CheckParams(parameters, problems);
        }

        foreach (var label in draft.Labels)
        {
            if (label == PromptLabels.Latest)
            {
                problems.Add(new("labels", "'latest' is implicit (always the newest version) and cannot be set"));
            }
            else if (!IsValidLabel(label))
            {
                problems.Add(new("labels", $"'{label}' is not a valid label: {LabelRule}"));
            }
        }

        return problems;
    }

    /// <summary>
    /// The params, read as a chat request so they are checked by the same rules as a request's own
    /// fields, or null when they are not valid (see <see cref="Validate"/>).
    /// </summary>
    internal static ChatCompletionRequest? ReadParams(JsonElement parameters)
    {
        if (parameters.ValueKind == JsonValueKind.Null)
        {
            return new ChatCompletionRequest();
        }

        try
        {
            return parameters.ValueKind == JsonValueKind.Object
                ? parameters.Deserialize(KeelJsonContext.Default.ChatCompletionRequest)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void CheckParams(JsonElement parameters, List<PromptProblem> problems)
    {
        if (parameters.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new("params", "must be a mapping of chat-completion parameters, e.g. { temperature: 0.2 }"));
            return;
        }

        foreach (var property in parameters.EnumerateObject())
        {
            if (ReservedParams.Contains(property.Name))
            {
                problems.Add(new($"params.{property.Name}", $"'{property.Name}' cannot be a prompt parameter" +
                    (property.Name == "model" ? "; write it as the prompt's 'model'" : "; it belongs to each request")));
            }
        }

        ChatCompletionRequest? read;
        try
        {
            read = parameters.Deserialize(KeelJsonContext.Default.ChatCompletionRequest);
        }
        catch (JsonException ex)
        {
            var path = ex.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? "params." + p[2..] : "params";
            problems.Add(new(path, "has the wrong type for a chat-completion parameter"));
            return;
        }

        if (read is null)
        {
            return;
        }

        // The same rules as a request's own fields, on a request made of the params alone.
        read.Model = "prompt-params";
        read.Messages = [new ChatMessage { Role = "user", Content = new MessageContent("x") }];
        read.Prompt = null;
        read.Stream = null;
        read.StreamOptions = null;
        if (RequestValidator.Validate(read) is { } error)
        {
            problems.Add(new(error.Param is null ? "params" : "params." + error.Param, error.Message));
        }
    }

    private static void CheckTemplate(string? template, string field, List<PromptProblem> problems)
    {
        if (template is null)
        {
            problems.Add(new(field, "is required"));
        }
        else if (!PromptTemplate.TryParse(template, out _, out var error))
        {
            problems.Add(new(field, error!.Message, error.Position));
        }
    }

    /// <summary>SHA-256 (hex) of the content: type, template or messages, model and params with object keys sorted.</summary>
    public static string ContentHash(string type, string? template, IReadOnlyList<PromptMessage>? messages, string? model, JsonElement? parameters)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteString("template", template);
            writer.WriteStartArray("messages");
            foreach (var message in messages ?? [])
            {
                writer.WriteStartArray();
                writer.WriteStringValue(message.Role);
                writer.WriteStringValue(message.Content);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
            writer.WriteString("model", model);
            writer.WritePropertyName("params");
            if (parameters is { ValueKind: not JsonValueKind.Null } p)
            {
                WriteCanonical(writer, p);
            }
            else
            {
                writer.WriteNullValue();
            }

            writer.WriteEndObject();
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    /// <summary>The params as compact JSON with object keys sorted (how they are stored and hashed).</summary>
    public static string? CanonicalJson(JsonElement? value)
    {
        if (value is not { ValueKind: not JsonValueKind.Null } element)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(writer, element);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in value.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex LabelPattern();
}
