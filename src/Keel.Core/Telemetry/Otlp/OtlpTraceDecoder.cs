using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Keel.Core.Telemetry.Otlp;

/// <summary>One span an application sent over OTLP, as Keel stores it.</summary>
public sealed record IngestedSpan(
    string TraceId, string SpanId, string? ParentSpanId, string Name, long StartUnixNano, long EndUnixNano,
    bool IsError, string? StatusMessage, string AttributesJson, string? ServiceName);

/// <summary>
/// Reads an OTLP <c>ExportTraceServiceRequest</c> in either encoding OTLP/HTTP allows: protobuf (a hand-written
/// reader for the fields Keel keeps) or JSON (hex ids, nanosecond strings, typed attribute values). Malformed
/// input throws <see cref="FormatException"/> with what was wrong.
/// </summary>
public static class OtlpTraceDecoder
{
    public static List<IngestedSpan> DecodeProtobuf(ReadOnlySpan<byte> body)
    {
        var spans = new List<IngestedSpan>();
        var request = new Reader(body.ToArray());
        while (request.Next(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                ReadResourceSpans(request.Bytes(), spans);
            }
            else
            {
                request.Skip(wire);
            }
        }
        return spans;
    }

    private static void ReadResourceSpans(byte[] message, List<IngestedSpan> spans)
    {
        string? service = null;
        var scopes = new List<byte[]>();
        var r = new Reader(message);
        while (r.Next(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                var resource = new Reader(r.Bytes());
                while (resource.Next(out var f, out var w))
                {
                    if (f == 1 && w == 2 && ReadKeyValue(resource.Bytes()) is ("service.name", var value))
                    {
                        service = value as string;
                    }
                    else if (!(f == 1 && w == 2))
                    {
                        resource.Skip(w);
                    }
                }
            }
            else if (field == 2 && wire == 2)
            {
                scopes.Add(r.Bytes());
            }
            else
            {
                r.Skip(wire);
            }
        }
        foreach (var scope in scopes)
        {
            var s = new Reader(scope);
            while (s.Next(out var field, out var wire))
            {
                if (field == 2 && wire == 2)
                {
                    spans.Add(ReadSpan(s.Bytes(), service));
                }
                else
                {
                    s.Skip(wire);
                }
            }
        }
    }

    private static IngestedSpan ReadSpan(byte[] message, string? service)
    {
        byte[]? traceId = null, spanId = null, parent = null;
        string name = "";
        long start = 0, end = 0;
        var isError = false;
        string? statusMessage = null;
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var r = new Reader(message);
        while (r.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2): traceId = r.Bytes(); break;
                case (2, 2): spanId = r.Bytes(); break;
                case (4, 2): parent = r.Bytes(); break;
                case (5, 2): name = Encoding.UTF8.GetString(r.Bytes()); break;
                case (7, 1): start = (long)r.Fixed64(); break;
                case (8, 1): end = (long)r.Fixed64(); break;
                case (9, 2):
                    if (ReadKeyValue(r.Bytes()) is ({ } key, var value))
                    {
                        attributes[key] = value;
                    }
                    break;
                case (15, 2):
                    var status = new Reader(r.Bytes());
                    while (status.Next(out var f, out var w))
                    {
                        if (f == 2 && w == 2)
                        {
                            statusMessage = Encoding.UTF8.GetString(status.Bytes());
                        }
                        else if (f == 3 && w == 0)
                        {
                            isError = status.Varint() == 2;
                        }
                        else
                        {
                            status.Skip(w);
                        }
                    }
                    break;
                default: r.Skip(wire); break;
            }
        }
        if (traceId is not { Length: 16 } || spanId is not { Length: 8 })
        {
            throw new FormatException($"span '{name}' has no valid trace_id (16 bytes) or span_id (8 bytes)");
        }
        return new IngestedSpan(Convert.ToHexStringLower(traceId), Convert.ToHexStringLower(spanId),
            parent is { Length: 8 } ? Convert.ToHexStringLower(parent) : null, name, start, end, isError, statusMessage, Json(attributes), service);
    }

    private static (string? Key, object? Value) ReadKeyValue(byte[] message)
    {
        string? key = null;
        object? value = null;
        var r = new Reader(message);
        while (r.Next(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                key = Encoding.UTF8.GetString(r.Bytes());
            }
            else if (field == 2 && wire == 2)
            {
                var any = new Reader(r.Bytes());
                while (any.Next(out var f, out var w))
                {
                    value = (f, w) switch
                    {
                        (1, 2) => Encoding.UTF8.GetString(any.Bytes()),
                        (2, 0) => any.Varint() != 0,
                        (3, 0) => (long)any.Varint(),
                        (4, 1) => BitConverter.UInt64BitsToDouble(any.Fixed64()),
                        _ => Skip(any, w),
                    };
                }
            }
            else
            {
                r.Skip(wire);
            }
        }
        return (key, value);

        static object? Skip(Reader reader, int wire)
        {
            reader.Skip(wire); // arrays, maps and bytes values are not kept
            return null;
        }
    }

    /// <summary>The OTLP JSON encoding (<c>application/json</c>).</summary>
    public static List<IngestedSpan> DecodeJson(ReadOnlySpan<byte> body)
    {
        var spans = new List<IngestedSpan>();
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            foreach (var resourceSpans in Array(document.RootElement, "resourceSpans"))
            {
                string? service = null;
                if (resourceSpans.TryGetProperty("resource", out var resource))
                {
                    foreach (var kv in Array(resource, "attributes"))
                    {
                        if (kv.GetProperty("key").GetString() == "service.name")
                        {
                            service = JsonValue(kv.GetProperty("value")) as string;
                        }
                    }
                }
                foreach (var scope in Array(resourceSpans, "scopeSpans"))
                {
                    foreach (var span in Array(scope, "spans"))
                    {
                        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
                        foreach (var kv in Array(span, "attributes"))
                        {
                            attributes[kv.GetProperty("key").GetString()!] = kv.TryGetProperty("value", out var v) ? JsonValue(v) : null;
                        }
                        var status = span.TryGetProperty("status", out var s) ? s : default;
                        var traceId = span.GetProperty("traceId").GetString()!.ToLowerInvariant();
                        var spanId = span.GetProperty("spanId").GetString()!.ToLowerInvariant();
                        if (traceId.Length != 32 || spanId.Length != 16)
                        {
                            throw new FormatException("traceId must be 32 hex characters and spanId 16");
                        }
                        var parent = span.TryGetProperty("parentSpanId", out var p) && p.GetString() is { Length: 16 } ps ? ps.ToLowerInvariant() : null;
                        spans.Add(new IngestedSpan(traceId, spanId, parent,
                            span.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "",
                            Nanos(span, "startTimeUnixNano"), Nanos(span, "endTimeUnixNano"),
                            status.ValueKind == JsonValueKind.Object && status.TryGetProperty("code", out var code) && (code.ValueKind == JsonValueKind.Number ? code.GetInt32() == 2 : code.GetString() == "STATUS_CODE_ERROR"),
                            status.ValueKind == JsonValueKind.Object && status.TryGetProperty("message", out var m) ? m.GetString() : null,
                            Json(attributes), service));
                    }
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException(ex.Message, ex);
        }
        return spans;
    }

    private static IEnumerable<JsonElement> Array(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array ? array.EnumerateArray() : [];

    private static long Nanos(JsonElement span, string name) =>
        !span.TryGetProperty(name, out var value) ? 0
        : value.ValueKind == JsonValueKind.Number ? value.GetInt64()
        : long.Parse(value.GetString()!, NumberStyles.None, CultureInfo.InvariantCulture);

    private static object? JsonValue(JsonElement value) =>
        value.TryGetProperty("stringValue", out var s) ? s.GetString()
        : value.TryGetProperty("boolValue", out var b) ? b.GetBoolean()
        : value.TryGetProperty("intValue", out var i) ? (i.ValueKind == JsonValueKind.String ? long.Parse(i.GetString()!, CultureInfo.InvariantCulture) : i.GetInt64())
        : value.TryGetProperty("doubleValue", out var d) ? d.GetDouble()
        : null;

    private static string Json(Dictionary<string, object?> attributes)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            foreach (var (key, value) in attributes)
            {
                switch (value)
                {
                    case string text: w.WriteString(key, text); break;
                    case bool flag: w.WriteBoolean(key, flag); break;
                    case long number: w.WriteNumber(key, number); break;
                    case double real when double.IsFinite(real): w.WriteNumber(key, real); break;
                    default: w.WriteNull(key); break;
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A protobuf reader over one message.</summary>
    private sealed class Reader(byte[] data)
    {
        private int _at;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_at >= data.Length)
            {
                return false;
            }
            var tag = Varint();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_at >= data.Length)
                {
                    throw new FormatException("the protobuf ends inside a varint");
                }
                var b = data[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
            throw new FormatException("a protobuf varint is longer than 10 bytes");
        }

        public ulong Fixed64()
        {
            Need(8);
            var value = BitConverter.ToUInt64(data, _at);
            _at += 8;
            return value;
        }

        public byte[] Bytes()
        {
            var length = (int)Math.Min(Varint(), int.MaxValue);
            Need(length);
            var bytes = data.AsSpan(_at, length).ToArray();
            _at += length;
            return bytes;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Need(8); _at += 8; break;
                case 2: Bytes(); break;
                case 5: Need(4); _at += 4; break;
                default: throw new FormatException($"unsupported protobuf wire type {wire}");
            }
        }

        private void Need(int count)
        {
            if (count < 0 || _at + count > data.Length)
            {
                throw new FormatException("the protobuf ends inside a field");
            }
        }
    }
}
