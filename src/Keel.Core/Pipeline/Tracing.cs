using System.Diagnostics;

namespace Keel.Core.Pipeline;

/// <summary>One timed step of a request (a pipeline stage, an upstream call).</summary>
public sealed class Span
{
    private readonly long _startTimestamp;
    private long _endTimestamp;

    internal Span(string spanId, string? parentSpanId, string name, DateTimeOffset startedAt, long startTimestamp)
    {
        SpanId = spanId;
        ParentSpanId = parentSpanId;
        Name = name;
        StartedAt = startedAt;
        _startTimestamp = startTimestamp;
    }

    public string SpanId { get; }
    public string? ParentSpanId { get; }
    public string Name { get; }
    public DateTimeOffset StartedAt { get; }
    public bool IsError { get; private set; }
    public string? StatusMessage { get; private set; }
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, the pipeline does not end the span as the stage returns: the owner ends it later (streams).</summary>
    public bool EndsLater { get; set; }

    public bool IsEnded => _endTimestamp != 0;

    public double DurationMs => IsEnded ? Stopwatch.GetElapsedTime(_startTimestamp, _endTimestamp).TotalMilliseconds : 0;

    public Span Set(string key, object? value)
    {
        Attributes[key] = value;
        return this;
    }

    public void SetError(string message)
    {
        IsError = true;
        StatusMessage = message;
    }

    public void End()
    {
        if (_endTimestamp == 0)
        {
            _endTimestamp = Stopwatch.GetTimestamp();
        }
    }
}

/// <summary>The spans of one request, in start order.</summary>
public sealed class TraceBuilder(TimeProvider time)
{
    private readonly List<Span> _spans = new(8);
    private readonly object _gate = new();

    public IReadOnlyList<Span> Spans
    {
        get
        {
            lock (_gate)
            {
                return [.. _spans];
            }
        }
    }

    public Span StartSpan(string name, string? parentSpanId)
    {
        var span = new Span(NewSpanId(), parentSpanId, name, time.GetUtcNow(), Stopwatch.GetTimestamp());
        lock (_gate)
        {
            _spans.Add(span);
        }

        return span;
    }

    /// <summary>
    /// A W3C trace id, 32 lowercase hex characters: the first 12 are the Unix time in milliseconds,
    /// the other 20 (80 bits) random, as W3C Trace Context level 2 asks of the right-most 7 bytes.
    /// </summary>
    /// <remarks>
    /// Time first, so that ids sort by creation: the store's index on trace ids then grows at its end
    /// instead of taking each new trace at a random place (a random place dirtied one index page, a
    /// 4 KB write, per trace). Ids identify, they do not authorise (reading a trace needs a key), so
    /// the runtime's fast W3C generator gives the random part: the crypto RNG cost 2.3 µs an id.
    /// </remarks>
    public static string NewTraceId() => NewTraceId(DateTimeOffset.UtcNow);

    /// <inheritdoc cref="NewTraceId()"/>
    public static string NewTraceId(DateTimeOffset now)
    {
        Span<byte> id = stackalloc byte[16];
        ActivityTraceId.CreateRandom().CopyTo(id);
        var milliseconds = (ulong)Math.Max(0, now.ToUnixTimeMilliseconds());
        for (var i = 5; i >= 0; i--)
        {
            id[i] = (byte)milliseconds;
            milliseconds >>= 8;
        }

        return Convert.ToHexStringLower(id);
    }

    /// <summary>A W3C span id: 16 lowercase hex characters.</summary>
    public static string NewSpanId() => ActivitySpanId.CreateRandom().ToHexString();
}
