using System.Buffers;
using System.Text;
using System.Text.Json;
using Keel.Core.Recording;

namespace Keel.Core.Telemetry.Otlp;

/// <summary>
/// Encodes traces as an OTLP <c>ExportTraceServiceRequest</c> (opentelemetry/proto/collector/trace/v1) in the
/// protobuf wire format, by hand: one resource (<c>service.name</c>), one scope (<c>keel</c>), a span per stored
/// span with its attributes (OpenTelemetry GenAI conventions), times in Unix nanoseconds and an error status.
/// </summary>
public static class OtlpTraceEncoder
{
    // Field numbers from the OTLP protos.
    private const int RequestResourceSpans = 1;
    private const int ResourceSpansResource = 1, ResourceSpansScopeSpans = 2;
    private const int ResourceAttributes = 1;
    private const int ScopeSpansScope = 1, ScopeSpansSpans = 2;
    private const int ScopeName = 1, ScopeVersion = 2;
    private const int SpanTraceId = 1, SpanSpanId = 2, SpanParentSpanId = 4, SpanName = 5, SpanKind = 6, SpanStart = 7, SpanEnd = 8, SpanAttributes = 9, SpanStatus = 15;
    private const int KeyValueKey = 1, KeyValueValue = 2;
    private const int AnyString = 1, AnyBool = 2, AnyInt = 3, AnyDouble = 4;
    private const int StatusMessage = 2, StatusCode = 3;
    private const int SpanKindInternal = 1, SpanKindServer = 2, SpanKindClient = 3;
    private const int StatusError = 2, StatusOk = 1;

    /// <summary>The request body for <paramref name="traces"/>.</summary>
    public static byte[] Encode(IReadOnlyList<TraceRecord> traces, string serviceName, string version)
    {
        var scope = new Writer();
        scope.Message(ScopeSpansScope, w => w.String(ScopeName, "keel").String(ScopeVersion, version));
        foreach (var trace in traces)
        {
            var traceId = Convert.FromHexString(trace.TraceId);
            foreach (var span in trace.Spans)
            {
                scope.Message(ScopeSpansSpans, w => WriteSpan(w, traceId, trace, span));
            }
        }

        var resourceSpans = new Writer();
        resourceSpans.Message(ResourceSpansResource, w => w.Message(ResourceAttributes, kv => kv.String(KeyValueKey, "service.name").Message(KeyValueValue, v => v.String(AnyString, serviceName))));
        resourceSpans.Bytes(ResourceSpansScopeSpans, scope.ToArray());
        var request = new Writer();
        request.Bytes(RequestResourceSpans, resourceSpans.ToArray());
        return request.ToArray();
    }

    private static void WriteSpan(Writer w, byte[] traceId, TraceRecord trace, SpanRecord span)
    {
        var start = (ulong)((span.StartedAt.ToUnixTimeMilliseconds() * 1_000_000L) + (span.StartedAt.Ticks % TimeSpan.TicksPerMillisecond * 100));
        w.Bytes(SpanTraceId, traceId)
            .Bytes(SpanSpanId, Convert.FromHexString(span.SpanId));
        if (span.ParentSpanId is { } parent)
        {
            w.Bytes(SpanParentSpanId, Convert.FromHexString(parent));
        }
        w.String(SpanName, span.Name)
            .Varint(SpanKind, span.ParentSpanId is null ? SpanKindServer : span.Name == "attempt" ? SpanKindClient : SpanKindInternal)
            .Fixed64(SpanStart, start)
            .Fixed64(SpanEnd, start + (ulong)(span.DurationMs * 1_000_000));
        if (span.ParentSpanId is null)
        {
            Attribute(w, "keel.trace.status_code", trace.StatusCode);
            if (trace.CostUsd is { } cost)
            {
                Attribute(w, "keel.cost_usd", cost);
            }
        }
        if (span.Attributes.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in span.Attributes.EnumerateObject())
            {
                switch (property.Value.ValueKind)
                {
                    case JsonValueKind.String:
                        Attribute(w, property.Name, property.Value.GetString()!);
                        break;
                    case JsonValueKind.True or JsonValueKind.False:
                        w.Message(SpanAttributes, kv => kv.String(KeyValueKey, property.Name).Message(KeyValueValue, v => v.Varint(AnyBool, property.Value.GetBoolean() ? 1 : 0)));
                        break;
                    case JsonValueKind.Number when property.Value.TryGetInt64(out var l):
                        Attribute(w, property.Name, l);
                        break;
                    case JsonValueKind.Number:
                        Attribute(w, property.Name, property.Value.GetDouble());
                        break;
                    default:
                        Attribute(w, property.Name, property.Value.GetRawText());
                        break;
                }
            }
        }
        w.Message(SpanStatus, s =>
        {
            if (span.IsError && span.StatusMessage is { } message)
            {
                s.String(StatusMessage, message);
            }
            s.Varint(StatusCode, span.IsError ? StatusError : StatusOk);
        });
    }

    private static void Attribute(Writer w, string key, string value) =>
        w.Message(SpanAttributes, kv => kv.String(KeyValueKey, key).Message(KeyValueValue, v => v.String(AnyString, value)));

    private static void Attribute(Writer w, string key, long value) =>
        w.Message(SpanAttributes, kv => kv.String(KeyValueKey, key).Message(KeyValueValue, v => v.Varint(AnyInt, (ulong)value)));

    private static void Attribute(Writer w, string key, double value) =>
        w.Message(SpanAttributes, kv => kv.String(KeyValueKey, key).Message(KeyValueValue, v => v.Double(AnyDouble, value)));

    /// <summary>A protobuf writer for the few wire types OTLP spans use.</summary>
    private sealed class Writer
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(256);

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

        public Writer Varint(int field, ulong value)
        {
            Tag(field, 0);
            Raw(value);
            return this;
        }

        public Writer Varint(int field, int value) => Varint(field, (ulong)value);

        public Writer Fixed64(int field, ulong value)
        {
            Tag(field, 1);
            var span = _buffer.GetSpan(8);
            BitConverter.TryWriteBytes(span, value);
            if (!BitConverter.IsLittleEndian)
            {
                span[..8].Reverse();
            }
            _buffer.Advance(8);
            return this;
        }

        public Writer Double(int field, double value) => Fixed64(field, BitConverter.DoubleToUInt64Bits(value));

        public Writer String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Writer Bytes(int field, ReadOnlySpan<byte> value)
        {
            Tag(field, 2);
            Raw((ulong)value.Length);
            _buffer.Write(value);
            return this;
        }

        public Writer Message(int field, Action<Writer> build)
        {
            var inner = new Writer();
            build(inner);
            return Bytes(field, inner._buffer.WrittenSpan);
        }

        private void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong value)
        {
            var span = _buffer.GetSpan(10);
            var i = 0;
            while (value >= 0x80)
            {
                span[i++] = (byte)(value | 0x80);
                value >>= 7;
            }
            span[i++] = (byte)value;
            _buffer.Advance(i);
        }
    }
}
