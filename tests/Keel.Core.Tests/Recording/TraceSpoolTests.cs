using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Keel.Core.Prompts;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keel.Core.Tests.Recording;

public sealed class TraceSpoolTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "keel-spool-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Crc32_MatchesTheStandardCheckValue_AndTheBitwiseDefinitionAtEveryLength()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0u, Crc32.Compute([]));

        // Spool files written before the eight-table version must still check: same function, every tail length.
        var data = new byte[300];
        new Random(7).NextBytes(data);
        for (var length = 0; length <= data.Length; length++)
        {
            Assert.Equal(Bitwise(data.AsSpan(0, length)), Crc32.Compute(data.AsSpan(0, length)));
        }

        static uint Bitwise(ReadOnlySpan<byte> bytes)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var b in bytes)
            {
                crc ^= b;
                for (var k = 0; k < 8; k++)
                {
                    crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
                }
            }

            return ~crc;
        }
    }

    [Fact]
    public void Codec_EveryField_RoundTrips()
    {
        var trace = Full("t-1");

        var copy = RoundTrip(trace);

        Assert.Equal("t-1", copy.TraceId);
        Assert.Equal(trace.StartedAt, copy.StartedAt);
        Assert.Equal(trace.StartedAt.Offset, copy.StartedAt.Offset);
        Assert.Equal("chat", copy.Operation);
        Assert.Equal("proj", copy.ProjectId);
        Assert.Equal("key", copy.KeyId);
        Assert.Equal("gpt-4o", copy.Model);
        Assert.Equal("openai", copy.Provider);
        Assert.Equal("gpt-4o-2024-08-06", copy.UpstreamModel);
        Assert.True(copy.Stream);
        Assert.Equal(502, copy.StatusCode);
        Assert.Equal("upstream_error", copy.ErrorCode);
        Assert.Equal("bad gateway ✓", copy.ErrorMessage);
        Assert.Equal(trace.RequestBodyUtf8!.Value.ToArray(), copy.RequestBodyUtf8!.Value.ToArray());
        Assert.Equal(trace.ResponseBodyUtf8!.Value.ToArray(), copy.ResponseBodyUtf8!.Value.ToArray());
        Assert.Equal(123.456, copy.LatencyMs);
        Assert.Equal(7.5, copy.TtftMs);
        Assert.Equal(12, copy.InputTokens);
        Assert.Equal(34, copy.OutputTokens);
        Assert.Equal("greeting", copy.PromptName);
        Assert.Equal(3, copy.PromptVersion);
        Assert.Equal("exp", copy.ExperimentId);
        Assert.Equal("b", copy.ExperimentArm);
        Assert.Equal(5, copy.CachedInputTokens);
        Assert.Equal(0.000123, copy.CostUsd);
        Assert.True(copy.CostEstimated);
        Assert.Equal("session", copy.SessionId);
        Assert.Equal("user-中文", copy.UserId);
        Assert.Equal(["a", "b c", ""], copy.Tags!);
        Assert.Equal("""{"k":"v","n":[1,2]}""", copy.MetadataJson);
        Assert.Equal(trace.SpansUtf8!.Value.ToArray(), copy.SpansUtf8!.Value.ToArray());
    }

    /// <summary>A field added to TraceRecord fails here until the codec carries it.</summary>
    [Fact]
    public void Codec_EverySettableProperty_IsSetInTheSampleAndSurvives()
    {
        var trace = Full("t-2");
        var copy = RoundTrip(trace);

        // Scores and AppSpans are read-side views filled by GET /api/traces/{id} from their own tables, never recorded.
        string[] readSide = [nameof(TraceRecord.Scores), nameof(TraceRecord.AppSpans)];
        foreach (var property in typeof(TraceRecord).GetProperties().Where(p => p.SetMethod is not null && !readSide.Contains(p.Name)))
        {
            var expected = property.GetValue(trace);
            var actual = property.GetValue(copy);
            var unset = property.PropertyType.IsValueType && Nullable.GetUnderlyingType(property.PropertyType) is null ? Activator.CreateInstance(property.PropertyType) : null;
            Assert.True(expected is not null && !Equals(expected, unset), $"{property.Name} is not set in the sample.");
            Assert.True(Normalise(expected) == Normalise(actual), $"{property.Name} did not round-trip.");
        }
    }

    [Fact]
    public void Codec_NullsAndEmpties_StayDistinct()
    {
        var trace = new TraceRecord
        {
            TraceId = "t-3",
            StartedAt = DateTimeOffset.UnixEpoch,
            Operation = "embeddings",
            ProjectId = "",
            RequestBodyUtf8 = Array.Empty<byte>(),
            Tags = [],
        };

        var copy = RoundTrip(trace);

        Assert.Equal("", copy.ProjectId);
        Assert.Null(copy.KeyId);
        Assert.Equal(0, copy.RequestBodyUtf8!.Value.Length);
        Assert.Null(copy.ResponseBodyUtf8);
        Assert.Empty(copy.Tags!);
        Assert.Null(copy.TtftMs);
        Assert.Null(copy.CostUsd);
        Assert.Null(copy.MetadataJson);
        Assert.Null(copy.SpansUtf8);
        Assert.False(copy.Stream);
    }

    [Fact]
    public void Codec_UnknownVersion_IsRefused()
    {
        var buffer = new ArrayBufferWriter<byte>();
        TraceRecordCodec.Write(buffer, Full("t-4"));
        var bytes = buffer.WrittenSpan.ToArray();
        bytes[0] = 99;

        Assert.Throws<InvalidDataException>(() => TraceRecordCodec.Read(bytes));
        Assert.Throws<InvalidDataException>(() => TraceRecordCodec.Read(buffer.WrittenSpan[..^3]));
    }

    [Fact]
    public void Spool_TornLastRecord_IsSkippedAndTheRestRead()
    {
        using (var spool = new TraceSpool(_directory, NullLogger.Instance))
        {
            spool.Append([Full("a"), Full("b")]);
            spool.Append([Full("c")]);
        }

        var file = Directory.GetFiles(_directory).Single();
        using (var stream = new FileStream(file, FileMode.Open))
        {
            stream.SetLength(stream.Length - 5);
        }

        using var reopened = new TraceSpool(_directory, NullLogger.Instance);
        var read = new List<TraceRecord>();
        reopened.ReadBatch(100, read);
        reopened.Commit();

        Assert.Equal(["a", "b"], read.Select(t => t.TraceId));
        Assert.False(reopened.HasPending);
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Spool_CorruptChecksum_EndsThatFileAndTheNextFileIsRead()
    {
        using (var spool = new TraceSpool(_directory, NullLogger.Instance))
        {
            spool.Append([Full("a"), Full("b")]);
        }

        var first = Directory.GetFiles(_directory).Single();
        var bytes = File.ReadAllBytes(first);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(first, bytes);
        using (var spool = new TraceSpool(_directory, NullLogger.Instance))
        {
            spool.Append([Full("c")]);
        }

        using var reopened = new TraceSpool(_directory, NullLogger.Instance);
        var read = new List<TraceRecord>();
        reopened.ReadBatch(100, read);

        Assert.Equal(["a", "c"], read.Select(t => t.TraceId));
    }

    [Fact]
    public void Spool_Rewind_ReadsTheUncommittedRecordsAgain()
    {
        using var spool = new TraceSpool(_directory, NullLogger.Instance);
        spool.Append([Full("a"), Full("b"), Full("c")]);
        var read = new List<TraceRecord>();

        spool.ReadBatch(2, read);
        spool.Commit();
        read.Clear();
        spool.ReadBatch(2, read);
        spool.Rewind();
        read.Clear();
        spool.Append([Full("d")]);
        spool.ReadBatch(10, read);
        spool.Commit();

        Assert.Equal(["c", "d"], read.Select(t => t.TraceId));
        Assert.False(spool.HasPending);
    }

    [Fact]
    public async Task Recorder_SpoolLeftByAnEarlierRun_IsReplayedInOrderAtStart()
    {
        using (var spool = new TraceSpool(_directory, NullLogger.Instance))
        {
            spool.Append([.. Enumerable.Range(0, 700).Select(i => Full($"old-{i}"))]);
        }

        var store = new ListStore();
        var recorder = new TraceRecorder(store, NullLogger<TraceRecorder>.Instance, spoolDirectory: _directory);
        await recorder.StartAsync(CancellationToken.None);
        recorder.Record(Full("new"));
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await recorder.FlushAsync(deadline.Token);
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.Equal([.. Enumerable.Range(0, 700).Select(i => $"old-{i}"), "new"], store.Ids);
        // "new" may arrive while the replay runs: it is then spooled behind the old ones.
        Assert.InRange(recorder.Replayed, 700, 701);
        Assert.Equal(701, recorder.Written);
        Assert.Equal(0, recorder.Dropped);
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public async Task Recorder_StoreDownAtShutdown_DrainsTheQueueToTheSpool()
    {
        var store = new ListStore { Failing = true };
        var recorder = new TraceRecorder(store, NullLogger<TraceRecorder>.Instance, spoolDirectory: _directory);
        await recorder.StartAsync(CancellationToken.None);
        for (var i = 0; i < 50; i++)
        {
            recorder.Record(Full($"t-{i}"));
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.Equal(50, recorder.Spooled);
        Assert.Equal(0, recorder.Dropped);
        using var spool = new TraceSpool(_directory, NullLogger.Instance);
        var read = new List<TraceRecord>();
        spool.ReadBatch(100, read);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"t-{i}"), read.Select(t => t.TraceId));
    }

    [Fact]
    public async Task Recorder_QueueFull_CountsAndLogsEveryTraceItRefuses()
    {
        var logger = new CapturingLogger();
        var store = new ListStore();
        var recorder = new TraceRecorder(store, logger, capacity: 5);
        for (var i = 0; i < 8; i++)
        {
            recorder.Record(Full($"t-{i}")); // not started yet: nothing drains the queue
        }

        Assert.Equal(5, recorder.QueueDepth);
        Assert.Equal(3, recorder.Dropped);
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("full", StringComparison.OrdinalIgnoreCase));
        await recorder.StartAsync(CancellationToken.None);
        await recorder.StopAsync(CancellationToken.None);

        Assert.Equal(["t-0", "t-1", "t-2", "t-3", "t-4"], store.Ids);
        Assert.Equal(5, recorder.Written);
    }

    [Fact]
    public async Task Recorder_StoreBehindTheTraffic_SpoolsTheExcessInsteadOfDropping_AndKeepsTheOrder()
    {
        var logger = new CapturingLogger();
        using var gate = new ManualResetEventSlim();
        var store = new ListStore { Gate = gate };
        var recorder = new TraceRecorder(store, logger, spoolDirectory: _directory);
        await recorder.StartAsync(CancellationToken.None);
        recorder.Record(Full("t-00000"));
        Assert.True(store.Entered.Wait(TimeSpan.FromSeconds(10)), "the writer never wrote");

        // The store is stuck in a write: 6,000 traces pile up (the queue holds 10,000). When it is back, the
        // writer takes a batch of 512 and finds 5,488 still waiting, past the mark (half the capacity).
        const int total = 10_001;
        for (var i = 1; i < 6_001; i++)
        {
            recorder.Record(Full($"t-{i:D5}"));
        }

        // Then traffic keeps coming (100 a millisecond) while the backlog is replayed: it queues behind the
        // spool, so the store sees every trace in order.
        gate.Set();
        for (var i = 6_001; i < total; i++)
        {
            recorder.Record(Full($"t-{i:D5}"));
            if (i % 100 == 0)
            {
                await Task.Delay(1);
            }
        }

        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await recorder.FlushAsync(deadline.Token);
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.Equal(0, recorder.Dropped);
        Assert.True(recorder.Spooled > 0, "the writer never spooled");
        Assert.Equal(recorder.Spooled, recorder.Replayed);
        Assert.Equal(total, recorder.Written);
        Assert.Equal(Enumerable.Range(0, total).Select(i => $"t-{i:D5}"), store.Ids);
        Assert.Contains(logger.Entries, e => e.Message.Contains("store is behind", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public async Task Recorder_StoreSlowerThanTheTraffic_WithoutASpool_CountsWhatItDrops()
    {
        var store = new ListStore { Delay = TimeSpan.FromMilliseconds(20) };
        var recorder = new TraceRecorder(store, NullLogger<TraceRecorder>.Instance, capacity: 200);
        await recorder.StartAsync(CancellationToken.None);
        for (var i = 0; i < 5_000; i++)
        {
            recorder.Record(Full($"t-{i}"));
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.True(recorder.Dropped > 0);
        Assert.Equal(5_000, recorder.Dropped + recorder.Written);
        Assert.Equal(recorder.Written, store.Ids.Count);
    }

    [Fact]
    public async Task Recorder_StoreAndSpoolDiskBothFail_DropsAndLogsAnErrorNamingThePath()
    {
        // A file where the spool directory should be: creating the spool fails like a broken disk.
        Directory.CreateDirectory(_directory);
        var blocked = Path.Combine(_directory, "spool");
        File.WriteAllText(blocked, "not a directory");
        var logger = new CapturingLogger();
        var recorder = new TraceRecorder(new ListStore { Failing = true }, logger, spoolDirectory: blocked);
        await recorder.StartAsync(CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            recorder.Record(Full($"t-{i}"));
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.Equal(10, recorder.Dropped);
        Assert.Equal(0, recorder.Spooled);
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains(blocked, StringComparison.Ordinal));
    }

    private static TraceRecord RoundTrip(TraceRecord trace)
    {
        var buffer = new ArrayBufferWriter<byte>();
        TraceRecordCodec.Write(buffer, trace);
        Assert.Equal(TraceRecordCodec.Version, buffer.WrittenSpan[0]);
        return TraceRecordCodec.Read(buffer.WrittenSpan);
    }

    private static string? Normalise(object? value) => value switch
    {
        null => null,
        ReadOnlyMemory<byte> bytes => Convert.ToHexString(bytes.Span),
        IReadOnlyList<string> list => string.Join("\u0001", list),
        DateTimeOffset time => time.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private static TraceRecord Full(string id) => new()
    {
        TraceId = id,
        StartedAt = new DateTimeOffset(2026, 11, 23, 6, 40, 1, 234, TimeSpan.FromHours(5.5)).AddTicks(5678),
        Operation = "chat",
        ProjectId = "proj",
        KeyId = "key",
        Model = "gpt-4o",
        Provider = "openai",
        UpstreamModel = "gpt-4o-2024-08-06",
        Stream = true,
        StatusCode = 502,
        ErrorCode = "upstream_error",
        ErrorMessage = "bad gateway ✓",
        RequestBodyUtf8 = Encoding.UTF8.GetBytes("""{"model":"gpt-4o","messages":[{"role":"user","content":"hé 🙂"}]}"""),
        ResponseBodyUtf8 = new byte[] { 0, 1, 2, 255 },
        LatencyMs = 123.456,
        TtftMs = 7.5,
        InputTokens = 12,
        OutputTokens = 34,
        PromptName = "greeting",
        PromptVersion = 3,
        ExperimentId = "exp",
        ExperimentArm = "b",
        CachedInputTokens = 5,
        CostUsd = 0.000123,
        CostEstimated = true,
        SessionId = "session",
        UserId = "user-中文",
        Tags = ["a", "b c", ""],
        MetadataJson = """{"k":"v","n":[1,2]}""",
        SpansUtf8 = Encoding.UTF8.GetBytes("""[{"span_id":"s1","name":"chat"}]"""),
    };

    /// <summary>Keeps trace ids in write order; can be switched to fail like a store that is down.</summary>
    private sealed class ListStore : IKeelStore, ITraceStore
    {
        private readonly ConcurrentQueue<string> _ids = new();

        public bool Failing { get; set; }

        /// <summary>How long each batch takes to write: a store slower than the traces arriving.</summary>
        public TimeSpan Delay { get; set; }

        /// <summary>When set, writes wait for it (a store stuck in a write); <see cref="Entered"/> says one began.</summary>
        public ManualResetEventSlim? Gate { get; set; }

        public ManualResetEventSlim Entered { get; } = new();

        public IReadOnlyList<string> Ids => [.. _ids];
        public ITraceStore Traces => this;
        public IAccessStore Access => throw new NotSupportedException("This store holds traces only.");
        public IDataLifecycleStore Lifecycle => throw new NotSupportedException("This store holds traces only.");
        public IPromptStore Prompts => throw new NotSupportedException("This store holds traces only.");
        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(!Failing);

        public Task WriteBatchAsync(IReadOnlyList<TraceRecord> traces, CancellationToken cancellationToken)
        {
            if (Failing)
            {
                throw new StoreException("down", "The store is down.", isTransient: true);
            }

            Entered.Set();
            Gate?.Wait(CancellationToken.None);
            Thread.Sleep(Delay);
            foreach (var trace in traces)
            {
                _ids.Enqueue(trace.TraceId);
            }

            return Task.CompletedTask;
        }

        public Task<TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken) => Task.FromResult<TraceRecord?>(null);
        public Task<long> CountAsync(CancellationToken cancellationToken) => Task.FromResult((long)_ids.Count);
        public Task<IReadOnlyList<TraceRecord>> ListAsync(TraceQuery query, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TraceRecord>>([]);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class CapturingLogger : Microsoft.Extensions.Logging.ILogger<TraceRecorder>
    {
        private readonly ConcurrentQueue<(Microsoft.Extensions.Logging.LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(Microsoft.Extensions.Logging.LogLevel Level, string Message)> Entries => [.. _entries];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue((logLevel, formatter(state, exception)));
    }
}
