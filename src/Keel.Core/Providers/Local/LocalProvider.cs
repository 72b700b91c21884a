using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Providers.Local;

/// <summary>
/// The built-in offline provider: <c>echo</c> (answers with the last user message), <c>extractive</c>
/// (quotes the most relevant sentences of the context) and <c>hash-embed</c> (embeddings).
/// Needs no network and no key, so Keel runs and can be tested anywhere.
/// </summary>
internal sealed class LocalProvider(string name, TimeProvider time) : IModelProvider
{
    public string Name => name;

    public ValueTask<ProviderResult> ChatAsync(ChatCall call, CancellationToken cancellationToken)
    {
        var messages = call.Request.Messages ?? [];
        string text;
        switch (call.UpstreamModel)
        {
            case "echo":
                text = messages.LastOrDefault(m => m.Role == "user")?.Content?.GetText() ?? "";
                break;
            case "extractive":
                text = ExtractiveAnswerer.Answer(messages);
                break;
            case "hash-embed":
                return ValueTask.FromResult(ProviderResult.Fail(GatewayError.InvalidRequest(
                    "local/hash-embed is an embeddings model; call /v1/embeddings with it.", "model", "model_not_supported")));
            default:
                return ValueTask.FromResult(ProviderResult.Fail(GatewayError.ModelNotFound(call.UpstreamModel, $"The local provider has no model '{call.UpstreamModel}'.")));
        }

        var (content, finish) = ApplyLimits(text, call.Request);
        var promptTokens = messages.Sum(m => 4 + TokenEstimator.Count(m.Content?.GetText() ?? "")) + 3;
        var completionTokens = TokenEstimator.Count(content);
        var usage = new Usage { PromptTokens = promptTokens, CompletionTokens = completionTokens, TotalTokens = promptTokens + completionTokens };
        var id = "chatcmpl-" + TraceBuilder.NewSpanId();
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var model = "local/" + call.UpstreamModel;
        var n = Math.Max(1, call.Request.N ?? 1);

        if (call.Stream)
        {
            // Always with the usage chunk: the record stage meters from it and drops it when the
            // client did not ask for stream_options.include_usage.
            return ValueTask.FromResult(ProviderResult.Ok(new StreamingResponse
            {
                Chunks = StreamAsync(id, created, model, n, content, finish, usage, cancellationToken),
            }));
        }

        var response = new ChatCompletionResponse
        {
            Id = id,
            Created = created,
            Model = model,
            Usage = usage,
            Choices = [.. Enumerable.Range(0, n).Select(i => new ChatChoice
            {
                Index = i,
                Message = new ChatMessage { Role = "assistant", Content = new MessageContent(content) },
                FinishReason = finish,
            })],
        };
        var body = JsonSerializer.SerializeToUtf8Bytes(response, KeelJson.Context.ChatCompletionResponse);
        return ValueTask.FromResult(ProviderResult.Ok(new JsonBodyResponse { Body = body, Usage = usage }));
    }

    public ValueTask<ProviderResult> EmbedAsync(EmbedCall call, CancellationToken cancellationToken)
    {
        if (call.UpstreamModel != "hash-embed")
        {
            return ValueTask.FromResult(ProviderResult.Fail(GatewayError.InvalidRequest(
                $"local/{call.UpstreamModel} is a chat model; use local/hash-embed for embeddings.", "model", "model_not_supported")));
        }

        var dimensions = call.Request.Dimensions ?? HashEmbedder.DefaultDimensions;
        if (dimensions is < 1 or > HashEmbedder.MaxDimensions)
        {
            return ValueTask.FromResult(ProviderResult.Fail(GatewayError.InvalidRequest(
                $"'dimensions' must be between 1 and {HashEmbedder.MaxDimensions}.", "dimensions")));
        }

        var base64 = call.Request.EncodingFormat == "base64";
        var response = new EmbeddingResponse { Model = "local/hash-embed" };
        var tokens = 0;
        var index = 0;
        foreach (var input in EmbeddingInputs.Read(call.Request.Input!.Value))
        {
            var vector = input.Text is { } text ? HashEmbedder.Embed(text, dimensions) : HashEmbedder.EmbedTokens(input.Tokens!, dimensions);
            tokens += input.Text is { } t ? TokenEstimator.Count(t) : input.Tokens!.Count;
            response.Data.Add(new EmbeddingItem { Index = index++, Embedding = new EmbeddingVector(vector, base64) });
        }

        response.Usage = new EmbeddingUsage { PromptTokens = tokens, TotalTokens = tokens };
        var body = JsonSerializer.SerializeToUtf8Bytes(response, KeelJson.Context.EmbeddingResponse);
        return ValueTask.FromResult(ProviderResult.Ok(new JsonBodyResponse
        {
            Body = body,
            Usage = new Usage { PromptTokens = tokens, TotalTokens = tokens },
        }));
    }

    /// <summary>Cuts at the first stop sequence, then at the output token limit, as a model would.</summary>
    private static (string Content, string Finish) ApplyLimits(string text, ChatCompletionRequest request)
    {
        var finish = "stop";
        foreach (var stop in request.GetStopSequences())
        {
            var at = stop.Length > 0 ? text.IndexOf(stop, StringComparison.Ordinal) : -1;
            if (at >= 0)
            {
                text = text[..at];
            }
        }

        if (request.OutputTokenLimit is { } limit && TokenEstimator.Count(text) > limit)
        {
            text = TokenEstimator.Truncate(text, limit);
            finish = "length";
        }

        return (text, finish);
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> StreamAsync(
        string id, long created, string model, int n, string content, string finish, Usage? usage,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var i = 0; i < n; i++)
        {
            yield return Chunk(id, created, model, i, new ChatMessage { Role = "assistant", Content = new MessageContent("") }, null);
        }

        foreach (var piece in SplitKeepingSpaces(content))
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var i = 0; i < n; i++)
            {
                yield return Chunk(id, created, model, i, new ChatMessage { Content = new MessageContent(piece) }, null);
            }

            await Task.Yield();
        }

        for (var i = 0; i < n; i++)
        {
            yield return Chunk(id, created, model, i, new ChatMessage(), finish);
        }

        if (usage is not null)
        {
            var last = new ChatCompletionChunk { Id = id, Created = created, Model = model, Usage = usage };
            yield return JsonSerializer.SerializeToUtf8Bytes(last, KeelJson.Context.ChatCompletionChunk);
        }
    }

    private static byte[] Chunk(string id, long created, string model, int index, ChatMessage delta, string? finish)
    {
        var chunk = new ChatCompletionChunk
        {
            Id = id,
            Created = created,
            Model = model,
            Choices = [new ChunkChoice { Index = index, Delta = delta, FinishReason = finish }],
        };
        return JsonSerializer.SerializeToUtf8Bytes(chunk, KeelJson.Context.ChatCompletionChunk);
    }

    /// <summary>Word-sized pieces ("Hello", " world") whose concatenation is the text.</summary>
    internal static IEnumerable<string> SplitKeepingSpaces(string text)
    {
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || (char.IsWhiteSpace(text[i]) && !char.IsWhiteSpace(text[i - 1])))
            {
                yield return text[start..i];
                start = i;
            }
        }
    }
}

/// <summary>One input of an embeddings request: a text or a list of token ids.</summary>
internal readonly record struct EmbeddingInput(string? Text, List<long>? Tokens);

internal static class EmbeddingInputs
{
    /// <summary>Reads any of the four shapes of "input"; <see cref="Validate"/> has checked it.</summary>
    public static IEnumerable<EmbeddingInput> Read(JsonElement input)
    {
        if (input.ValueKind == JsonValueKind.String)
        {
            yield return new EmbeddingInput(input.GetString(), null);
            yield break;
        }

        if (input.GetArrayLength() > 0 && input[0].ValueKind == JsonValueKind.Number)
        {
            yield return new EmbeddingInput(null, [.. input.EnumerateArray().Select(e => e.GetInt64())]);
            yield break;
        }

        foreach (var item in input.EnumerateArray())
        {
            yield return item.ValueKind == JsonValueKind.String
                ? new EmbeddingInput(item.GetString(), null)
                : new EmbeddingInput(null, [.. item.EnumerateArray().Select(e => e.GetInt64())]);
        }
    }

    /// <summary>Null when valid, otherwise the message to send back.</summary>
    public static string? Validate(JsonElement? input)
    {
        if (input is not { } value || value.ValueKind == JsonValueKind.Null)
        {
            return "'input' is required: a string, an array of strings, an array of token ids, or an array of such arrays.";
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            return "'input' must be a non-empty string or a non-empty array.";
        }

        var first = value[0].ValueKind;
        foreach (var item in value.EnumerateArray())
        {
            var ok = first switch
            {
                JsonValueKind.String => item.ValueKind == JsonValueKind.String,
                JsonValueKind.Number => item.ValueKind == JsonValueKind.Number && item.TryGetInt64(out _),
                JsonValueKind.Array => item.ValueKind == JsonValueKind.Array && item.GetArrayLength() > 0 && item.EnumerateArray().All(t => t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out _)),
                _ => false,
            };
            if (!ok)
            {
                return "'input' must not mix shapes: all strings, all token ids, or all arrays of token ids.";
            }
        }

        return null;
    }
}

/// <summary>A rough token count for models whose tokenizer Keel does not have: about four UTF-8 bytes a token.</summary>
public static class TokenEstimator
{
    public static int Count(string text) => text.Length == 0 ? 0 : Math.Max(1, (Encoding.UTF8.GetByteCount(text) + 3) / 4);

    public static string Truncate(string text, int tokens)
    {
        var budget = tokens * 4;
        var sb = new StringBuilder();
        var used = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            used += rune.Utf8SequenceLength;
            if (used > budget)
            {
                break;
            }

            sb.Append(rune.ToString());
        }

        return sb.ToString();
    }
}
