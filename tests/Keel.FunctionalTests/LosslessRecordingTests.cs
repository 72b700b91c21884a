using System.Net;
using System.Text;
using Keel.Core.Prompts;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Keel.Storage.Sqlite;
using Keel.Tests.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keel.FunctionalTests;

/// <summary>
/// Lossless recording against the real SQLite store: a fault switch in front of it makes every
/// write and ping fail while it is on, like a store whose disk or server went away.
/// </summary>
public sealed class LosslessRecordingTests : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "keel-lossless-" + Guid.NewGuid().ToString("n"));

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Recorder_StoreFailsUnderLoadThenRecovers_EveryTraceStoredExactlyOnce()
    {
        Directory.CreateDirectory(_directory);
        await using var sqlite = new SqliteStore(Path.Combine(_directory, "keel.db"));
        await sqlite.InitializeAsync(CancellationToken.None);
        var store = new FaultSwitchStore(sqlite);
        var spoolDirectory = Path.Combine(_directory, "spool");
        var recorder = new TraceRecorder(store, NullLogger<TraceRecorder>.Instance, spoolDirectory: spoolDirectory);
        await recorder.StartAsync(CancellationToken.None);

        const int total = 2_000;
        var ids = Enumerable.Range(0, total).Select(i => $"lossless-{i:D5}").ToArray();
        var spoolSeen = false;
        for (var i = 0; i < total; i++)
        {
            store.Failing = i is >= 500 and < 1_500;
            recorder.Record(Trace(ids[i], i));
            if (i % 50 == 49)
            {
                // Spread the load over about two seconds, so batches land on both sides of the switch.
                await Task.Delay(40);
                spoolSeen |= Directory.Exists(spoolDirectory) && Directory.EnumerateFiles(spoolDirectory, "traces-*.spool").Any();
            }
        }

        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await recorder.FlushAsync(deadline.Token);
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.True(spoolSeen, "The store failure never reached the spool.");
        Assert.True(recorder.Spooled > 0);
        Assert.Equal(recorder.Spooled, recorder.Replayed);
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(total, recorder.Written);
        Assert.Equal(total, await sqlite.Traces.CountAsync(CancellationToken.None));
        var stored = await StoredIdsAsync(sqlite);
        Assert.Equal(ids, stored.Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(spoolDirectory));
        var sample = await sqlite.Traces.GetAsync(ids[1_000], CancellationToken.None);
        Assert.Equal(Trace(ids[1_000], 1_000).RequestBody, sample!.RequestBody);
        Assert.Equal(["load", "n1000"], sample.Tags!);
        Assert.Equal(0.001, sample.CostUsd);
    }

    [Fact]
    public async Task Recorder_StoppedWhileStoreDown_NextStartReplaysTheSpool()
    {
        Directory.CreateDirectory(_directory);
        var spoolDirectory = Path.Combine(_directory, "spool");
        await using var sqlite = new SqliteStore(Path.Combine(_directory, "keel.db"));
        await sqlite.InitializeAsync(CancellationToken.None);
        var store = new FaultSwitchStore(sqlite) { Failing = true };
        var first = new TraceRecorder(store, NullLogger<TraceRecorder>.Instance, spoolDirectory: spoolDirectory);
        await first.StartAsync(CancellationToken.None);
        for (var i = 0; i < 300; i++)
        {
            first.Record(Trace($"restart-{i:D3}", i));
        }

        await first.StopAsync(CancellationToken.None);
        Assert.Equal(300, first.Spooled);
        Assert.Equal(0, await sqlite.Traces.CountAsync(CancellationToken.None));

        store.Failing = false;
        var second = new TraceRecorder(store, NullLogger<TraceRecorder>.Instance, spoolDirectory: spoolDirectory);
        await second.StartAsync(CancellationToken.None);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await second.FlushAsync(deadline.Token);
        }

        await second.StopAsync(CancellationToken.None);

        Assert.Equal(300, second.Replayed);
        Assert.Equal(300, await sqlite.Traces.CountAsync(CancellationToken.None));
        Assert.Empty(Directory.EnumerateFiles(spoolDirectory));
    }

    [Fact]
    public async Task Gateway_StoreDownDuringCalls_TracesArriveAfterRecoveryAndMetricsCountThem()
    {
        FaultSwitchStore? faults = null;
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(
            $$"""
            providers:
              up: { kind: openai, base_url: "{{fake.BaseUrl}}" }
            models:
              m: { provider: up, model: gpt-4o-mini }
            """,
            services => services.AddSingleton<IKeelStore>(sp => faults = new FaultSwitchStore(sp.GetRequiredService<SqliteStore>())));
        var recorder = keel.Services.GetRequiredService<TraceRecorder>();
        var store = keel.Services.GetRequiredService<IKeelStore>();
        Assert.Same(faults, store);

        faults!.Failing = true;
        var traceIds = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"m","messages":[{"role":"user","content":"hi"}]}""");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            traceIds.Add(KeelTestServer.TraceIdOf(response));
        }

        for (var i = 0; i < 100 && recorder.Spooled < traceIds.Count; i++)
        {
            await Task.Delay(50);
        }

        var whileDown = PrometheusText.Parse(await keel.Client.GetStringAsync("/metrics")).Samples;
        faults.Failing = false;
        foreach (var id in traceIds)
        {
            await keel.GetTraceAsync(id);
        }

        var afterRecovery = PrometheusText.Parse(await keel.Client.GetStringAsync("/metrics")).Samples;

        Assert.Equal(traceIds.Count, whileDown.Single(s => s.Name == "keel_recorder_spooled_total").Value);
        Assert.Equal(traceIds.Count, afterRecovery.Single(s => s.Name == "keel_recorder_replayed_total").Value);
        Assert.Equal(0, afterRecovery.Single(s => s.Name == "keel_recorder_dropped_total").Value);
    }

    private static async Task<List<string>> StoredIdsAsync(SqliteStore store)
    {
        var ids = new List<string>();
        DateTimeOffset? before = null;
        while (true)
        {
            var page = await store.Traces.ListAsync(new TraceQuery { Limit = 500, Before = before }, CancellationToken.None);
            if (page.Count == 0)
            {
                return ids;
            }

            ids.AddRange(page.Select(t => t.TraceId));
            before = page[^1].StartedAt;
        }
    }

    private static TraceRecord Trace(string id, int n) => new()
    {
        TraceId = id,
        // One trace per millisecond, so the page cursor (started strictly before) never splits a millisecond.
        StartedAt = new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero).AddMilliseconds(n),
        Operation = "chat",
        Model = "m",
        Provider = "p",
        StatusCode = 200,
        LatencyMs = n,
        InputTokens = n,
        OutputTokens = 1,
        CostUsd = n / 1_000_000.0,
        Tags = ["load", $"n{n}"],
        RequestBodyUtf8 = Encoding.UTF8.GetBytes($$"""{"model":"m","messages":[{"role":"user","content":"call {{n}}"}]}"""),
        ResponseBodyUtf8 = Encoding.UTF8.GetBytes("""{"choices":[]}"""),
        SpansUtf8 = Encoding.UTF8.GetBytes("[]"),
    };

    /// <summary>The real store behind a switch: while it is on, writes and pings fail as if it were down.</summary>
    private sealed class FaultSwitchStore(IKeelStore inner) : IKeelStore, ITraceStore
    {
        private volatile bool _failing;

        public bool Failing
        {
            get => _failing;
            set => _failing = value;
        }

        public ITraceStore Traces => this;
        public IAccessStore Access => inner.Access;
        public IDataLifecycleStore Lifecycle => inner.Lifecycle;
        public IPromptStore Prompts => inner.Prompts;
        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);
        public Task<bool> PingAsync(CancellationToken cancellationToken) => _failing ? Task.FromResult(false) : inner.PingAsync(cancellationToken);

        public Task WriteBatchAsync(IReadOnlyList<TraceRecord> traces, CancellationToken cancellationToken) =>
            _failing ? throw new StoreException("store_down", "The store is down (injected).", isTransient: true) : inner.Traces.WriteBatchAsync(traces, cancellationToken);

        public Task<TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken) => inner.Traces.GetAsync(traceId, cancellationToken);
        public Task<long> CountAsync(CancellationToken cancellationToken) => inner.Traces.CountAsync(cancellationToken);
        public Task<IReadOnlyList<TraceRecord>> ListAsync(TraceQuery query, CancellationToken cancellationToken) => inner.Traces.ListAsync(query, cancellationToken);

        // The inner store belongs to whoever created it.
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
