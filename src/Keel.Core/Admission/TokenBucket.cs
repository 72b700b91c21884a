namespace Keel.Core.Admission;

/// <summary>
/// A limit of <c>capacity</c> units per minute, refilled continuously (capacity / 60 s), as OpenAI's rate limits
/// behave: a full minute's allowance may be spent at once, then it comes back gradually. Thread-safe.
/// </summary>
public sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private readonly double _perSecond;
    private double _available;
    private long _updatedTicks;

    public TokenBucket(long capacity, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _perSecond = capacity / 60.0;
        _available = capacity;
        _updatedTicks = now.UtcTicks;
    }

    /// <summary>Units per minute.</summary>
    public long Capacity { get; }

    /// <summary>Takes <paramref name="units"/> if available; otherwise takes nothing and says when they will be.</summary>
    public BucketResult TryTake(long units, DateTimeOffset now)
    {
        lock (_lock)
        {
            Refill(now);
            if (units > Capacity)
            {
                return new BucketResult(false, (long)_available, ResetAfter(), TimeSpan.MaxValue);
            }
            if (_available >= units)
            {
                _available -= units;
                return new BucketResult(true, (long)_available, ResetAfter(), TimeSpan.Zero);
            }
            var wait = TimeSpan.FromSeconds((units - _available) / _perSecond);
            return new BucketResult(false, (long)_available, ResetAfter(), wait);
        }
    }

    /// <summary>Adds <paramref name="units"/> back (a reservation that was larger than what was used), or takes more when negative.</summary>
    public void Adjust(long units, DateTimeOffset now)
    {
        lock (_lock)
        {
            Refill(now);
            _available = Math.Min(Capacity, _available + units); // may go below zero: the overdraft is paid back by the refill
        }
    }

    /// <summary>What is left now and when the bucket will be full again.</summary>
    public BucketResult Peek(DateTimeOffset now)
    {
        lock (_lock)
        {
            Refill(now);
            return new BucketResult(true, (long)Math.Max(0, _available), ResetAfter(), TimeSpan.Zero);
        }
    }

    private void Refill(DateTimeOffset now)
    {
        var elapsed = (now.UtcTicks - _updatedTicks) / (double)TimeSpan.TicksPerSecond;
        if (elapsed > 0)
        {
            _available = Math.Min(Capacity, _available + (elapsed * _perSecond));
            _updatedTicks = now.UtcTicks;
        }
    }

    private TimeSpan ResetAfter() => TimeSpan.FromSeconds(Math.Max(0, (Capacity - _available) / _perSecond));
}

/// <summary>The outcome of taking from a bucket: allowed or not, what remains, when it is full again, how long to wait.</summary>
public readonly record struct BucketResult(bool Allowed, long Remaining, TimeSpan ResetAfter, TimeSpan RetryAfter)
{
    /// <summary>The remaining count as sent in headers (never negative).</summary>
    public long RemainingForHeader => Math.Max(0, Remaining);
}
