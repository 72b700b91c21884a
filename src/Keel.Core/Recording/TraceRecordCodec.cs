using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Keel.Core.Recording;

/// <summary>
/// The spool's binary form of a <see cref="TraceRecord"/>: a version byte, then every stored field in
/// a fixed order. Strings and byte fields are length-prefixed (7-bit varint) behind a presence byte, so
/// null and empty stay distinct. Bodies and spans are copied as they are: no JSON re-encoding.
/// </summary>
internal static class TraceRecordCodec
{
    /// <summary>Bump when the layout changes; readers refuse versions they do not know.</summary>
    public const byte Version = 1;

    public static void Write(IBufferWriter<byte> output, TraceRecord t)
    {
        var w = new Writer(output);
        w.Byte(Version);
        w.String(t.TraceId);
        w.Long(t.StartedAt.UtcTicks);
        w.Long((long)t.StartedAt.Offset.TotalMinutes);
        w.String(t.Operation);
        w.String(t.ProjectId);
        w.String(t.KeyId);
        w.String(t.Model);
        w.String(t.Provider);
        w.String(t.UpstreamModel);
        w.Byte(t.Stream ? (byte)1 : (byte)0);
        w.Long(t.StatusCode);
        w.String(t.ErrorCode);
        w.String(t.ErrorMessage);
        w.Bytes(t.RequestBodyUtf8);
        w.Bytes(t.ResponseBodyUtf8);
        w.Double(t.LatencyMs);
        w.Double(t.TtftMs);
        w.Int(t.InputTokens);
        w.Int(t.OutputTokens);
        w.String(t.PromptName);
        w.Int(t.PromptVersion);
        w.String(t.ExperimentId);
        w.String(t.ExperimentArm);
        w.Int(t.CachedInputTokens);
        w.Double(t.CostUsd);
        w.Byte(t.CostEstimated ? (byte)1 : (byte)0);
        w.String(t.SessionId);
        w.String(t.UserId);
        if (t.Tags is { } tags)
        {
            w.Byte(1);
            w.Long(tags.Count);
            foreach (var tag in tags)
            {
                w.String(tag);
            }
        }
        else
        {
            w.Byte(0);
        }

        w.String(t.MetadataJson);
        w.Bytes(t.SpansUtf8);
    }

    /// <summary>Reads one record; throws <see cref="InvalidDataException"/> on an unknown version or a short payload.</summary>
    public static TraceRecord Read(ReadOnlySpan<byte> payload)
    {
        var r = new Reader(payload);
        var version = r.Byte();
        if (version != Version)
        {
            throw new InvalidDataException($"Spool record version {version} is not supported (this Keel reads version {Version}).");
        }

        var traceId = r.String()!;
        var ticks = r.Long();
        var offset = TimeSpan.FromMinutes(r.Long());
        var record = new TraceRecord
        {
            TraceId = traceId,
            StartedAt = new DateTimeOffset(ticks + offset.Ticks, offset),
            Operation = r.String()!,
            ProjectId = r.String(),
            KeyId = r.String(),
            Model = r.String(),
            Provider = r.String(),
            UpstreamModel = r.String(),
            Stream = r.Byte() != 0,
            StatusCode = (int)r.Long(),
            ErrorCode = r.String(),
            ErrorMessage = r.String(),
            RequestBodyUtf8 = r.Bytes(),
            ResponseBodyUtf8 = r.Bytes(),
            LatencyMs = r.Double() ?? 0,
            TtftMs = r.Double(),
            InputTokens = r.Int(),
            OutputTokens = r.Int(),
            PromptName = r.String(),
            PromptVersion = r.Int(),
            ExperimentId = r.String(),
            ExperimentArm = r.String(),
            CachedInputTokens = r.Int(),
            CostUsd = r.Double(),
            CostEstimated = r.Byte() != 0,
            SessionId = r.String(),
            UserId = r.String(),
            Tags = r.Tags(),
            MetadataJson = r.String(),
            SpansUtf8 = r.Bytes(),
        };
        if (!r.AtEnd)
        {
            throw new InvalidDataException("Spool record has trailing bytes.");
        }

        return record;
    }

    private readonly ref struct Writer(IBufferWriter<byte> output)
    {
        private readonly IBufferWriter<byte> _output = output;

        public void Byte(byte value)
        {
            _output.GetSpan(1)[0] = value;
            _output.Advance(1);
        }

        /// <summary>Zig-zag varint: small and negative numbers stay short.</summary>
        public void Long(long value)
        {
            var v = (ulong)((value << 1) ^ (value >> 63));
            var span = _output.GetSpan(10);
            var n = 0;
            while (v >= 0x80)
            {
                span[n++] = (byte)(v | 0x80);
                v >>= 7;
            }

            span[n++] = (byte)v;
            _output.Advance(n);
        }

        public void Int(int? value)
        {
            if (value is { } v)
            {
                Byte(1);
                Long(v);
            }
            else
            {
                Byte(0);
            }
        }

        public void Double(double? value)
        {
            if (value is { } v)
            {
                Byte(1);
                BinaryPrimitives.WriteDoubleLittleEndian(_output.GetSpan(8), v);
                _output.Advance(8);
            }
            else
            {
                Byte(0);
            }
        }

        public void String(string? value)
        {
            if (value is null)
            {
                Byte(0);
                return;
            }

            Byte(1);
            var length = Encoding.UTF8.GetByteCount(value);
            Long(length);
            var written = Encoding.UTF8.GetBytes(value, _output.GetSpan(length));
            _output.Advance(written);
        }

        public void Bytes(ReadOnlyMemory<byte>? value)
        {
            if (value is not { } bytes)
            {
                Byte(0);
                return;
            }

            Byte(1);
            Long(bytes.Length);
            bytes.Span.CopyTo(_output.GetSpan(bytes.Length));
            _output.Advance(bytes.Length);
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool AtEnd => _position == _data.Length;

        public byte Byte()
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException("Spool record is shorter than its fields.");
            }

            return _data[_position++];
        }

        public long Long()
        {
            ulong v = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                var b = Byte();
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return (long)(v >> 1) ^ -(long)(v & 1);
                }
            }

            throw new InvalidDataException("Spool record has an overlong number.");
        }

        public int? Int() => Byte() == 0 ? null : checked((int)Long());

        public double? Double()
        {
            if (Byte() == 0)
            {
                return null;
            }

            var value = BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
            return value;
        }

        public string? String() => Byte() == 0 ? null : Encoding.UTF8.GetString(Take(Length()));

        // The cast matters: a bare null would convert through byte[] to an empty ReadOnlyMemory.
        public ReadOnlyMemory<byte>? Bytes() => Byte() == 0 ? (ReadOnlyMemory<byte>?)null : Take(Length()).ToArray();

        public IReadOnlyList<string>? Tags()
        {
            if (Byte() == 0)
            {
                return null;
            }

            var count = Length();
            var tags = new string[count];
            for (var i = 0; i < count; i++)
            {
                tags[i] = String() ?? throw new InvalidDataException("Spool record has a null tag.");
            }

            return tags;
        }

        private int Length()
        {
            var length = Long();
            if (length < 0 || length > _data.Length - _position)
            {
                throw new InvalidDataException("Spool record has a length beyond its end.");
            }

            return (int)length;
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > _data.Length - _position)
            {
                throw new InvalidDataException("Spool record is shorter than its fields.");
            }

            var slice = _data.Slice(_position, count);
            _position += count;
            return slice;
        }
    }
}
