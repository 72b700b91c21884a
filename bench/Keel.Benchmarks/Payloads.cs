using System.Text;
using System.Text.Json;

namespace Keel.Benchmarks;

/// <summary>The wire payloads the benchmarks run on, built once and deterministically.</summary>
internal static class Payloads
{
    /// <summary>A small chat request (~200 bytes): what the load harness posts.</summary>
    public static readonly byte[] SmallRequest = Encoding.UTF8.GetBytes(
        """{"model":"bench-model","messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"Say hello to the benchmark in one short sentence, please."}],"max_tokens":32,"temperature":0}""");

    /// <summary>A large chat request: 20 messages (tool calls and tool results among them) and 3 tools with JSON schemas.</summary>
    public static readonly byte[] LargeRequest = BuildLargeRequest();

    /// <summary>A small non-streaming chat.completion with usage.</summary>
    public static readonly byte[] SmallResponse = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":7,"total_tokens":31,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_bench"}""");

    /// <summary>A larger chat.completion (~2 KB of content plus a tool call), usage at the end as OpenAI sends it.</summary>
    public static readonly byte[] LargeResponse = BuildLargeResponse();

    /// <summary>A 50-chunk SSE stream of chat.completion.chunk events, a usage chunk and [DONE].</summary>
    public static readonly byte[] Stream50 = BuildStream(50);

    private static byte[] BuildLargeRequest()
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", "bench-model");
            w.WriteStartArray("messages");
            Message(w, "system", "You are a careful travel assistant. Answer in short paragraphs, cite the tool results you used, and ask before booking anything. " +
                string.Concat(Enumerable.Repeat("Prefer trains over flights for trips under 600 km. ", 6)));
            var call = 0;
            for (var i = 1; i < 20; i++)
            {
                switch (i % 4)
                {
                    case 1:
                        Message(w, "user", $"Question {i}: what is the weather in city number {i}, and how long is the train ride from the previous one? " +
                            "Please include the temperature in Celsius and whether I need an umbrella.");
                        break;
                    case 2:
                        // An assistant turn that calls a tool.
                        w.WriteStartObject();
                        w.WriteString("role", "assistant");
                        w.WriteNull("content");
                        w.WriteStartArray("tool_calls");
                        w.WriteStartObject();
                        w.WriteString("id", $"call_{++call:D4}");
                        w.WriteString("type", "function");
                        w.WriteStartObject("function");
                        w.WriteString("name", "get_weather");
                        w.WriteString("arguments", $$"""{"city":"City {{i}}","unit":"celsius"}""");
                        w.WriteEndObject();
                        w.WriteEndObject();
                        w.WriteEndArray();
                        w.WriteEndObject();
                        break;
                    case 3:
                        w.WriteStartObject();
                        w.WriteString("role", "tool");
                        w.WriteString("tool_call_id", $"call_{call:D4}");
                        w.WriteString("content", $$"""{"city":"City {{i}}","temperature_c":{{10 + i}},"conditions":"light rain","wind_kph":12,"humidity":0.81}""");
                        w.WriteEndObject();
                        break;
                    default:
                        Message(w, "assistant", $"In City {i - 1} it is {9 + i} °C with light rain, so take an umbrella. The train from the previous city takes about {i * 7} minutes " +
                            "and runs every half hour; the first one leaves at 06:12 and the last one at 23:40.");
                        break;
                }
            }

            w.WriteEndArray();
            w.WriteStartArray("tools");
            Tool(w, "get_weather", "Current weather for a city.", ["city", "unit"]);
            Tool(w, "find_trains", "Train connections between two cities on a date.", ["from", "to", "date", "max_changes"]);
            Tool(w, "book_hotel", "Books a hotel room; only after the user confirmed.", ["city", "check_in", "nights", "guests", "budget_eur"]);
            w.WriteEndArray();
            w.WriteString("tool_choice", "auto");
            w.WriteBoolean("parallel_tool_calls", true);
            w.WriteNumber("temperature", 0.2);
            w.WriteNumber("max_completion_tokens", 512);
            w.WriteString("user", "bench-user-42");
            w.WriteEndObject();
        }

        return buffer.ToArray();

        static void Message(Utf8JsonWriter w, string role, string content)
        {
            w.WriteStartObject();
            w.WriteString("role", role);
            w.WriteString("content", content);
            w.WriteEndObject();
        }

        static void Tool(Utf8JsonWriter w, string name, string description, string[] parameters)
        {
            w.WriteStartObject();
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", name);
            w.WriteString("description", description);
            w.WriteStartObject("parameters");
            w.WriteString("type", "object");
            w.WriteStartObject("properties");
            foreach (var p in parameters)
            {
                w.WriteStartObject(p);
                w.WriteString("type", p is "nights" or "guests" or "max_changes" or "budget_eur" ? "integer" : "string");
                w.WriteString("description", $"The {p.Replace('_', ' ')}.");
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartArray("required");
            foreach (var p in parameters)
            {
                w.WriteStringValue(p);
            }

            w.WriteEndArray();
            w.WriteBoolean("additionalProperties", false);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    private static byte[] BuildLargeResponse()
    {
        var content = string.Concat(Enumerable.Repeat("The train from Lyon to Geneva takes just under two hours and runs every other hour. ", 24));
        var json = $$$"""
            {"id":"chatcmpl-large","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":{{{JsonSerializer.Serialize(content)}}},"refusal":null,"tool_calls":[{"id":"call_0001","type":"function","function":{"name":"find_trains","arguments":"{\"from\":\"Lyon\",\"to\":\"Geneva\",\"date\":\"2025-06-01\",\"max_changes\":1}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1520,"completion_tokens":512,"total_tokens":2032,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_bench"}
            """;
        return Encoding.UTF8.GetBytes(json.Trim());
    }

    private static byte[] BuildStream(int chunks)
    {
        var sb = new StringBuilder();
        sb.Append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
        for (var i = 0; i < chunks; i++)
        {
            sb.Append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token")
              .Append(i).Append(" \"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
        }

        sb.Append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n");
        sb.Append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":50,\"total_tokens\":74}}\n\n");
        sb.Append("data: [DONE]\n\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}
