using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keel.Tests.Common;

/// <summary>What the next upstream call should do wrong.</summary>
public sealed record Fault
{
    /// <summary>Answer with this status (and <see cref="Body"/>) instead of a completion.</summary>
    public int? Status { get; init; }
    public string? Body { get; init; }
    public string? RetryAfter { get; init; }
    /// <summary>Wait this long before answering.</summary>
    public TimeSpan Delay { get; init; }
    /// <summary>Streams: abort the connection after this many chunks.</summary>
    public int? CutAfterChunks { get; init; }
    /// <summary>Streams: end cleanly after this many chunks but without [DONE] / message_stop.</summary>
    public int? EndWithoutDoneAfterChunks { get; init; }
    /// <summary>Send a body (or a chunk) that is not JSON.</summary>
    public bool MalformedJson { get; init; }
    /// <summary>Streams: which chunk <see cref="MalformedJson"/> corrupts (0 = before anything valid was sent).</summary>
    public int MalformedChunkIndex { get; init; } = 1;
    /// <summary>Streams: wait between chunks.</summary>
    public TimeSpan ChunkDelay { get; init; }
    /// <summary>Drop the connection without answering.</summary>
    public bool AbortConnection { get; init; }
}

/// <summary>One request the fake received.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonNode? Json => JsonNode.Parse(Body);
}

/// <summary>
/// A real HTTP server on 127.0.0.1 that speaks the OpenAI (chat, streaming, embeddings) and
/// Anthropic (messages, streaming) wire formats, answers "fake reply to: {last user text}", and
/// misbehaves on demand through queued <see cref="Fault"/>s.
/// </summary>
public sealed class FakeProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Fault> _faults = new();

    private FakeProvider(WebApplication app) => _app = app;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>http://127.0.0.1:PORT/v1</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>When set, a request that offers tools gets this tool call instead of text.</summary>
    public (string Name, string Arguments)? ToolCall { get; set; }

    /// <summary>Answers used once each, in order, before <see cref="Reply"/>.</summary>
    public ConcurrentQueue<string> QueuedReplies { get; } = new();

    /// <summary>Fixed answer text; null = "fake reply to: {last user text}".</summary>
    public string? Reply { get; set; }

    /// <summary>Streams: when set, the answer is cut every this many characters (splitting words and values) instead of per word.</summary>
    public int? StreamChunkChars { get; set; }
    /// <summary>Leave usage out of answers (the body's and the stream's usage chunk), as some servers do.</summary>
    public bool OmitUsage { get; set; }

    /// <summary>Report this many prompt tokens as read from the prompt cache (usage.prompt_tokens_details.cached_tokens).</summary>
    public int CachedTokens { get; set; }

    /// <summary>Streamed responses emit one chunk per word; set to control pacing.</summary>
    public TimeSpan DefaultChunkDelay { get; set; }

    public int CallCount => Requests.Count;

    private int _cancelled;

    /// <summary>Calls whose client (Keel) went away before the fake finished answering.</summary>
    public int CancelledCount => Volatile.Read(ref _cancelled);

    public void Enqueue(Fault fault) => _faults.Enqueue(fault);

    /// <summary>Share of calls (0..1) that get a random fault from <see cref="RandomFaults"/> when none is queued.</summary>
    public double FaultRate { get; set; }

    /// <summary>The faults drawn from at <see cref="FaultRate"/>.</summary>
    public IReadOnlyList<Fault> RandomFaults { get; set; } = [];

    private int _randomFaultsInjected;

    /// <summary>How many calls got a random fault.</summary>
    public int RandomFaultsInjected => Volatile.Read(ref _randomFaultsInjected);

    private readonly Random _random = new(12345);

    public static async Task<FakeProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        var fake = new FakeProvider(app);
        app.Use(async (http, next) =>
        {
            try
            {
                await next(http);
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                Interlocked.Increment(ref fake._cancelled);
            }
        });
        app.MapPost("/v1/chat/completions", fake.ChatAsync);
        app.MapPost("/v1/embeddings", fake.EmbeddingsAsync);
        app.MapPost("/v1/moderations", fake.ModerationsAsync);
        app.MapPost("/v1/deployments/{deployment}/chat/completions", fake.ChatAsync);
        app.MapPost("/v1/messages", fake.AnthropicAsync);
        await app.StartAsync();
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/v1";
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<(JsonNode Body, Fault? Fault)> BeginAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue(new RecordedRequest(http.Request.Method, http.Request.Path, http.Request.QueryString.Value ?? "", headers, text));
        if (!_faults.TryDequeue(out var fault) && FaultRate > 0 && RandomFaults.Count > 0)
        {
            lock (_random)
            {
                if (_random.NextDouble() < FaultRate)
                {
                    fault = RandomFaults[_random.Next(RandomFaults.Count)];
                    Interlocked.Increment(ref _randomFaultsInjected);
                }
            }
        }

        if (fault?.Delay > TimeSpan.Zero)
        {
            await Task.Delay(fault.Delay, http.RequestAborted);
        }

        return (JsonNode.Parse(text)!, fault);
    }

    private static async Task<bool> WriteFaultStatusAsync(HttpContext http, Fault? fault)
    {
        if (fault?.AbortConnection == true)
        {
            http.Abort();
            return true;
        }

        if (fault?.Status is not { } status)
        {
            if (fault?.MalformedJson == true && !IsStream(http))
            {
                http.Response.ContentType = "application/json";
                await http.Response.WriteAsync("{\"id\": \"broken\", \"choices\": [", http.RequestAborted);
                return true;
            }

            return false;
        }

        http.Response.StatusCode = status;
        if (fault.RetryAfter is not null)
        {
            http.Response.Headers.RetryAfter = fault.RetryAfter;
        }

        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(fault.Body ?? $"{{\"error\":{{\"message\":\"fake upstream failure {status}\",\"type\":\"server_error\",\"code\":\"fake_{status}\"}}}}", http.RequestAborted);
        return true;
    }

    private static bool IsStream(HttpContext http) => http.Items.ContainsKey("stream");

    private string AnswerFor(JsonNode body, bool anthropic)
    {
        if (QueuedReplies.TryDequeue(out var queued))
        {
            return queued;
        }

        if (Reply is not null)
        {
            return Reply;
        }

        var messages = body["messages"]!.AsArray();
        var last = messages.LastOrDefault(m => (string?)m!["role"] == "user");
        var content = last?["content"];
        string text = content switch
        {
            JsonValue v => (string?)v ?? "",
            JsonArray parts => string.Join(" ", parts.Where(p => (string?)p!["type"] == "text" || (anthropic && p!["text"] is not null)).Select(p => (string?)p!["text"])),
            _ => "",
        };
        return "fake reply to: " + text;
    }

    private async Task ChatAsync(HttpContext http)
    {
        var (body, fault) = await BeginAsync(http);
        var stream = (bool?)body["stream"] == true;
        if (stream)
        {
            http.Items["stream"] = true;
        }

        if (await WriteFaultStatusAsync(http, fault))
        {
            return;
        }

        var model = (string?)body["model"] ?? (string?)http.Request.RouteValues["deployment"] ?? "fake";
        var tools = body["tools"] as JsonArray;
        var toolCall = tools is { Count: > 0 } && ToolCall is { } call && !body["messages"]!.AsArray().Any(m => (string?)m!["role"] == "tool") ? call : ((string, string)?)null;
        var answer = AnswerFor(body, anthropic: false);
        var promptTokens = body["messages"]!.ToJsonString().Length / 4;
        var completionTokens = answer.Split(' ').Length;
        var usage = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens };
        if (CachedTokens > 0)
        {
            usage["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = CachedTokens };
        }

        if (!stream)
        {
            var message = new JsonObject { ["role"] = "assistant", ["content"] = toolCall is null ? answer : null };
            if (toolCall is { } tc)
            {
                message["tool_calls"] = new JsonArray(new JsonObject { ["id"] = "call_fake1", ["type"] = "function", ["function"] = new JsonObject { ["name"] = tc.Item1, ["arguments"] = tc.Item2 } });
            }

            var response = new JsonObject
            {
                ["id"] = "chatcmpl-fake",
                ["object"] = "chat.completion",
                ["created"] = 1700000000,
                ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = toolCall is null ? "stop" : "tool_calls" }),
                ["usage"] = usage,
                ["fake_extra_field"] = "kept",
            };
            if (OmitUsage)
            {
                response.Remove("usage");
            }

            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(response.ToJsonString(), http.RequestAborted);
            return;
        }

        http.Response.ContentType = "text/event-stream";
        var chunks = new List<JsonObject> { Chunk(model, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null) };
        if (toolCall is { } t)
        {
            chunks.Add(Chunk(model, new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = 0, ["id"] = "call_fake1", ["type"] = "function", ["function"] = new JsonObject { ["name"] = t.Item1, ["arguments"] = "" } }) }, null));
            foreach (var piece in Split(t.Item2, 2))
            {
                chunks.Add(Chunk(model, new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = 0, ["function"] = new JsonObject { ["arguments"] = piece } }) }, null));
            }

            chunks.Add(Chunk(model, new JsonObject(), "tool_calls"));
        }
        else
        {
            foreach (var piece in StreamPieces(answer))
            {
                chunks.Add(Chunk(model, new JsonObject { ["content"] = piece }, null));
            }

            chunks.Add(Chunk(model, new JsonObject(), "stop"));
        }

        if ((bool?)body["stream_options"]?["include_usage"] == true && !OmitUsage)
        {
            var last = Chunk(model, null, null);
            last["choices"] = new JsonArray();
            last["usage"] = usage;
            chunks.Add(last);
        }

        var events = chunks.Select(c => c.ToJsonString()).ToList();
        await WriteEventsAsync(http, fault, [.. events.Select(e => $"data: {e}\n\n")], "data: [DONE]\n\n");
    }

    private async Task WriteEventsAsync(HttpContext http, Fault? fault, List<string> events, string terminator)
    {
        var delay = fault?.ChunkDelay > TimeSpan.Zero ? fault.ChunkDelay : DefaultChunkDelay;
        for (var i = 0; i < events.Count; i++)
        {
            if (fault?.CutAfterChunks == i)
            {
                await http.Response.Body.FlushAsync(http.RequestAborted);
                // Let what was sent arrive first: a reset discards bytes the peer has not read yet.
                await Task.Delay(100, http.RequestAborted);
                http.Abort();
                return;
            }

            if (fault?.EndWithoutDoneAfterChunks == i)
            {
                return;
            }

            var text = fault?.MalformedJson == true && i == fault.MalformedChunkIndex ? "data: {\"id\": broken\n\n" : events[i];
            await http.Response.WriteAsync(text, http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, http.RequestAborted);
            }
        }

        await http.Response.WriteAsync(terminator, http.RequestAborted);
    }

    private IEnumerable<string> StreamPieces(string answer)
    {
        if (StreamChunkChars is { } size)
        {
            for (var at = 0; at < answer.Length; at += size)
            {
                yield return answer.Substring(at, Math.Min(size, answer.Length - at));
            }
            yield break;
        }
        var words = answer.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            yield return (i == 0 ? "" : " ") + words[i];
        }
    }

    private static IEnumerable<string> Split(string text, int parts)
    {
        var size = Math.Max(1, (text.Length + parts - 1) / parts);
        for (var i = 0; i < text.Length; i += size)
        {
            yield return text.Substring(i, Math.Min(size, text.Length - i));
        }
    }

    private static JsonObject Chunk(string model, JsonObject? delta, string? finish)
    {
        var chunk = new JsonObject { ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1700000000, ["model"] = model };
        if (delta is not null)
        {
            chunk["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish });
        }

        return chunk;
    }

    /// <summary>Moderation: inputs containing one of these (case-insensitive) are flagged as harassment/threatening.</summary>
    public IReadOnlyList<string> ModerationFlagWords { get; set; } = ["i will hurt you"];

    private async Task ModerationsAsync(HttpContext http)
    {
        var (body, fault) = await BeginAsync(http);
        if (await WriteFaultStatusAsync(http, fault))
        {
            return;
        }

        var input = (string?)body["input"] ?? "";
        var flagged = ModerationFlagWords.Any(w => input.Contains(w, StringComparison.OrdinalIgnoreCase));
        var result = new JsonObject
        {
            ["flagged"] = flagged,
            ["categories"] = new JsonObject { ["harassment/threatening"] = flagged, ["hate"] = false },
            ["category_scores"] = new JsonObject { ["harassment/threatening"] = flagged ? 0.93 : 0.01, ["hate"] = 0.002 },
        };
        await http.Response.WriteAsJsonAsync(new JsonObject { ["id"] = "modr-fake", ["model"] = (string?)body["model"], ["results"] = new JsonArray(result) });
    }

    private async Task EmbeddingsAsync(HttpContext http)
    {
        var (body, fault) = await BeginAsync(http);
        if (await WriteFaultStatusAsync(http, fault))
        {
            return;
        }

        var input = body["input"]!;
        var texts = input is JsonArray array ? array.Select(x => x!.ToJsonString()).ToList() : [input.ToJsonString()];
        var base64 = (string?)body["encoding_format"] == "base64";
        var data = new JsonArray();
        for (var i = 0; i < texts.Count; i++)
        {
            var vector = Enumerable.Range(0, 8).Select(d => (float)((texts[i].Length + d) % 7) / 7f).ToArray();
            JsonNode embedding = base64
                ? JsonValue.Create(Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan())))
                : new JsonArray([.. vector.Select(v => (JsonNode)JsonValue.Create(v))]);
            data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = embedding });
        }

        var response = new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = (string?)body["model"],
            ["usage"] = new JsonObject { ["prompt_tokens"] = texts.Count * 3, ["total_tokens"] = texts.Count * 3 },
        };
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(response.ToJsonString(), http.RequestAborted);
    }

    private async Task AnthropicAsync(HttpContext http)
    {
        var (body, fault) = await BeginAsync(http);
        var stream = (bool?)body["stream"] == true;
        if (stream)
        {
            http.Items["stream"] = true;
        }

        if (fault?.Status is { } status)
        {
            http.Response.StatusCode = status;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(fault.Body ?? $"{{\"type\":\"error\",\"error\":{{\"type\":\"api_error\",\"message\":\"fake anthropic failure {status}\"}}}}", http.RequestAborted);
            return;
        }

        var model = (string?)body["model"] ?? "claude-fake";
        var tools = body["tools"] as JsonArray;
        var toolCall = tools is { Count: > 0 } && ToolCall is { } call ? call : ((string, string)?)null;
        var answer = AnswerFor(body, anthropic: true);
        if (!stream)
        {
            var content = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = answer });
            if (toolCall is { } tc)
            {
                content = new JsonArray(new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_fake1", ["name"] = tc.Item1, ["input"] = JsonNode.Parse(tc.Item2) });
            }

            var response = new JsonObject
            {
                ["id"] = "msg_fake",
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = model,
                ["content"] = content,
                ["stop_reason"] = toolCall is null ? "end_turn" : "tool_use",
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = 11, ["output_tokens"] = 7 },
            };
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(response.ToJsonString(), http.RequestAborted);
            return;
        }

        http.Response.ContentType = "text/event-stream";
        var events = new List<string>
        {
            Event("message_start", new JsonObject { ["type"] = "message_start", ["message"] = new JsonObject { ["id"] = "msg_fake", ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(), ["stop_reason"] = null, ["usage"] = new JsonObject { ["input_tokens"] = 11, ["output_tokens"] = 1 } } }),
            Event("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } }),
            Event("ping", new JsonObject { ["type"] = "ping" }),
        };
        var words = answer.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            events.Add(Event("content_block_delta", new JsonObject { ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = (i == 0 ? "" : " ") + words[i] } }));
        }

        events.Add(Event("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 }));
        events.Add(Event("message_delta", new JsonObject { ["type"] = "message_delta", ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null }, ["usage"] = new JsonObject { ["output_tokens"] = words.Length } }));
        await WriteEventsAsync(http, fault, events, Event("message_stop", new JsonObject { ["type"] = "message_stop" }));
    }

    private static string Event(string name, JsonObject data) => $"event: {name}\ndata: {data.ToJsonString()}\n\n";
}
