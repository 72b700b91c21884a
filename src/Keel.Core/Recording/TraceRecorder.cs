using System.Threading.Channels;
using Keel.Core.Logging;
using Keel.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Recording;

/// <summary>
/// Takes finished traces off the request path: a bounded channel in front, one writer behind that
/// inserts in batches. The request path never waits on storage; a full queue is counted and logged.
/// </summary>
public sealed partial class TraceRecorder : BackgroundService
{
    private const int MaxBatch = 512;
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    private readonly Channel<TraceRecord> _channel;
    private readonly IKeelStore _store;
    private readonly ILogger<TraceRecorder> _logger;
    private long _dropped;
    private long _written;
    private long _lastFullWarning;

    public TraceRecorder(IKeelStore store, ILogger<TraceRecorder> logger, int capacity = 10_000)
    {
        _store = store;
        _logger = logger;
        _channel = Channel.CreateBounded<TraceRecord>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
    }

    /// <summary>Traces refused because the queue was full, or given up after the store kept failing.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long Written => Interlocked.Read(ref _written);

    public int QueueDepth => _channel.Reader.Count;

    /// <summary>Queues a trace; never blocks.</summary>
    public void Record(TraceRecord trace)
    {
        if (!_channel.Writer.TryWrite(trace))
        {
            var dropped = Interlocked.Increment(ref _dropped);
            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref _lastFullWarning);
            if (now - last > 10_000 && Interlocked.CompareExchange(ref _lastFullWarning, now, last) == last)
            {
                Log.QueueFull(_logger, dropped);
            }
        }
    }

    /// <summary>Waits until everything queued so far is written (tests and shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (_channel.Reader.Count > 0 || Volatile.Read(ref _inFlight) > 0)
        {
            await Task.Delay(5, cancellationToken);
        }
    }

    private int _inFlight;

    /// <summary>
    /// The writer runs on a thread of its own: SQLite calls block, and a blocked thread-pool thread
    /// on a 2-core machine starves the request path until the pool grows (tail latency in the tens
    /// of milliseconds).
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                WriteLoop(stoppingToken);
                done.TrySetResult();
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "keel-trace-writer",
        };
        thread.Start();
        return done.Task;
    }

    private void WriteLoop(CancellationToken stoppingToken)
    {
        var batch = new List<TraceRecord>(MaxBatch);
        var reader = _channel.Reader;
        while (WaitToRead(reader))
        {
            Volatile.Write(ref _inFlight, 1);
            // Commit cost is per transaction (the pages of every index are rewritten), so wait a
            // moment for a batch to fill instead of committing a trace at a time.
            if (reader.Count < MaxBatch && !stoppingToken.IsCancellationRequested)
            {
                stoppingToken.WaitHandle.WaitOne(Linger);
            }

            while (batch.Count < MaxBatch && reader.TryRead(out var trace))
            {
                batch.Add(trace);
            }

            WriteWithRetries(batch, stoppingToken);
            batch.Clear();
            Volatile.Write(ref _inFlight, 0);
        }
    }

    private static bool WaitToRead(ChannelReader<TraceRecord> reader)
    {
        var wait = reader.WaitToReadAsync(CancellationToken.None);
        return wait.IsCompleted ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Stop accepting, let the writer drain what is queued, then stop.
        _channel.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        Log.Drained(_logger, Written, Dropped);
    }

    private void WriteWithRetries(List<TraceRecord> batch, CancellationToken stoppingToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _store.Traces.WriteBatchAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
                Interlocked.Add(ref _written, batch.Count);
                return;
            }
            catch (Exception ex) when (attempt < RetryDelays.Length)
            {
                Log.BatchFailed(_logger, batch.Count, attempt + 1, ex);
                // Shutting down: one last attempt without waiting.
                stoppingToken.WaitHandle.WaitOne(RetryDelays[attempt]);
            }
            catch (Exception ex)
            {
                Interlocked.Add(ref _dropped, batch.Count);
                Log.BatchDropped(_logger, batch.Count, ex);
                return;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.TraceQueueFull, LogLevel.Warning, "Trace queue is full; {DroppedTotal} traces dropped so far. The store is too slow or down.")]
        public static partial void QueueFull(ILogger logger, long droppedTotal);

        [LoggerMessage(KeelEventIds.TraceBatchFailed, LogLevel.Warning, "Writing {TraceCount} traces failed (attempt {Attempt}); retrying.")]
        public static partial void BatchFailed(ILogger logger, int traceCount, int attempt, Exception exception);

        [LoggerMessage(KeelEventIds.TraceBatchDropped, LogLevel.Error, "Gave up writing {TraceCount} traces after retries.")]
        public static partial void BatchDropped(ILogger logger, int traceCount, Exception exception);

        [LoggerMessage(KeelEventIds.RecorderDrained, LogLevel.Information, "Trace recorder stopped: {WrittenTotal} written, {DroppedTotal} dropped.")]
        public static partial void Drained(ILogger logger, long writtenTotal, long droppedTotal);
    }
}
