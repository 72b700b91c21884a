using System.Threading.Channels;
using Keel.Core.Logging;
using Keel.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Recording;

/// <summary>
/// Takes finished traces off the request path: a bounded channel in front, one writer behind that
/// inserts in batches. The request path never waits on storage; a full queue is counted and logged.
/// When the store fails and a spool directory is set, batches go to an append-only spool on local
/// disk (<see cref="TraceSpool"/>) until a probe finds the store back; the spool is then replayed in
/// order, and only then does writing to the store resume. Traces are dropped only when the queue is
/// full or the spool's disk fails.
/// </summary>
public sealed partial class TraceRecorder : IHostedService, IDisposable
{
    private const int MaxBatch = 512;

    /// <summary>See <see cref="WriterPacing"/>: yield every this many rows while fewer than <see cref="YieldBelowQueueDepth"/> traces wait.</summary>
    private const int YieldEveryRows = 4;
    private const int YieldBelowQueueDepth = 1_000;
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(10);
    /// <summary>Without a spool, a batch waits out these before it is dropped.</summary>
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];
    /// <summary>With a spool, one short retry (a lock, a blip) before spooling; the queue must not back up.</summary>
    private static readonly TimeSpan[] SpoolRetryDelays = [TimeSpan.FromMilliseconds(200)];
    private static readonly TimeSpan FirstProbe = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxProbe = TimeSpan.FromSeconds(10);

    private readonly Channel<TraceRecord> _channel;
    private readonly IKeelStore _store;
    private readonly ILogger<TraceRecorder> _logger;
    private readonly string? _spoolDirectory;

    /// <summary>Queue depth (half the capacity) from which the writer spools instead of writing: the store is behind.</summary>
    private readonly int _overflowDepth;

    /// <summary>The spool holds traces only because the store was behind, not down: appends skip the flush to the disk.</summary>
    private bool _spoolingOverflow;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _writer;
    private TraceSpool? _spool;
    private Task<bool>? _pendingWait;
    private TimeSpan _probeDelay = FirstProbe;
    private long _nextProbeAt;
    private long _dropped;
    private long _written;
    private long _spooled;
    private long _replayed;
    private long _lastFullWarning;
    private int _inFlight;
    private int _spoolPending;

    /// <param name="store">Where traces go.</param>
    /// <param name="logger">The recorder's log.</param>
    /// <param name="capacity">Traces the queue holds before it drops new ones.</param>
    /// <param name="spoolDirectory">Where batches go while the store fails (<c>DATA/spool</c>); null drops them after retries.</param>
    public TraceRecorder(IKeelStore store, ILogger<TraceRecorder> logger, int capacity = 10_000, string? spoolDirectory = null)
    {
        _store = store;
        _logger = logger;
        _spoolDirectory = spoolDirectory;
        _overflowDepth = Math.Max(1, capacity / 2);
        _channel = Channel.CreateBounded<TraceRecord>(new BoundedChannelOptions(capacity)
        {
            // Wait, not DropWrite: with Wait a full queue makes TryWrite return false (it never blocks), so
            // the drop is counted and logged; DropWrite would report success and lose the trace silently.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>Traces refused because the queue was full, or lost because neither the store nor the spool took them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Traces written to the store, replayed ones included.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Traces appended to the spool because the store failed or fell behind the traffic.</summary>
    public long Spooled => Interlocked.Read(ref _spooled);

    /// <summary>Spooled traces since written to the store.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

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

    /// <summary>
    /// Waits until everything queued so far is in the store, spooled traces included (tests and
    /// shutdown). While the store is down this waits for it to come back, so pass a deadline.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (_channel.Reader.Count > 0 || Volatile.Read(ref _inFlight) > 0 || Volatile.Read(ref _spoolPending) > 0)
        {
            await Task.Delay(5, cancellationToken);
        }
    }

    /// <summary>
    /// Starts the writer on a thread of its own: SQLite calls block, and a blocked thread-pool thread
    /// on a 2-core machine starves the request path until the pool grows (tail latency in the tens
    /// of milliseconds). Started here rather than in a BackgroundService's ExecuteAsync, which runs
    /// later and not at all when the host stops at once; the queue must be drained either way.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_spoolDirectory is not null)
        {
            // A spool left by an earlier run is replayed before anything new is written.
            _spool = new TraceSpool(_spoolDirectory, _logger);
            Volatile.Write(ref _spoolPending, _spool.HasPending ? 1 : 0);
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stoppingToken = _stopping.Token;
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
            finally
            {
                _spool?.Dispose();
            }
        })
        {
            IsBackground = true,
            Name = "keel-trace-writer",
        };
        thread.Start();
        _writer = done.Task;
        return Task.CompletedTask;
    }

    private void WriteLoop(CancellationToken stoppingToken)
    {
        var batch = new List<TraceRecord>(MaxBatch);
        var reader = _channel.Reader;
        while (true)
        {
            var spooling = _spool is { HasPending: true };
            if (spooling && !stoppingToken.IsCancellationRequested && Environment.TickCount64 >= _nextProbeAt)
            {
                ProbeAndReplay(batch, stoppingToken);
                continue;
            }

            // While spooling, wake up for the next probe even if no trace arrives.
            var timeout = spooling && !stoppingToken.IsCancellationRequested
                ? TimeSpan.FromMilliseconds(Math.Max(1, _nextProbeAt - Environment.TickCount64))
                : Timeout.InfiniteTimeSpan;
            var wait = WaitToRead(reader, timeout);
            if (wait == false)
            {
                return;
            }

            if (wait is null)
            {
                continue;
            }

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

            PaceWriter();

            if (_spool is { HasPending: true } spool)
            {
                // Behind spooled traces: the store gets them only in order, through the replay.
                AppendToSpool(spool, batch, flushToDisk: !_spoolingOverflow);
            }
            else if (_spool is { } overflow && reader.Count >= _overflowDepth && !stoppingToken.IsCancellationRequested)
            {
                // More arrives than the store takes (a burst, a checkpoint, a CPU-starved writer): a full
                // queue would drop traces, so they go to the spool, an append, and are replayed from there
                // at once, in order. The spool then absorbs the excess for as long as it lasts.
                Log.Overflow(_logger, reader.Count, _spool.Directory);
                // Not flushed to the disk: these would otherwise wait in memory, and the files are
                // usually replayed and deleted before the kernel writes them at all.
                _spoolingOverflow = true;
                AppendToSpool(overflow, batch, flushToDisk: false);
                _probeDelay = FirstProbe;
                _nextProbeAt = Environment.TickCount64;
            }
            else
            {
                WriteOrSpool(batch, stoppingToken);
            }

            batch.Clear();
            Volatile.Write(ref _inFlight, 0);
        }
    }

    /// <summary>True when a trace is ready, false when the queue is complete and empty, null on timeout.</summary>
    private bool? WaitToRead(ChannelReader<TraceRecord> reader, TimeSpan timeout)
    {
        // One wait is kept across timeouts: abandoned waits would pile up in the channel.
        var wait = _pendingWait ?? reader.WaitToReadAsync(CancellationToken.None).AsTask();
        if (!wait.IsCompleted && !wait.Wait(timeout))
        {
            _pendingWait = wait;
            return null;
        }

        _pendingWait = null;
        return wait.GetAwaiter().GetResult();
    }

    /// <summary>Stops accepting traces and waits until the writer has drained the queue.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Stop accepting; the writer drains what is queued (to the store, or to the spool while the
        // store is down) without waiting between retries or probing, then stops.
        _channel.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_writer is { } writer)
        {
            // Like BackgroundService: give up waiting when the host's shutdown timeout passes.
            await Task.WhenAny(writer, Task.Delay(Timeout.Infinite, cancellationToken));
        }

        Log.Drained(_logger, Written, Spooled, Replayed, Dropped);
    }

    private void WriteOrSpool(List<TraceRecord> batch, CancellationToken stoppingToken)
    {
        var delays = _spool is null ? RetryDelays : SpoolRetryDelays;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _store.Traces.WriteBatchAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
                Interlocked.Add(ref _written, batch.Count);
                return;
            }
            catch (Exception ex) when (attempt < delays.Length && !stoppingToken.IsCancellationRequested)
            {
                Log.BatchFailed(_logger, batch.Count, attempt + 1, ex);
                stoppingToken.WaitHandle.WaitOne(delays[attempt]);
            }
            catch (Exception ex) when (_spool is not null)
            {
                Log.StoreDown(_logger, batch.Count, _spool.Directory, ex);
                _probeDelay = FirstProbe;
                _nextProbeAt = Environment.TickCount64 + (long)_probeDelay.TotalMilliseconds;
                _spoolingOverflow = false;
                AppendToSpool(_spool, batch, flushToDisk: true);
                return;
            }
            catch (Exception ex)
            {
                Interlocked.Add(ref _dropped, batch.Count);
                Log.BatchDropped(_logger, batch.Count, ex);
                return;
            }
        }
    }

    /// <summary>Shares the core with the request path while keeping up easily; takes it whole when behind.</summary>
    private void PaceWriter() => WriterPacing.YieldEvery = _channel.Reader.Count < YieldBelowQueueDepth ? YieldEveryRows : 0;

    private void AppendToSpool(TraceSpool spool, List<TraceRecord> batch, bool flushToDisk)
    {
        try
        {
            spool.Append(batch, flushToDisk);
            Interlocked.Add(ref _spooled, batch.Count);
            Volatile.Write(ref _spoolPending, 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Interlocked.Add(ref _dropped, batch.Count);
            Log.SpoolFailed(_logger, batch.Count, spool.CurrentPath, ex);
        }
    }

    /// <summary>
    /// Replays the spool batch by batch while the store takes it. Traces arriving meanwhile are
    /// appended behind it, so the store sees everything in order and the queue does not back up.
    /// </summary>
    private void ProbeAndReplay(List<TraceRecord> batch, CancellationToken stoppingToken)
    {
        var spool = _spool!;
        Volatile.Write(ref _inFlight, 1);
        long replayed = 0;
        try
        {
            if (!_store.PingAsync(CancellationToken.None).GetAwaiter().GetResult())
            {
                Backoff(null);
                return;
            }

            while (spool.HasPending && !stoppingToken.IsCancellationRequested)
            {
                spool.ReadBatch(MaxBatch, batch);
                if (batch.Count > 0)
                {
                    // A backlog, replayed as the traffic allows: paced like a normal batch.
                    PaceWriter();
                    _store.Traces.WriteBatchAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
                }

                spool.Commit();
                replayed += batch.Count;
                Interlocked.Add(ref _written, batch.Count);
                Interlocked.Add(ref _replayed, batch.Count);
                batch.Clear();

                var reader = _channel.Reader;
                while (reader.TryRead(out var trace))
                {
                    batch.Add(trace);
                    if (batch.Count == MaxBatch)
                    {
                        AppendToSpool(spool, batch, flushToDisk: !_spoolingOverflow);
                        batch.Clear();
                    }
                }

                if (batch.Count > 0)
                {
                    AppendToSpool(spool, batch, flushToDisk: !_spoolingOverflow);
                    batch.Clear();
                }
            }

            if (!spool.HasPending)
            {
                Volatile.Write(ref _spoolPending, 0);
                _probeDelay = FirstProbe;
                Log.Replayed(_logger, replayed, spool.Directory);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Records read but not committed are read again at the next probe; the store's upsert
            // makes a batch written twice harmless.
            batch.Clear();
            spool.Rewind();
            Backoff(ex);
        }
        finally
        {
            Volatile.Write(ref _inFlight, 0);
        }
    }

    private void Backoff(Exception? exception)
    {
        Log.ProbeFailed(_logger, _probeDelay.TotalSeconds, exception);
        _nextProbeAt = Environment.TickCount64 + (long)_probeDelay.TotalMilliseconds;
        _probeDelay = TimeSpan.FromTicks(Math.Min(MaxProbe.Ticks, _probeDelay.Ticks * 2));
    }

    public void Dispose() => _stopping.Dispose();

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.TraceQueueFull, LogLevel.Warning, "Trace queue is full; {DroppedTotal} traces dropped so far. The store is too slow or down.")]
        public static partial void QueueFull(ILogger logger, long droppedTotal);

        [LoggerMessage(KeelEventIds.TraceBatchFailed, LogLevel.Warning, "Writing {TraceCount} traces failed (attempt {Attempt}); retrying.")]
        public static partial void BatchFailed(ILogger logger, int traceCount, int attempt, Exception exception);

        [LoggerMessage(KeelEventIds.TraceBatchDropped, LogLevel.Error, "Gave up writing {TraceCount} traces after retries.")]
        public static partial void BatchDropped(ILogger logger, int traceCount, Exception exception);

        [LoggerMessage(KeelEventIds.RecorderDrained, LogLevel.Information, "Trace recorder stopped: {WrittenTotal} written, {SpooledTotal} spooled, {ReplayedTotal} replayed, {DroppedTotal} dropped.")]
        public static partial void Drained(ILogger logger, long writtenTotal, long spooledTotal, long replayedTotal, long droppedTotal);

        [LoggerMessage(KeelEventIds.TraceQueueOverflow, LogLevel.Warning, "The store is behind ({QueueDepth} traces queued); spooling to {SpoolDirectory} and replaying from there so that none is dropped.")]
        public static partial void Overflow(ILogger logger, int queueDepth, string spoolDirectory);

        [LoggerMessage(KeelEventIds.TracesSpooled, LogLevel.Warning, "The store failed; spooling traces to {SpoolDirectory} from a batch of {TraceCount} until it is back.")]
        public static partial void StoreDown(ILogger logger, int traceCount, string spoolDirectory, Exception exception);

        [LoggerMessage(KeelEventIds.SpoolWriteFailed, LogLevel.Error, "Could not append {TraceCount} traces to the spool {Path}; they are dropped.")]
        public static partial void SpoolFailed(ILogger logger, int traceCount, string path, Exception exception);

        [LoggerMessage(KeelEventIds.SpoolReplayed, LogLevel.Information, "The store is back: {TraceCount} spooled traces replayed from {SpoolDirectory}.")]
        public static partial void Replayed(ILogger logger, long traceCount, string spoolDirectory);

        [LoggerMessage(KeelEventIds.SpoolProbeFailed, LogLevel.Debug, "The store is still down; next probe in {DelaySeconds} s.")]
        public static partial void ProbeFailed(ILogger logger, double delaySeconds, Exception? exception);
    }
}
