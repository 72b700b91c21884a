namespace Keel.Core.Recording;

/// <summary>
/// How the trace writer shares the CPU with the request path, read by a store while it writes a batch on
/// the writer's own thread.
/// </summary>
/// <remarks>
/// A batch takes the writer a few milliseconds of CPU in one stretch (50 traces at ~50 µs each). On a
/// 2-core machine, request threads woken onto the writer's core wait for its time slice to end: at
/// concurrency 1 that was the whole 99th percentile of added latency (3.3–3.8 ms with recording, 1.4 ms
/// without). Yielding the core every few rows lets them in (1.3–1.7 ms). The writer yields only while
/// it keeps up easily (a short queue): when the queue grows, it takes its full share again, so traces are
/// never dropped for the sake of latency.
/// </remarks>
public static class WriterPacing
{
    [ThreadStatic]
    private static int t_yieldEvery;

    /// <summary>On this thread: yield the CPU after every this many rows written; 0 never.</summary>
    public static int YieldEvery
    {
        get => t_yieldEvery;
        set => t_yieldEvery = Math.Max(0, value);
    }

    /// <summary>Called by a store after each row it writes (the <paramref name="rowsWritten"/>th of the batch).</summary>
    public static void AfterRow(int rowsWritten)
    {
        var every = t_yieldEvery;
        if (every > 0 && rowsWritten % every == 0)
        {
            Thread.Yield();
        }
    }
}
