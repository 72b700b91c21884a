using System.Text;
using System.Text.Json;
using Keel.Core.Wire;

namespace Keel.Core.Recording;

/// <summary>
/// Rebuilds a chat.completion from the chunks of a stream (content, tool calls, finish reasons,
/// usage), so a streamed call is stored like any other.
/// </summary>
internal sealed class StreamAccumulator
{
    private readonly SortedDictionary<int, ChoiceState> _choices = [];
    private string? _id;
    private string? _model;
    private long _created;

    public Usage? Usage { get; private set; }

    public int Chunks { get; private set; }

    public bool HadUnreadableChunk { get; private set; }

    /// <summary>
    /// True when the chunk just added carried only usage (no choices): the chunk OpenAI sends last
    /// for <c>stream_options.include_usage</c>, which Keel asks for even when the client did not.
    /// </summary>
    public bool LastWasUsageOnly { get; private set; }

    /// <summary>The completion's id, as the first chunk gave it.</summary>
    public string? Id => _id;

    /// <summary>The model that answered, as the first chunk named it.</summary>
    public string? Model => _model;

    public void Add(ReadOnlySpan<byte> json)
    {
        Chunks++;
        LastWasUsageOnly = false;
        ChatCompletionChunk? chunk;
        try
        {
            chunk = JsonSerializer.Deserialize(json, KeelJsonContext.Default.ChatCompletionChunk);
        }
        catch (JsonException)
        {
            HadUnreadableChunk = true;
            return;
        }

        if (chunk is null)
        {
            return;
        }

        LastWasUsageOnly = chunk.Usage is not null && chunk.Choices.Count == 0;

        _id ??= chunk.Id;
        _model ??= chunk.Model;
        _created = _created == 0 ? chunk.Created : _created;
        if (chunk.Usage is not null)
        {
            Usage = chunk.Usage;
        }

        foreach (var choice in chunk.Choices)
        {
            if (!_choices.TryGetValue(choice.Index, out var state))
            {
                state = new ChoiceState();
                _choices[choice.Index] = state;
            }

            var delta = choice.Delta;
            if (delta.Content?.Text is { } text)
            {
                state.Content.Append(text);
            }

            if (delta.Refusal is { } refusal)
            {
                state.Refusal.Append(refusal);
            }

            if (delta.ToolCalls is { } calls)
            {
                foreach (var call in calls)
                {
                    var index = call.Index ?? state.ToolCalls.Count;
                    if (!state.ToolCalls.TryGetValue(index, out var existing))
                    {
                        existing = new ToolCall { Id = call.Id, Type = call.Type ?? "function", Function = new FunctionCall { Name = call.Function?.Name, Arguments = "" } };
                        state.ToolCalls[index] = existing;
                    }

                    existing.Id ??= call.Id;
                    existing.Function!.Name ??= call.Function?.Name;
                    existing.Function.Arguments += call.Function?.Arguments;
                }
            }

            if (choice.FinishReason is not null)
            {
                state.FinishReason = choice.FinishReason;
            }
        }
    }

    /// <summary>
    /// Everything the model generated so far, all choices: content, refusals, tool call names and
    /// arguments (what Keel counts when the provider reports no usage).
    /// </summary>
    public string GeneratedText()
    {
        var text = new StringBuilder();
        foreach (var choice in _choices.Values)
        {
            text.Append(choice.Content).Append(choice.Refusal);
            foreach (var call in choice.ToolCalls.Values)
            {
                text.Append(call.Function?.Name).Append(call.Function?.Arguments);
            }
        }

        return text.ToString();
    }

    /// <summary>The finish reason of each choice that has one, in choice order.</summary>
    public IReadOnlyList<string> FinishReasons => [.. _choices.Values.Select(c => c.FinishReason).OfType<string>()];

    public ChatCompletionResponse ToResponse() => new()
    {
        Id = _id ?? "",
        Created = _created,
        Model = _model ?? "",
        Usage = Usage,
        Choices = [.. _choices.Select(c => new ChatChoice
        {
            Index = c.Key,
            FinishReason = c.Value.FinishReason,
            Message = new ChatMessage
            {
                Role = "assistant",
                Content = c.Value.Content.Length > 0 || c.Value.ToolCalls.Count == 0 ? new MessageContent(c.Value.Content.ToString()) : null,
                Refusal = c.Value.Refusal.Length > 0 ? c.Value.Refusal.ToString() : null,
                ToolCalls = c.Value.ToolCalls.Count > 0 ? [.. c.Value.ToolCalls.Values] : null,
            },
        })],
    };

    private sealed class ChoiceState
    {
        public StringBuilder Content { get; } = new();
        public StringBuilder Refusal { get; } = new();
        public SortedDictionary<int, ToolCall> ToolCalls { get; } = [];
        public string? FinishReason { get; set; }
    }
}
