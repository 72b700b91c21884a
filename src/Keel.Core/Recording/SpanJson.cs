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
    private const int MaxEncodedNames = 1024;
    private const int MaxKeptBufferBytes = 256 * 1024;
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonEncodedText> EncodedNames = new(StringComparer.Ordinal);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>
    /// The spans as one JSON array. <paramref name="redact"/> scrubs error messages (an upstream error may quote
    /// the provider key it was sent): they are the one span field that carries text from outside Keel.
    /// </summary>
    public static byte[] Write(IReadOnlyList<Span> spans, Func<string, string>? redact = null)
    {
        // One buffer and writer per thread, reset for each trace: the request path allocates only the result.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        try
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
                        case null: writer.WriteNull(Name(key)); break;
                        case bool b: writer.WriteBoolean(Name(key), b); break;
                        case int i: writer.WriteNumber(Name(key), i); break;
                        case long l: writer.WriteNumber(Name(key), l); break;
                        case double d: writer.WriteNumber(Name(key), d); break;
                        case IReadOnlyList<string> list:
                            writer.WriteStartArray(Name(key));
                            foreach (var item in list)
                            {
                                writer.WriteStringValue(item);
                            }

                            writer.WriteEndArray();
                            break;
                        default: writer.WriteString(Name(key), value.ToString()); break;
                    }
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            // A rare huge trace does not pin its buffer to the thread.
            if (buffer.Capacity > MaxKeptBufferBytes)
            {
                t_buffer = null;
                t_writer = null;
            }
        }
    }

    /// <summary>Attribute names as pre-escaped UTF-8: they come from a small set, and escaping each again was a third of the writing.</summary>
    private static JsonEncodedText Name(string key)
    {
        if (EncodedNames.TryGetValue(key, out var name))
        {
            return name;
        }

        name = JsonEncodedText.Encode(key, WriterOptions.Encoder);
        if (EncodedNames.Count < MaxEncodedNames)
        {
            EncodedNames.TryAdd(key, name);
        }

        return name;
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
