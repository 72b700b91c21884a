using Keel.Core.Configuration;

namespace Keel.Core.Routing;

public enum BreakerState
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>
/// A per-deployment circuit breaker: opens when the failure ratio over a sliding window crosses the
/// threshold (with enough calls to judge), refuses calls for the cooldown, then lets exactly one
/// probe through; the probe's outcome closes or reopens it.
/// Hand-written rather than Polly's because balancing strategies must ask "may I pick this
/// deployment?" without executing through it, and stream failures are reported after the call.
/// </summary>
public sealed class CircuitBreaker
{
    private const int Buckets = 10;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly long[] _bucketStart = new long[Buckets];
    private readonly int[] _successes = new int[Buckets];
    private readonly int[] _failures = new int[Buckets];
    private BreakerConfig _config;
    private BreakerState _state = BreakerState.Closed;
    private DateTimeOffset _openedUntil;
    private bool _probeInFlight;

    public CircuitBreaker(BreakerConfig config, TimeProvider time)
    {
        _config = config;
        _time = time;
    }

    /// <summary>Times the breaker opened since start.</summary>
    public int TimesOpened { get; private set; }

    /// <summary>The state as a client would see it now (an open breaker past its cooldown reads half-open).</summary>
    public BreakerState State
    {
        get
        {
            lock (_gate)
            {
                return _state == BreakerState.Open && _time.GetUtcNow() >= _openedUntil ? BreakerState.HalfOpen : _state;
            }
        }
    }

    /// <summary>True when a call could go through now (closed, or half-open with no probe running).</summary>
    public bool IsSelectable
    {
        get
        {
            lock (_gate)
            {
                return _state switch
                {
                    BreakerState.Closed => true,
                    BreakerState.Open => _time.GetUtcNow() >= _openedUntil,
                    _ => !_probeInFlight,
                };
            }
        }
    }

    public void Configure(BreakerConfig config)
    {
        lock (_gate)
        {
            _config = config;
        }
    }

    /// <summary>Asks to make a call; false when the breaker refuses. <paramref name="isProbe"/> marks the half-open probe.</summary>
    public bool TryAcquire(out bool isProbe)
    {
        lock (_gate)
        {
            isProbe = false;
            if (_state == BreakerState.Open)
            {
                if (_time.GetUtcNow() < _openedUntil)
                {
                    return false;
                }

                _state = BreakerState.HalfOpen;
            }

            if (_state == BreakerState.HalfOpen)
            {
                if (_probeInFlight)
                {
                    return false;
                }

                _probeInFlight = true;
                isProbe = true;
            }

            return true;
        }
    }

    /// <summary>Reports the outcome of a call made after <see cref="TryAcquire"/>.</summary>
    public void Record(bool success, bool isProbe)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (isProbe)
            {
                _probeInFlight = false;
                if (success)
                {
                    _state = BreakerState.Closed;
                    Array.Clear(_successes);
                    Array.Clear(_failures);
                }
                else
                {
                    Open(now);
                }

                return;
            }

            var bucket = Roll(now);
            if (success)
            {
                _successes[bucket]++;
                return;
            }

            _failures[bucket]++;
            if (_state != BreakerState.Closed)
            {
                return;
            }

            int failures = 0, total = 0;
            for (var i = 0; i < Buckets; i++)
            {
                failures += _failures[i];
                total += _failures[i] + _successes[i];
            }

            if (total >= _config.MinRequests && failures >= _config.FailureRatio * total)
            {
                Open(now);
            }
        }
    }

    private void Open(DateTimeOffset now)
    {
        _state = BreakerState.Open;
        _openedUntil = now + _config.Cooldown;
        TimesOpened++;
    }

    /// <summary>The bucket for now; buckets older than the window are emptied on the way.</summary>
    private int Roll(DateTimeOffset now)
    {
        var width = Math.Max(1, _config.Window.Ticks / Buckets);
        var slot = now.UtcTicks / width;
        var index = (int)(slot % Buckets);
        if (_bucketStart[index] != slot)
        {
            _bucketStart[index] = slot;
            _successes[index] = 0;
            _failures[index] = 0;
        }

        for (var i = 0; i < Buckets; i++)
        {
            if (slot - _bucketStart[i] >= Buckets)
            {
                _successes[i] = 0;
                _failures[i] = 0;
            }
        }

        return index;
    }
}
