using Keel.Core.Configuration;

namespace Keel.Core.Routing;

/// <summary>
/// What Keel has learned about one deployment at run time: in-flight calls, latency, breaker,
/// per-minute usage. Kept apart from the immutable config and kept across reloads.
/// </summary>
public sealed class DeploymentState
{
    private const double LatencyAlpha = 0.3;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private int _inFlight;
    private long _requests;
    private long _failures;
    private double _latencyMs = double.NaN;
    private DateTimeOffset _latencySampledAt;
    private long _minute;
    private int _minuteRequests;
    private long _minuteTokens;
    private int _previousMinuteRequests;
    private long _previousMinuteTokens;

    public DeploymentState(BreakerConfig breaker, TimeProvider time)
    {
        _time = time;
        Breaker = new CircuitBreaker(breaker, time);
    }

    public CircuitBreaker Breaker { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    public long Requests => Interlocked.Read(ref _requests);

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Moving average of latency (time to first token for streams), or NaN before the first sample.</summary>
    public double LatencyMs
    {
        get
        {
            lock (_gate)
            {
                return _latencyMs;
            }
        }
    }

    /// <summary>How old the latency sample is; stale samples make lowest-latency explore again.</summary>
    public TimeSpan LatencyAge
    {
        get
        {
            lock (_gate)
            {
                return double.IsNaN(_latencyMs) ? TimeSpan.MaxValue : _time.GetUtcNow() - _latencySampledAt;
            }
        }
    }

    public void Begin()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
        lock (_gate)
        {
            RollMinute();
            _minuteRequests++;
        }
    }

    public void End(bool success, double latencyMs, long tokens)
    {
        Interlocked.Decrement(ref _inFlight);
        if (!success)
        {
            Interlocked.Increment(ref _failures);
        }

        lock (_gate)
        {
            if (success)
            {
                _latencyMs = double.IsNaN(_latencyMs) ? latencyMs : (LatencyAlpha * latencyMs) + ((1 - LatencyAlpha) * _latencyMs);
                _latencySampledAt = _time.GetUtcNow();
            }

            RollMinute();
            _minuteTokens += tokens;
        }
    }

    /// <summary>True while the sliding-minute request and token counts are under the deployment's rpm and tpm.</summary>
    public bool HasCapacity(DeploymentConfig config)
    {
        if (config.Rpm is null && config.Tpm is null)
        {
            return true;
        }

        lock (_gate)
        {
            RollMinute();
            // Sliding minute estimated from this minute and a share of the previous one.
            var elapsed = (_time.GetUtcNow().UtcTicks % TimeSpan.TicksPerMinute) / (double)TimeSpan.TicksPerMinute;
            var requests = _minuteRequests + (_previousMinuteRequests * (1 - elapsed));
            var tokens = _minuteTokens + (_previousMinuteTokens * (1 - elapsed));
            return (config.Rpm is not { } rpm || requests < rpm) && (config.Tpm is not { } tpm || tokens < tpm);
        }
    }

    /// <summary>Requests counted in the sliding minute (for the health view).</summary>
    public int MinuteRequests
    {
        get
        {
            lock (_gate)
            {
                RollMinute();
                return _minuteRequests;
            }
        }
    }

    private void RollMinute()
    {
        var minute = _time.GetUtcNow().UtcTicks / TimeSpan.TicksPerMinute;
        if (minute == _minute)
        {
            return;
        }

        var consecutive = minute == _minute + 1;
        _previousMinuteRequests = consecutive ? _minuteRequests : 0;
        _previousMinuteTokens = consecutive ? _minuteTokens : 0;
        _minuteRequests = 0;
        _minuteTokens = 0;
        _minute = minute;
    }
}

/// <summary>Per-alias run-time state: the retry budget and the round-robin cursor.</summary>
public sealed class RouteState(TimeProvider time)
{
    private long _cursor;

    public RetryBudget RetryBudget { get; } = new(time);

    public long NextCursor() => Interlocked.Increment(ref _cursor) - 1;
}

/// <summary>
/// Holds run-time state by alias and deployment id, so a config reload keeps breakers, latencies
/// and budgets of the deployments that stay.
/// </summary>
public sealed class RouteStateRegistry(TimeProvider time)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DeploymentState> _deployments = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RouteState> _routes = new(StringComparer.Ordinal);

    public TimeProvider Time => time;

    public DeploymentState GetDeployment(string alias, DeploymentConfig deployment, BreakerConfig breaker)
    {
        var state = _deployments.GetOrAdd($"{alias}\n{deployment.Id}", _ => new DeploymentState(breaker, time));
        state.Breaker.Configure(breaker);
        return state;
    }

    public RouteState GetRoute(string alias) => _routes.GetOrAdd(alias, _ => new RouteState(time));
}
