using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Providers.Anthropic;

/// <summary>
/// Anthropic's Messages API behind the OpenAI Chat Completions wire format: every request is translated
/// (<see cref="AnthropicTranslator"/>), every answer translated back, streams event by event
/// (<see cref="AnthropicStreamTranslator"/>).
/// </summary>
internal sealed class AnthropicProvider(ProviderConfig config, HttpClient http, TimeProvider time) : IModelProvider
{
    public const string ApiVersion = "2023-06-01";

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    public string Name => config.Name;

    public async ValueTask<ProviderResult> ChatAsync(ChatCall call, CancellationToken cancellationToken)
    {
        var translation = AnthropicTranslator.ToAnthropic(call.Request, call.UpstreamModel, call.Stream);
        if (translation.Error is { } invalid)
        {
            return ProviderResult.Fail(invalid);
        }

        using var request = CreateRequest(AnthropicTranslator.Serialize(translation.Request!));
        if (call.ConnectTimeout is { } connectTimeout)
        {
            request.Options.Set(ProviderRequestOptions.ConnectTimeout, connectTimeout);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return ProviderResult.Fail(GatewayError.UpstreamUnreachable(Name, ex.Message));
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                return ProviderResult.Fail(await UpstreamErrors.FromResponseAsync(Name, response, cancellationToken));
            }
        }

        if (call.Stream)
        {
            // Always end with the usage chunk: Keel meters the stream from it, and the record stage
            // drops it when the client did not ask for stream_options.include_usage.
            return ProviderResult.Ok(new StreamingResponse { Chunks = ReadChunksAsync(response, includeUsage: true, cancellationToken) });
        }

        using (response)
        {
            return await ReadMessageAsync(response, cancellationToken);
        }
    }

    public ValueTask<ProviderResult> EmbedAsync(EmbedCall call, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ProviderResult.Fail(GatewayError.InvalidRequest(
            $"Anthropic has no embeddings API; '{call.Request.Model}' is served by provider '{Name}' (kind anthropic). Use a model of an OpenAI-compatible or local provider for /v1/embeddings.",
            "model", "model_not_supported")));

    private HttpRequestMessage CreateRequest(byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{config.BaseUrl}/messages")
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = JsonContentType } },
        };
        if (config.ApiKey is { } key)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", key);
        }

        request.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
        foreach (var (name, value) in config.Headers)
        {
            // Configured headers win (e.g. a pinned anthropic-version or an anthropic-beta flag).
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private async Task<ProviderResult> ReadMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return ProviderResult.Fail(GatewayError.UpstreamUnreachable(Name, ex.Message));
        }

        AnthropicResponse? message;
        try
        {
            message = JsonSerializer.Deserialize(bytes, AnthropicJsonContext.Default.AnthropicResponse);
        }
        catch (JsonException)
        {
            return ProviderResult.Fail(GatewayError.UpstreamInvalid(Name, "the body is not valid JSON"));
        }

        if (message is null || message.Type is not (null or "message"))
        {
            return ProviderResult.Fail(GatewayError.UpstreamInvalid(Name, "the body is not an Anthropic message"));
        }

        var completion = AnthropicTranslator.FromAnthropic(message, time.GetUtcNow().ToUnixTimeSeconds());
        var body = JsonSerializer.SerializeToUtf8Bytes(completion, KeelJson.Context.ChatCompletionResponse);
        return ProviderResult.Ok(new JsonBodyResponse { Body = body, Usage = completion.Usage });
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadChunksAsync(
        HttpResponseMessage response, bool includeUsage, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (response)
        {
            Stream stream;
            try
            {
                stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                throw new UpstreamStreamException(GatewayError.UpstreamUnreachable(Name, ex.Message), ex);
            }

            await using (stream)
            {
                await foreach (var chunk in AnthropicStreamTranslator.TranslateAsync(stream, Name, includeUsage, time, cancellationToken))
                {
                    yield return chunk;
                }
            }
        }
    }
}
