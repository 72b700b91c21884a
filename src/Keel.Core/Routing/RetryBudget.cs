namespace Keel.Core.Routing;

/// <summary>
/// Caps retries at a share of requests over a sliding 10 s window (with a small floor so a quiet
/// alias can still retry), so an outage does not turn into a multiple of the load on the providers.
/// </summary>
public sealed class RetryBudget(TimeProvider time)
{
    public const int MinRetriesPerWindow = 10;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private const int Buckets = 10;
    private readonly object _gate = new();
    private readonly long[] _slot = new long[Buckets];
    private readonly int[] _requests = new int[Buckets];
    private readonly int[] _retries = new int[Buckets];

    public void RecordRequest()
    {
        lock (_gate)
        {
            _requests[Roll()]++;
        }
    }

    /// <summary>Takes one retry from the budget; false when the budget is spent.</summary>
    public bool TryAcquireRetry(double ratio)
    {
        lock (_gate)
        {
            var index = Roll();
            int requests = 0, retries = 0;
            for (var i = 0; i < Buckets; i++)
            {
                requests += _requests[i];
                retries += _retries[i];
            }

            if (retries >= Math.Max(MinRetriesPerWindow, ratio * requests))
            {
                return false;
            }

            _retries[index]++;
            return true;
        }
    }

    private int Roll()
    {
        var slot = time.GetUtcNow().UtcTicks / (Window.Ticks / Buckets);
        var index = (int)(slot % Buckets);
        for (var i = 0; i < Buckets; i++)
        {
            if (slot - _slot[i] >= Buckets || (i == index && _slot[i] != slot))
            {
                _slot[i] = i == index ? slot : _slot[i];
                _requests[i] = 0;
                _retries[i] = 0;
            }
        }

        _slot[index] = slot;
        return index;
    }
}
