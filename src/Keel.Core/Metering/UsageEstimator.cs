using System.Text;
using System.Text.Json;
using Keel.Core.Tokenization;
using Keel.Core.Wire;

namespace Keel.Core.Metering;

/// <summary>
/// Counts a call's tokens when the provider reported no usage: the prompt with
/// <see cref="TokenCounter"/>, the answer from its text (content, refusals, tool calls).
/// </summary>
internal static class UsageEstimator
{
    /// <summary>Tokens of a chat call whose answer text is known.</summary>
    public static (int Input, int Output) Chat(ChatCompletionRequest request, string? model, string answer) =>
        (TokenCounter.CountPrompt(request, model).Count, answer.Length == 0 ? 0 : TokenCounter.CountText(model, answer).Count);

    /// <summary>The generated text of a chat.completion body, or "" when it cannot be read.</summary>
    public static string AnswerText(ReadOnlySpan<byte> completionJson)
    {
        ChatCompletionResponse? response;
        try
        {
            response = JsonSerializer.Deserialize(completionJson, KeelJsonContext.Default.ChatCompletionResponse);
        }
        catch (JsonException)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var choice in response?.Choices ?? [])
        {
            text.Append(choice.Message.Content?.GetText()).Append(choice.Message.Refusal);
            foreach (var call in choice.Message.ToolCalls ?? [])
            {
                text.Append(call.Function?.Name).Append(call.Function?.Arguments);
            }
        }

        return text.ToString();
    }

    /// <summary>Tokens of an embeddings input: strings are counted, token-id arrays are their length.</summary>
    public static int EmbeddingInput(EmbeddingRequest request, string? model)
    {
        if (request.Input is not { } input)
        {
            return 0;
        }

        return input.ValueKind switch
        {
            JsonValueKind.String => TokenCounter.CountText(model, input.GetString()!).Count,
            JsonValueKind.Array => input.EnumerateArray().Sum(item => item.ValueKind switch
            {
                JsonValueKind.String => TokenCounter.CountText(model, item.GetString()!).Count,
                JsonValueKind.Number => 1,
                JsonValueKind.Array => item.GetArrayLength(),
                _ => 0,
            }),
            _ => 0,
        };
    }
}
