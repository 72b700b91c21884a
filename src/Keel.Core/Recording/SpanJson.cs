using System.Buffers;
using System.Text.Json;
using Keel.Core.Pipeline;

namespace Keel.Core.Recording;

/// <summary>
/// A trace's spans as one JSON array, written in a single pass on the request path and stored in
/// one column, so recording a request is one row insert, not one per span.
/// </summary>
/// <remarks>
/// The stored form is compact: short keys, the start as Unix microseconds and the duration as whole
/// microseconds (<c>{"id","parent","name","start_us","us","error","status","attrs"}</c>). Formatting an
/// ISO timestamp and a rounded double per span was a third of the time it took to write, and the long
/// keys a fifth of the bytes. The API shows spans in the long form (<see cref="SpanRecord"/>); rows
/// written in the long form before read as they always did.
/// </remarks>
public static class SpanJson
{
    /// <summary>
    /// The spans as one JSON array. <paramref name="redact"/> scrubs error messages (an upstream error may quote
    /// the provider key it was sent): they are the one span field that carries text from outside Keel.
    /// </summary>
    public static byte[] Write(IReadOnlyList<Span> spans, Func<string, string>? redact = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256 * Math.Max(1, spans.Count));
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartArray();
            foreach (var span in spans)
            {
                writer.WriteStartObject();
                writer.WriteString("id"u8, span.SpanId);
                if (span.ParentSpanId is { } parent)
                {
                    writer.WriteString("parent"u8, parent);
                }

                writer.WriteString("name"u8, span.Name);
                writer.WriteNumber("start_us"u8, (span.StartedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond);
                writer.WriteNumber("us"u8, (long)Math.Round(span.DurationMs * 1000));
                if (span.IsError)
                {
                    writer.WriteBoolean("error"u8, true);
                }

                if (span.StatusMessage is { } message)
                {
                    writer.WriteString("status"u8, redact is null ? message : redact(message));
                }

                writer.WriteStartObject("attrs"u8);
                foreach (var (key, value) in span.Attributes)
                {
                    switch (value)
                    {
                        case null: writer.WriteNull(key); break;
                        case bool b: writer.WriteBoolean(key, b); break;
                        case int i: writer.WriteNumber(key, i); break;
                        case long l: writer.WriteNumber(key, l); break;
                        case double d: writer.WriteNumber(key, d); break;
                        case IReadOnlyList<string> list:
                            writer.WriteStartArray(key);
                            foreach (var item in list)
                            {
                                writer.WriteStringValue(item);
                            }

                            writer.WriteEndArray();
                            break;
                        default: writer.WriteString(key, value.ToString()); break;
                    }
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static IReadOnlyList<SpanRecord> Parse(ReadOnlyMemory<byte>? json)
    {
        if (json is not { Length: > 0 } bytes)
        {
            return [];
        }

        using var document = JsonDocument.Parse(bytes);
        var spans = new List<SpanRecord>();
        foreach (var element in document.RootElement.EnumerateArray())
        {
            spans.Add(element.TryGetProperty("id"u8, out var id) ? Compact(element, id) : Long(element));
        }

        return spans;
    }

    private static SpanRecord Compact(JsonElement element, JsonElement id) => new()
    {
        SpanId = id.GetString()!,
        ParentSpanId = element.TryGetProperty("parent"u8, out var parent) ? parent.GetString() : null,
        Name = element.GetProperty("name"u8).GetString()!,
        StartedAt = DateTimeOffset.UnixEpoch.AddTicks(element.GetProperty("start_us"u8).GetInt64() * TimeSpan.TicksPerMicrosecond),
        DurationMs = element.GetProperty("us"u8).GetInt64() / 1000.0,
        IsError = element.TryGetProperty("error"u8, out var error) && error.GetBoolean(),
        StatusMessage = element.TryGetProperty("status"u8, out var message) ? message.GetString() : null,
        Attributes = element.GetProperty("attrs"u8).Clone(),
    };

    /// <summary>The form spans were stored in before the compact one.</summary>
    private static SpanRecord Long(JsonElement element) => new()
    {
        SpanId = element.GetProperty("span_id"u8).GetString()!,
        ParentSpanId = element.TryGetProperty("parent_span_id"u8, out var parent) ? parent.GetString() : null,
        Name = element.GetProperty("name"u8).GetString()!,
        StartedAt = element.GetProperty("started_at"u8).GetDateTimeOffset(),
        DurationMs = element.GetProperty("duration_ms"u8).GetDouble(),
        IsError = element.GetProperty("is_error"u8).GetBoolean(),
        StatusMessage = element.TryGetProperty("status_message"u8, out var message) ? message.GetString() : null,
        Attributes = element.GetProperty("attributes"u8).Clone(),
    };
}
