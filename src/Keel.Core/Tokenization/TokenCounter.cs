using System.Text.Json;
using Keel.Core.Wire;

namespace Keel.Core.Tokenization;

/// <summary>A token count and how far to trust it.</summary>
/// <param name="Count">The number of tokens.</param>
/// <param name="IsEstimate">
/// False when the count is what OpenAI bills for: an OpenAI model whose encoding Keel has, and only
/// text (plus, for chats, the documented per-message overhead). True for other providers' models,
/// images, tool calls and tool definitions.
/// </param>
/// <param name="Encoding">The encoding counted with (an estimate for another model counts with o200k_base).</param>
public readonly record struct TokenCount(int Count, bool IsEstimate, string Encoding);

/// <summary>
/// Counts tokens for a model: the model's tiktoken encoding when it is an OpenAI model, otherwise
/// o200k_base flagged as an estimate. Chats follow OpenAI's cookbook rule: 3 tokens per message,
/// 1 more when it has a name, 3 to prime the reply.
/// </summary>
public static class TokenCounter
{
    /// <summary>Tokens around each message (<c>&lt;|start|&gt;{role}&lt;|message|&gt;…&lt;|end|&gt;</c>).</summary>
    public const int TokensPerMessage = 3;

    /// <summary>Extra tokens for a message with a <c>name</c>.</summary>
    public const int TokensPerName = 1;

    /// <summary>Tokens that prime the reply (<c>&lt;|start|&gt;assistant&lt;|message|&gt;</c>).</summary>
    public const int ReplyPrimingTokens = 3;

    /// <summary>
    /// An image part counts as a low-detail image (85 tokens): the real cost of other details depends
    /// on the image's size, which Keel does not fetch. The count is then an estimate.
    /// </summary>
    public const int ImageTokensEstimate = 85;

    // Cookbook approximations for tool definitions (gpt-4o family); counts with tools are estimates.
    private const int ToolCallTokens = 3;
    private const int FunctionTokens = 7;
    private const int FunctionsEndTokens = 12;

    /// <summary>
    /// Loads the vocabularies that counting for <paramref name="upstreamModels"/> needs (o200k_base, the
    /// fallback, always). A vocabulary loads on first use in 50–70 ms, which the first request needing a
    /// count (a stream without usage, a token limit) would otherwise wait for: at the end of the first
    /// stream, its last event came 68 ms late. Keel calls this in the background once it is listening.
    /// </summary>
    public static void Preload(IEnumerable<string?> upstreamModels)
    {
        _ = BpeTokenizer.O200kBase;
        foreach (var model in upstreamModels)
        {
            _ = BpeTokenizer.TryGet(EncodingForModel(model), out _);
        }
    }

    /// <summary>
    /// The encoding of an OpenAI model, or null when Keel does not know the model's tokenizer.
    /// Accepts dated snapshots (gpt-4o-2024-08-06), fine-tunes (ft:gpt-4o-mini:org::id) and a
    /// provider prefix (openai/gpt-4o).
    /// </summary>
    public static string? EncodingForModel(string? model)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            return null;
        }

        var name = model.Trim();
        if (name.StartsWith("ft:", StringComparison.OrdinalIgnoreCase))
        {
            name = name[3..];
            var colon = name.IndexOf(':', StringComparison.Ordinal);
            name = colon >= 0 ? name[..colon] : name;
        }

        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        if (HasPrefix(name, "gpt-5") || HasPrefix(name, "gpt-4o") || HasPrefix(name, "gpt-4.1") || HasPrefix(name, "gpt-4.5")
            || HasPrefix(name, "chatgpt-4o") || IsModelFamily(name, "o1") || IsModelFamily(name, "o3") || IsModelFamily(name, "o4"))
        {
            return TokenEncodings.O200kBase;
        }

        if (IsModelFamily(name, "gpt-4") || HasPrefix(name, "gpt-3.5-turbo") || HasPrefix(name, "gpt-35-turbo")
            || HasPrefix(name, "text-embedding-3-") || name.Equals("text-embedding-ada-002", StringComparison.OrdinalIgnoreCase))
        {
            return TokenEncodings.Cl100kBase;
        }

        return null;

        static bool HasPrefix(string name, string prefix) => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase);

        // "o1" and "o1-mini", not "o1x"; "gpt-4" and "gpt-4-turbo", not "gpt-4o".
        static bool IsModelFamily(string name, string family) =>
            HasPrefix(name, family) && (name.Length == family.Length || name[family.Length] == '-');
    }

    /// <summary>The tokens of a text for a model.</summary>
    public static TokenCount CountText(string? model, string text)
    {
        var (tokenizer, estimate) = TokenizerFor(model);
        return new TokenCount(tokenizer.CountTokens(text), estimate, tokenizer.Name);
    }

    /// <summary>The prompt tokens of a chat completion request: its messages and tool definitions.</summary>
    public static TokenCount CountPrompt(ChatCompletionRequest request) => CountPrompt(request, request.Model);

    /// <summary>The prompt tokens of a chat completion request as <paramref name="model"/> (e.g. the upstream model behind an alias) counts them.</summary>
    public static TokenCount CountPrompt(ChatCompletionRequest request, string? model)
    {
        var (tokenizer, estimate) = TokenizerFor(model);
        var count = CountMessages(tokenizer, request.Messages ?? [], ref estimate);
        if (request.Tools is { Count: > 0 } tools)
        {
            count += CountTools(tokenizer, tools);
            estimate = true;
        }

        return new TokenCount(count, estimate, tokenizer.Name);
    }

    /// <summary>The prompt tokens of chat messages for a model, reply priming included.</summary>
    public static TokenCount CountMessages(string? model, IReadOnlyList<ChatMessage> messages)
    {
        var (tokenizer, estimate) = TokenizerFor(model);
        var count = CountMessages(tokenizer, messages, ref estimate);
        return new TokenCount(count, estimate, tokenizer.Name);
    }

    private static (BpeTokenizer Tokenizer, bool Estimate) TokenizerFor(string? model) =>
        BpeTokenizer.TryGet(EncodingForModel(model), out var tokenizer) ? (tokenizer, false) : (BpeTokenizer.O200kBase, true);

    private static int CountMessages(BpeTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, ref bool estimate)
    {
        var count = ReplyPrimingTokens;
        foreach (var message in messages)
        {
            count += TokensPerMessage + Count(tokenizer, message.Role);
            if (message.Name is { } name)
            {
                count += tokenizer.CountTokens(name) + TokensPerName;
            }

            if (message.Content is { Text: { } text })
            {
                count += tokenizer.CountTokens(text);
            }
            else if (message.Content is { Parts: { } parts })
            {
                foreach (var part in parts)
                {
                    if (part.Type == "text")
                    {
                        count += Count(tokenizer, part.Text);
                    }
                    else
                    {
                        count += part.Type == "image_url" ? ImageTokensEstimate : 0;
                        estimate = true;
                    }
                }
            }

            if (message.Refusal is { } refusal)
            {
                count += tokenizer.CountTokens(refusal);
            }

            // How OpenAI renders tool calls and tool results is not documented: count their text.
            if (message.ToolCalls is { Count: > 0 } calls)
            {
                foreach (var call in calls)
                {
                    count += ToolCallTokens + Count(tokenizer, call.Function?.Name) + Count(tokenizer, call.Function?.Arguments);
                }

                estimate = true;
            }

            if (message.ToolCallId is { } toolCallId)
            {
                count += tokenizer.CountTokens(toolCallId);
                estimate = true;
            }
        }

        return count;
    }

    private static int CountTools(BpeTokenizer tokenizer, List<ChatTool> tools)
    {
        var count = FunctionsEndTokens;
        foreach (var tool in tools)
        {
            var function = tool.Function;
            count += FunctionTokens + Count(tokenizer, function?.Name) + Count(tokenizer, function?.Description);
            if (function?.Parameters is { ValueKind: not JsonValueKind.Null } parameters)
            {
                count += tokenizer.CountTokens(parameters.GetRawText());
            }
        }

        return count;
    }

    private static int Count(BpeTokenizer tokenizer, string? text) => string.IsNullOrEmpty(text) ? 0 : tokenizer.CountTokens(text);
}
