using System.Text.Json;
using System.Text.Json.Serialization;

namespace Keel.Core.Prompts;

/// <summary>The two kinds of prompt.</summary>
public static class PromptTypes
{
    /// <summary>One template; it becomes one user message.</summary>
    public const string Text = "text";

    /// <summary>A list of messages with roles, each content a template.</summary>
    public const string Chat = "chat";
}

/// <summary>Well-known label names.</summary>
public static class PromptLabels
{
    /// <summary>What a request without label or version gets.</summary>
    public const string Production = "production";

    /// <summary>Implicit: always the highest version; cannot be set or moved.</summary>
    public const string Latest = "latest";
}

/// <summary>A message of a chat prompt as written: its content is a template.</summary>
public sealed record PromptMessage
{
    [JsonPropertyName("role")] public required string Role { get; init; }
    [JsonPropertyName("content")] public required string Content { get; init; }
}

/// <summary>What a push carries: the content of a new version, and the labels to point at it.</summary>
public sealed record PromptDraft
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    /// <summary>Text prompts only.</summary>
    public string? Template { get; init; }
    /// <summary>Chat prompts only.</summary>
    public IReadOnlyList<PromptMessage>? Messages { get; init; }
    public string? Model { get; init; }
    /// <summary>A JSON object of chat-completion parameters (temperature, max_tokens, response_format, tools, ...).</summary>
    public JsonElement? Params { get; init; }
    public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>The commit message.</summary>
    public string? Message { get; init; }
    public string? Author { get; init; }
}

/// <summary>An immutable version as stored.</summary>
public sealed record PromptVersion
{
    public required string Name { get; init; }
    public required int Version { get; init; }
    public required string Type { get; init; }
    public string? Template { get; init; }
    public IReadOnlyList<PromptMessage>? Messages { get; init; }
    public string? Model { get; init; }
    public JsonElement? Params { get; init; }
    public string? Message { get; init; }
    public string? Author { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>SHA-256 of the canonical content (type, template or messages, model, params).</summary>
    public required string ContentHash { get; init; }
    /// <summary>The labels pointing at this version now (filled by reads that know them).</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>The variables the templates need (filled by reads).</summary>
    public IReadOnlyList<string> Variables { get; init; } = [];
}

/// <summary>One prompt in a list: its newest version and where its labels point.</summary>
public sealed record PromptSummary
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required int LatestVersion { get; init; }
    public required IReadOnlyDictionary<string, int> Labels { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A prompt with its labels and every version (newest first, without content).</summary>
public sealed record PromptDetails
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required IReadOnlyDictionary<string, int> Labels { get; init; }
    public required IReadOnlyList<PromptVersion> Versions { get; init; }
}

/// <summary>The result of a push.</summary>
public sealed record PromptPushResult(PromptVersion Version, bool Created, IReadOnlyList<LabelMove> LabelMoves);

/// <summary>What a label move did.</summary>
public static class LabelActions
{
    public const string Push = "push";
    public const string Promote = "promote";
    public const string Rollback = "rollback";
    public const string Remove = "remove";
}

/// <summary>One entry of a label's history: from which version to which, why and by whom.</summary>
public sealed record LabelMove
{
    public required string Name { get; init; }
    public required string Label { get; init; }
    public int? FromVersion { get; init; }
    public int? ToVersion { get; init; }
    public required string Action { get; init; }
    public string? Actor { get; init; }
    public required DateTimeOffset At { get; init; }
}

/// <summary>Everything about one prompt that the gateway serves from memory.</summary>
public sealed record PromptState(string Name, IReadOnlyList<PromptVersion> Versions, IReadOnlyDictionary<string, int> Labels);

/// <summary>A problem with a draft: the field (e.g. messages[1].content), the message, and for templates where.</summary>
public sealed record PromptProblem(string Field, string Message, TemplatePosition? Position = null)
{
    public override string ToString() => Position is { } p ? $"{Field}: {Message} (template {p})" : $"{Field}: {Message}";
}
