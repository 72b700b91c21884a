using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Keel.Core.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Keel.Core.Prompts;

/// <summary>The outcome of reading a prompt file: the draft, or every error with its file, line and field.</summary>
public sealed record PromptFileResult(PromptDraft? Draft, IReadOnlyList<ConfigError> Errors)
{
    public bool Success => Draft is not null && Errors.Count == 0;
}

/// <summary>
/// The prompt file (YAML) that <c>keel prompt push</c> reads and <c>keel prompt pull</c> writes, so
/// prompts can live in Git:
/// <code>
/// name: support-reply
/// type: chat                      # or text (with template:); inferred when left out
/// messages:
///   - { role: system, content: "You answer for {{company}}. Be brief." }
///   - { role: user, content: "{{question}}" }
/// model: gpt-4o-mini
/// params: { temperature: 0.2 }
/// labels: [staging]               # labels to point at the version this push creates
/// message: "shorter system prompt"
/// author: ana                     # optional; defaults to the caller's key id
/// </code>
/// </summary>
public static partial class PromptFile
{
    private static readonly string[] Keys = ["name", "type", "template", "messages", "model", "params", "labels", "message", "author"];
    private static readonly string[] MessageKeys = ["role", "content"];

    public static PromptFileResult Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, [new ConfigError(path, 0, 0, "", $"cannot read the prompt file: {ex.Message}")]);
        }

        return Parse(text, path);
    }

    public static PromptFileResult Parse(string yaml, string fileName)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException?.Message ?? ex.Message;
            var cut = message.LastIndexOf("): ", StringComparison.Ordinal);
            return new(null, [new ConfigError(fileName, (int)ex.Start.Line, (int)ex.Start.Column, "", $"invalid YAML: {(cut >= 0 ? message[(cut + 3)..] : message)}")]);
        }

        var reader = new Reader(fileName);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            var node = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
            return new(null, [new ConfigError(fileName, (int)(node?.Start.Line ?? 1), (int)(node?.Start.Column ?? 1), "(root)",
                "a prompt file is a mapping with at least name and either messages (chat) or template (text)")]);
        }

        var draft = reader.Read(root);
        var reported = reader.Errors.Select(e => e.Field).ToHashSet(StringComparer.Ordinal);
        foreach (var problem in PromptValidator.Validate(draft))
        {
            if (!reported.Contains(problem.Field))
            {
                var where = problem.Position is { } p ? $" (template line {p.Line}, column {p.Column})" : "";
                reader.Error(reader.NodeFor(problem.Field, root), problem.Field, problem.Message + where);
            }
        }

        var errors = reader.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
        return errors.Count > 0 ? new(null, errors) : new(draft, []);
    }

    /// <summary>The file text for a version (what <c>keel prompt pull</c> prints): push it back and nothing changes.</summary>
    public static string Write(PromptVersion version, IReadOnlyList<string>? labels = null)
    {
        var root = new YamlMappingNode { { "name", version.Name }, { "type", version.Type } };
        if (version.Type == PromptTypes.Chat)
        {
            var messages = new YamlSequenceNode();
            foreach (var message in version.Messages ?? [])
            {
                messages.Add(new YamlMappingNode { { "role", message.Role }, { "content", Text(message.Content) } });
            }

            root.Add("messages", messages);
        }
        else
        {
            root.Add("template", Text(version.Template ?? ""));
        }

        if (version.Model is { } model)
        {
            root.Add("model", model);
        }

        if (version.Params is { ValueKind: JsonValueKind.Object } parameters)
        {
            root.Add("params", ToYaml(parameters));
        }

        if (labels is { Count: > 0 })
        {
            var sequence = new YamlSequenceNode(labels.Select(l => new YamlScalarNode(l))) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
            root.Add("labels", sequence);
        }

        if (version.Message is { } commit)
        {
            root.Add("message", commit);
        }

        var writer = new StringWriter(CultureInfo.InvariantCulture);
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        var text = writer.ToString();
        // YamlStream ends a document with "...": not needed for a single-document file.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    /// <summary>Multi-line text as a literal block (|), so templates read as written.</summary>
    private static YamlScalarNode Text(string value) =>
        new(value) { Style = value.Contains('\n', StringComparison.Ordinal) && !value.Contains('\r', StringComparison.Ordinal) ? ScalarStyle.Literal : ScalarStyle.DoubleQuoted };

    private static YamlNode ToYaml(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => new YamlMappingNode(value.EnumerateObject().Select(p => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(p.Name), ToYaml(p.Value)))),
        JsonValueKind.Array => new YamlSequenceNode(value.EnumerateArray().Select(ToYaml)),
        JsonValueKind.String => new YamlScalarNode(value.GetString()) { Style = ScalarStyle.DoubleQuoted },
        JsonValueKind.Null => new YamlScalarNode("null"),
        _ => new YamlScalarNode(value.GetRawText()),
    };

    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberPattern();

    private sealed class Reader(string file)
    {
        public List<ConfigError> Errors { get; } = [];

        public PromptDraft Read(YamlMappingNode root)
        {
            foreach (var key in root.Children.Keys)
            {
                var name = (key as YamlScalarNode)?.Value ?? "";
                if (!Keys.Contains(name))
                {
                    Error(key, name, $"unknown field '{name}'; expected one of: {string.Join(", ", Keys)}");
                }
            }

            var promptName = Scalar(root, "name");
            if (promptName is null)
            {
                Error(root, "name", "is required: the prompt's name, e.g. support-reply");
            }

            var template = Scalar(root, "template");
            List<PromptMessage>? messages = null;
            if (Child(root, "messages") is { } messagesNode)
            {
                messages = ReadMessages(messagesNode);
            }

            var type = Scalar(root, "type") ?? (messages is not null ? PromptTypes.Chat : PromptTypes.Text);
            JsonElement? parameters = null;
            if (Child(root, "params") is { } paramsNode)
            {
                if (paramsNode is YamlMappingNode)
                {
                    using var document = JsonDocument.Parse((ToJson(paramsNode) ?? new JsonObject()).ToJsonString());
                    parameters = document.RootElement.Clone();
                }
                else
                {
                    Error(paramsNode, "params", "must be a mapping of chat-completion parameters, e.g. { temperature: 0.2, max_tokens: 300 }");
                }
            }

            var labels = new List<string>();
            if (Child(root, "labels") is { } labelsNode)
            {
                if (labelsNode is YamlSequenceNode list && list.Children.All(c => c is YamlScalarNode))
                {
                    labels.AddRange(list.Children.Select(c => ((YamlScalarNode)c).Value ?? ""));
                }
                else
                {
                    Error(labelsNode, "labels", "must be a list of label names, e.g. [staging]");
                }
            }

            // Returned even with errors, so the validator reports the rest of the file too.
            return new PromptDraft
            {
                Name = promptName ?? "",
                Type = type,
                Template = template,
                Messages = messages,
                Model = Scalar(root, "model"),
                Params = parameters,
                Labels = labels,
                Message = Scalar(root, "message"),
                Author = Scalar(root, "author"),
            };
        }

        private List<PromptMessage>? ReadMessages(YamlNode node)
        {
            if (node is not YamlSequenceNode list)
            {
                Error(node, "messages", "must be a list of { role, content }");
                return null;
            }

            var messages = new List<PromptMessage>();
            for (var i = 0; i < list.Children.Count; i++)
            {
                var path = $"messages[{i}]";
                if (list.Children[i] is not YamlMappingNode map)
                {
                    Error(list.Children[i], path, "must be a mapping { role, content }");
                    continue;
                }

                foreach (var key in map.Children.Keys)
                {
                    var name = (key as YamlScalarNode)?.Value ?? "";
                    if (!MessageKeys.Contains(name))
                    {
                        Error(key, $"{path}.{name}", $"unknown field '{name}'; expected role and content");
                    }
                }

                var role = Scalar(map, "role", path);
                var content = Scalar(map, "content", path);
                if (role is null)
                {
                    Error(map, $"{path}.role", "is required: system, developer, user or assistant");
                }

                if (content is null)
                {
                    Error(map, $"{path}.content", "is required: the message's template");
                }

                if (role is not null && content is not null)
                {
                    messages.Add(new PromptMessage { Role = role, Content = content });
                }
            }

            return messages;
        }

        /// <summary>The node a validator field refers to (e.g. messages[1].content, params.temperature), or the closest parent.</summary>
        public YamlNode NodeFor(string field, YamlMappingNode root)
        {
            YamlNode node = root;
            foreach (var part in field.Split('.'))
            {
                var name = part;
                int? index = null;
                var bracket = part.IndexOf('[', StringComparison.Ordinal);
                if (bracket > 0 && int.TryParse(part.AsSpan(bracket + 1, part.Length - bracket - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var i))
                {
                    name = part[..bracket];
                    index = i;
                }

                if (node is not YamlMappingNode map || Child(map, name) is not { } child)
                {
                    return node;
                }

                node = child;
                if (index is { } at)
                {
                    if (node is not YamlSequenceNode seq || at >= seq.Children.Count)
                    {
                        return node;
                    }

                    node = seq.Children[at];
                }
            }

            return node;
        }

        private string? Scalar(YamlMappingNode map, string key, string? parent = null)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }

            if (node is YamlScalarNode scalar)
            {
                return scalar.Value;
            }

            Error(node, parent is null ? key : $"{parent}.{key}", "must be a string");
            return null;
        }

        private static YamlNode? Child(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

        /// <summary>YAML to JSON: plain scalars are typed (numbers, true/false, null), quoted ones are strings.</summary>
        private static JsonNode? ToJson(YamlNode node) => node switch
        {
            YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
            YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
            YamlScalarNode { Style: ScalarStyle.Plain } s => s.Value switch
            {
                null or "" or "~" or "null" => null,
                "true" => JsonValue.Create(true),
                "false" => JsonValue.Create(false),
                var v when NumberPattern().IsMatch(v) => JsonNode.Parse(v),
                var v => JsonValue.Create(v),
            },
            YamlScalarNode s => JsonValue.Create(s.Value ?? ""),
            _ => null,
        };

        public void Error(YamlNode node, string field, string message) =>
            Errors.Add(new ConfigError(file, (int)node.Start.Line, (int)node.Start.Column, field, message));
    }
}
