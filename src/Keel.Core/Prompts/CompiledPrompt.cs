using System.Text.Json;
using Keel.Core.Wire;

namespace Keel.Core.Prompts;

/// <summary>
/// A version ready to serve: templates compiled, params read into a chat request once. Built when
/// the registry loads a version, so a request only renders and merges.
/// </summary>
public sealed class CompiledPrompt
{
    private readonly (string Role, PromptTemplate Template)[] _templates;

    private CompiledPrompt(PromptVersion version, (string Role, PromptTemplate Template)[] templates, ChatCompletionRequest defaults)
    {
        Version = version;
        _templates = templates;
        Defaults = defaults;
        var variables = new List<string>();
        foreach (var (_, template) in templates)
        {
            foreach (var name in template.Variables)
            {
                if (!variables.Contains(name))
                {
                    variables.Add(name);
                }
            }
        }

        Variables = variables;
    }

    public PromptVersion Version { get; }

    /// <summary>The params as a request whose set fields are the prompt's defaults (shared: never mutate it).</summary>
    public ChatCompletionRequest Defaults { get; }

    /// <summary>The variables every template of the version needs, in order of first use.</summary>
    public IReadOnlyList<string> Variables { get; }

    /// <summary>Compiles a stored version; fails only if the version was stored without validation.</summary>
    public static CompiledPrompt Compile(PromptVersion version)
    {
        var sources = version.Type == PromptTypes.Chat
            ? (version.Messages ?? []).Select(m => (m.Role, m.Content))
            : [("user", version.Template ?? "")];
        var templates = new List<(string, PromptTemplate)>();
        foreach (var (role, source) in sources)
        {
            if (!PromptTemplate.TryParse(source, out var template, out var error))
            {
                throw new InvalidDataException($"Stored prompt '{version.Name}' version {version.Version} has an invalid template: {error}.");
            }

            templates.Add((role, template));
        }

        var defaults = version.Params is { } p
            ? PromptValidator.ReadParams(p) ?? throw new InvalidDataException($"Stored prompt '{version.Name}' version {version.Version} has invalid params.")
            : new ChatCompletionRequest();
        return new CompiledPrompt(version, [.. templates], defaults);
    }

    /// <summary>
    /// Renders every template into messages (a text prompt gives one user message). On failure,
    /// <paramref name="field"/> names the template that failed: "template" or "messages[i].content".
    /// </summary>
    public bool TryRender(JsonElement? variables, out List<ChatMessage> messages, out RenderError? error, out string? field)
    {
        messages = new List<ChatMessage>(_templates.Length);
        for (var i = 0; i < _templates.Length; i++)
        {
            var (role, template) = _templates[i];
            if (!template.TryRender(variables, out var text, out error))
            {
                field = Version.Type == PromptTypes.Chat ? $"messages[{i}].content" : "template";
                return false;
            }

            messages.Add(new ChatMessage { Role = role, Content = new MessageContent(text) });
        }

        error = null;
        field = null;
        return true;
    }

    /// <summary>
    /// Puts the prompt's params into <paramref name="request"/> wherever the request did not set the
    /// field itself: the request always wins. max_tokens and max_completion_tokens count as one.
    /// </summary>
    public void ApplyDefaults(ChatCompletionRequest request)
    {
        var d = Defaults;
        request.Tools ??= d.Tools;
        request.ToolChoice ??= d.ToolChoice;
        request.ParallelToolCalls ??= d.ParallelToolCalls;
        request.ResponseFormat ??= d.ResponseFormat;
        request.Temperature ??= d.Temperature;
        request.TopP ??= d.TopP;
        if (request.MaxTokens is null && request.MaxCompletionTokens is null)
        {
            request.MaxTokens = d.MaxTokens;
            request.MaxCompletionTokens = d.MaxCompletionTokens;
        }

        request.Stop ??= d.Stop;
        request.Seed ??= d.Seed;
        request.N ??= d.N;
        request.Metadata ??= d.Metadata;
        request.PresencePenalty ??= d.PresencePenalty;
        request.FrequencyPenalty ??= d.FrequencyPenalty;
        request.LogitBias ??= d.LogitBias;
        request.Logprobs ??= d.Logprobs;
        request.TopLogprobs ??= d.TopLogprobs;
        if (d.Extra is { Count: > 0 } extra)
        {
            request.Extra ??= new Dictionary<string, JsonElement>(extra.Count, StringComparer.Ordinal);
            foreach (var (key, value) in extra)
            {
                request.Extra.TryAdd(key, value);
            }
        }
    }
}
