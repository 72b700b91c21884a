using System.Runtime.CompilerServices;
using System.Text.Json;
using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Providers.Anthropic;

/// <summary>
/// Turns Anthropic's streaming events into OpenAI chat.completion.chunk payloads, one event at a time
/// (nothing is buffered beyond the event being read).
/// </summary>
/// <remarks>
/// An <c>error</c> event is thrown as <see cref="UpstreamStreamException"/> whose status is the one Anthropic
/// uses for that error type over HTTP (overloaded_error 529, rate_limit_error 429, api_error 500, …; unknown
/// types 502), with Anthropic's error type and message, exactly as a non-streaming error would surface.
/// </remarks>
internal sealed class AnthropicStreamTranslator(string provider, bool includeUsage, TimeProvider time)
{
    private readonly Dictionary<int, int> _toolIndexByBlock = [];
    private string _id = "";
    private string _model = "";
    private long _created;
    private AnthropicUsage? _startUsage;
    private int? _outputTokens;

    /// <summary>True once message_stop arrived: the answer is complete.</summary>
    public bool Completed { get; private set; }

    /// <summary>Usage as known so far (complete once <see cref="Completed"/>).</summary>
    public Usage Usage => AnthropicTranslator.ToUsage(_startUsage, _outputTokens);

    /// <summary>Reads an Anthropic SSE stream and yields the OpenAI chunks as each event arrives.</summary>
    public static async IAsyncEnumerable<ReadOnlyMemory<byte>> TranslateAsync(
        Stream stream, string provider, bool includeUsage, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var translator = new AnthropicStreamTranslator(provider, includeUsage, time);
        var output = new List<byte[]>(2);
        var events = ServerSentEvents.ReadAsync(stream, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (!translator.Completed)
            {
                try
                {
                    if (!await events.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    throw new UpstreamStreamException(GatewayError.UpstreamUnreachable(provider, "the stream broke: " + ex.Message), ex);
                }

                translator.Translate(events.Current.Data.Span, output);
                foreach (var chunk in output)
                {
                    yield return chunk;
                }

                output.Clear();
            }
        }
        finally
        {
            await events.DisposeAsync();
        }

        if (!translator.Completed)
        {
            throw new UpstreamStreamException(GatewayError.UpstreamUnreachable(provider, "the stream ended before message_stop"));
        }
    }

    /// <summary>Translates one event's JSON, adding the chunks it produces (zero or more) to <paramref name="output"/>.</summary>
    public void Translate(ReadOnlySpan<byte> data, List<byte[]> output)
    {
        AnthropicStreamEvent? e;
        try
        {
            e = JsonSerializer.Deserialize(data, AnthropicJsonContext.Default.AnthropicStreamEvent);
        }
        catch (JsonException)
        {
            throw new UpstreamStreamException(GatewayError.UpstreamInvalid(provider, "a stream event is not valid JSON"));
        }

        switch (e?.Type)
        {
            case "message_start":
                var message = e.Message;
                _id = message?.Id ?? "";
                _model = message?.Model ?? "";
                _startUsage = message?.Usage;
                _created = time.GetUtcNow().ToUnixTimeSeconds();
                output.Add(Chunk(new ChatMessage { Role = "assistant", Content = new MessageContent("") }, null));
                break;

            case "content_block_start" when e.ContentBlock is { } block:
                if (block.Type == "tool_use")
                {
                    var toolIndex = _toolIndexByBlock.Count;
                    _toolIndexByBlock[e.Index ?? toolIndex] = toolIndex;
                    output.Add(Chunk(new ChatMessage
                    {
                        ToolCalls = [new ToolCall { Index = toolIndex, Id = block.Id, Type = "function", Function = new FunctionCall { Name = block.Name, Arguments = "" } }],
                    }, null));
                }
                else if (block.Type == "text" && !string.IsNullOrEmpty(block.Text))
                {
                    output.Add(Chunk(new ChatMessage { Content = new MessageContent(block.Text) }, null));
                }

                break;

            case "content_block_delta" when e.Delta is { } delta:
                if (delta.Type == "text_delta" && !string.IsNullOrEmpty(delta.Text))
                {
                    output.Add(Chunk(new ChatMessage { Content = new MessageContent(delta.Text) }, null));
                }
                else if (delta.Type == "input_json_delta" && !string.IsNullOrEmpty(delta.PartialJson) &&
                         e.Index is { } blockIndex && _toolIndexByBlock.TryGetValue(blockIndex, out var index))
                {
                    output.Add(Chunk(new ChatMessage
                    {
                        ToolCalls = [new ToolCall { Index = index, Function = new FunctionCall { Arguments = delta.PartialJson } }],
                    }, null));
                }

                // thinking_delta, signature_delta, citations_delta: not part of the OpenAI answer.
                break;

            case "message_delta":
                if (e.Usage is { } usage)
                {
                    _outputTokens = usage.OutputTokens ?? _outputTokens;
                    // Newer API versions repeat the (final) input counts here.
                    if (usage.InputTokens is not null || usage.CacheReadInputTokens is not null || usage.CacheCreationInputTokens is not null)
                    {
                        _startUsage ??= new AnthropicUsage();
                        _startUsage.InputTokens = usage.InputTokens ?? _startUsage.InputTokens;
                        _startUsage.CacheReadInputTokens = usage.CacheReadInputTokens ?? _startUsage.CacheReadInputTokens;
                        _startUsage.CacheCreationInputTokens = usage.CacheCreationInputTokens ?? _startUsage.CacheCreationInputTokens;
                    }
                }

                output.Add(Chunk(new ChatMessage(), AnthropicTranslator.MapStopReason(e.Delta?.StopReason)));
                break;

            case "message_stop":
                Completed = true;
                if (includeUsage)
                {
                    var last = new ChatCompletionChunk { Id = _id, Created = Created, Model = _model, Usage = Usage };
                    output.Add(JsonSerializer.SerializeToUtf8Bytes(last, KeelJson.Context.ChatCompletionChunk));
                }

                break;

            case "error":
                throw new UpstreamStreamException(UpstreamErrors.FromBody(provider, ErrorStatus(e.Error?.Type), data));

            default:
                // ping, content_block_stop, and event types added later: nothing to relay.
                break;
        }
    }

    /// <summary>The HTTP status Anthropic documents for an error type; 502 for types it does not list.</summary>
    public static int ErrorStatus(string? errorType) => errorType switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 502,
    };

    private long Created => _created != 0 ? _created : _created = time.GetUtcNow().ToUnixTimeSeconds();

    private byte[] Chunk(ChatMessage delta, string? finishReason)
    {
        var chunk = new ChatCompletionChunk
        {
            Id = _id,
            Created = Created,
            Model = _model,
            Choices = [new ChunkChoice { Index = 0, Delta = delta, FinishReason = finishReason }],
        };
        return JsonSerializer.SerializeToUtf8Bytes(chunk, KeelJson.Context.ChatCompletionChunk);
    }
}
