using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Providers.OpenAi;

/// <summary>
/// Any OpenAI-compatible upstream (OpenAI, Azure OpenAI, vLLM, Ollama, LM Studio…). Speaks the wire
/// format with HttpClient and forwards the client's bytes when nothing changed them.
/// </summary>
internal sealed class OpenAiProvider(ProviderConfig config, HttpClient http) : IModelProvider, IModerationProvider
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private readonly bool _azure = config.Kind == ProviderKinds.Azure;

    public string Name => config.Name;

    public async ValueTask<ProviderResult> ChatAsync(ChatCall call, CancellationToken cancellationToken)
    {
        var body = ChatBody(call);

        using var request = CreateRequest("chat/completions", call.UpstreamModel, body, call.ConnectTimeout);
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
            return ProviderResult.Ok(new StreamingResponse { Chunks = ReadChunksAsync(response, cancellationToken) });
        }

        using (response)
        {
            return await ReadJsonBodyAsync(response, cancellationToken);
        }
    }

    public async ValueTask<ProviderResult> EmbedAsync(EmbedCall call, CancellationToken cancellationToken)
    {
        var body = Body(call.Request, KeelJson.Context.EmbeddingRequest, call.RawBody, call.RawBodyUsable, call.UpstreamModel);

        using var request = CreateRequest("embeddings", call.UpstreamModel, body, call.ConnectTimeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            return response.IsSuccessStatusCode
                ? await ReadJsonBodyAsync(response, cancellationToken)
                : ProviderResult.Fail(await UpstreamErrors.FromResponseAsync(Name, response, cancellationToken));
        }
        catch (HttpRequestException ex)
        {
            return ProviderResult.Fail(GatewayError.UpstreamUnreachable(Name, ex.Message));
        }
    }

    public async ValueTask<ModerationResult> ModerateAsync(string text, string model, CancellationToken cancellationToken)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", model);
            writer.WriteString("input", text);
            writer.WriteEndObject();
        }

        using var request = CreateRequest("moderations", model, buffer.WrittenMemory, connectTimeout: null);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var error = await UpstreamErrors.FromResponseAsync(Name, response, cancellationToken);
                return new ModerationResult(false, null, 0, error.Message);
            }

            using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            if (!document.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array || results.GetArrayLength() == 0)
            {
                return new ModerationResult(false, null, 0, "the moderation answer has no results");
            }

            var first = results[0];
            var flagged = first.TryGetProperty("flagged", out var f) && f.ValueKind == JsonValueKind.True;
            string? category = null;
            double score = 0;
            if (first.TryGetProperty("category_scores", out var scores) && scores.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in scores.EnumerateObject())
                {
                    if (entry.Value.ValueKind == JsonValueKind.Number && entry.Value.GetDouble() > score)
                    {
                        score = entry.Value.GetDouble();
                        category = entry.Name;
                    }
                }
            }

            return new ModerationResult(flagged, category, score);
        }
        catch (HttpRequestException ex)
        {
            return new ModerationResult(false, null, 0, ex.Message);
        }
        catch (JsonException ex)
        {
            return new ModerationResult(false, null, 0, "the moderation answer is not JSON: " + ex.Message);
        }
    }

    /// <summary>
    /// The chat body. A stream whose client did not ask for usage gets
    /// <c>stream_options.include_usage: true</c> (unless the provider has <c>stream_usage: false</c>),
    /// so Keel meters it from the provider's count; the record stage drops the extra usage chunk
    /// before the client sees it. A client that asked keeps the no-copy path.
    /// </summary>
    private ReadOnlyMemory<byte> ChatBody(ChatCall call)
    {
        var request = call.Request;
        if (!call.Stream || !config.StreamUsage || request.StreamOptions?.IncludeUsage == true)
        {
            return Body(request, KeelJson.Context.ChatCompletionRequest, call.RawBody, call.RawBodyUsable, call.UpstreamModel);
        }

        if (call.RawBodyUsable && request.Model == call.UpstreamModel && !_azure && request.StreamOptions is null)
        {
            return StreamUsageRequest.AddIncludeUsage(call.RawBody);
        }

        var original = request.StreamOptions;
        request.StreamOptions = new StreamOptions { IncludeUsage = true, Extra = original?.Extra };
        try
        {
            return Body(request, KeelJson.Context.ChatCompletionRequest, call.RawBody, rawUsable: false, call.UpstreamModel);
        }
        finally
        {
            request.StreamOptions = original;
        }
    }

    /// <summary>
    /// The client's bytes when they can go as they are; otherwise the typed request serialised with
    /// the upstream model (Azure names the deployment in the path, so it sends none).
    /// </summary>
    private ReadOnlyMemory<byte> Body<T>(T request, JsonTypeInfo<T> typeInfo, ReadOnlyMemory<byte> raw, bool rawUsable, string upstreamModel)
        where T : IModelRequest
    {
        if (rawUsable && request.Model == upstreamModel && !_azure)
        {
            return raw;
        }

        var original = request.Model;
        request.Model = _azure ? null : upstreamModel;
        try
        {
            return JsonSerializer.SerializeToUtf8Bytes(request, typeInfo);
        }
        finally
        {
            request.Model = original;
        }
    }

    private HttpRequestMessage CreateRequest(string operation, string upstreamModel, ReadOnlyMemory<byte> body, TimeSpan? connectTimeout)
    {
        // Azure addresses the deployment in the path and versions the API in the query.
        var url = _azure
            ? $"{config.BaseUrl}/deployments/{Uri.EscapeDataString(upstreamModel)}/{operation}?api-version={Uri.EscapeDataString(config.ApiVersion!)}"
            : $"{config.BaseUrl}/{operation}";
        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            // The client's bytes go out without another copy.
            Content = new ReadOnlyMemoryContent(body) { Headers = { ContentType = JsonContentType } },
        };
        if (config.ApiKey is { } key)
        {
            if (_azure)
            {
                request.Headers.TryAddWithoutValidation("api-key", key);
            }
            else
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
            }
        }

        foreach (var (name, value) in config.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (connectTimeout is { } timeout)
        {
            request.Options.Set(ProviderRequestOptions.ConnectTimeout, timeout);
        }

        return request;
    }

    private async Task<ProviderResult> ReadJsonBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
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

        if (!UsageReader.TryRead(bytes, out var usage))
        {
            return ProviderResult.Fail(GatewayError.UpstreamInvalid(Name, "the body is not valid JSON"));
        }

        return ProviderResult.Ok(new JsonBodyResponse { Body = bytes, Usage = usage });
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadChunksAsync(HttpResponseMessage response, [EnumeratorCancellation] CancellationToken cancellationToken)
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

            var done = false;
            await using (stream)
            {
                var events = ServerSentEvents.ReadAsync(stream, cancellationToken).GetAsyncEnumerator(cancellationToken);
                try
                {
                    while (true)
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
                            throw new UpstreamStreamException(GatewayError.UpstreamUnreachable(Name, "the stream broke: " + ex.Message), ex);
                        }

                        var data = events.Current.Data;
                        if (data.Span.SequenceEqual("[DONE]"u8))
                        {
                            done = true;
                            break;
                        }

                        if (!ServerSentEvents.IsWellFormedJson(data.Span))
                        {
                            throw new UpstreamStreamException(GatewayError.UpstreamInvalid(Name, "a stream chunk is not valid JSON"));
                        }

                        yield return data;
                    }
                }
                finally
                {
                    await events.DisposeAsync();
                }
            }

            if (!done)
            {
                throw new UpstreamStreamException(GatewayError.UpstreamUnreachable(Name, "the stream ended before [DONE]"));
            }
        }
    }
}
