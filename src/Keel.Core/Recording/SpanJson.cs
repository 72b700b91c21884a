using System.Buffers;
using System.Text.Json;
using Keel.Core.Pipeline;

namespace Keel.Core.Recording;

/// <summary>
/// A trace's spans as one JSON array, written in a single pass on the request path and stored in
/// one column, so recording a request is one row insert, not one per span.
/// </summary>
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
                writer.WriteString("span_id"u8, span.SpanId);
                if (span.ParentSpanId is { } parent)
                {
                    writer.WriteString("parent_span_id"u8, parent);
                }

                writer.WriteString("name"u8, span.Name);
                writer.WriteString("started_at"u8, span.StartedAt);
                writer.WriteNumber("duration_ms"u8, Math.Round(span.DurationMs, 4));
                writer.WriteBoolean("is_error"u8, span.IsError);
                if (span.StatusMessage is { } message)
                {
                    writer.WriteString("status_message"u8, redact is null ? message : redact(message));
                }

                writer.WriteStartObject("attributes"u8);
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
            spans.Add(new SpanRecord
            {
                SpanId = element.GetProperty("span_id").GetString()!,
                ParentSpanId = element.TryGetProperty("parent_span_id", out var parent) ? parent.GetString() : null,
                Name = element.GetProperty("name").GetString()!,
                StartedAt = element.GetProperty("started_at").GetDateTimeOffset(),
                DurationMs = element.GetProperty("duration_ms").GetDouble(),
                IsError = element.GetProperty("is_error").GetBoolean(),
                StatusMessage = element.TryGetProperty("status_message", out var message) ? message.GetString() : null,
                Attributes = element.GetProperty("attributes").Clone(),
            });
        }

        return spans;
    }
}
