using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Keel.Core.Recording;
using Keel.Core.Storage;
using Keel.Storage.Sqlite;
using TraceFilter = Keel.Core.Storage.TraceFilter;
using Microsoft.Data.Sqlite;

// Seeds a SQLite store with realistic traces (through SqliteStore.WriteBatchAsync, so every index,
// trigger and the text index are maintained as in production) and measures GET /api/traces-style
// queries through ITraceQueryStore.QueryAsync.
//
//   dotnet run -c Release --project bench/Keel.TraceQueryBench -- --db /tmp/keel-1m.db --traces 1000000
//
// Options: --db PATH (default ./trace-bench.db), --traces N (default 1,000,000; an existing file with
// fewer traces is topped up), --runs N (queries per kind, default 200), --plans (print each kind's
// query plan), --limit N (page size, default 50), --sql "STATEMENTS" (run before seeding, for
// experiments such as dropping a trigger), --runs 0 (seed only), --recorder SPANS_PER_SECOND (instead of
// queries: offer traces of 6 spans to the real TraceRecorder at that rate for 20 s and report whether the
// queue stays bounded: the "recorder sustains N spans/s" check).
var options = Options.Parse(args);
Console.WriteLine($"database: {options.Db}");
await using var store = new SqliteStore(options.Db);
await store.InitializeAsync(CancellationToken.None);

if (options.Sql is { } sql)
{
    // For experiments: e.g. --sql "DROP TRIGGER traces_fts_insert" to time writes without the text index.
    await using var connection = new SqliteConnection($"Data Source={options.Db}");
    await connection.OpenAsync();
    await using var command = connection.CreateCommand();
    command.CommandText = sql;
    await command.ExecuteNonQueryAsync();
    Console.WriteLine($"ran: {sql}");
}

var existing = await store.CountAsync(CancellationToken.None);
if (existing < options.Traces)
{
    await Seeder.SeedAsync(store, existing, options.Traces);
}

Console.WriteLine($"traces: {await store.CountAsync(CancellationToken.None):N0}, file: {new FileInfo(options.Db).Length / 1024.0 / 1024:N0} MiB (+ WAL {(File.Exists(options.Db + "-wal") ? new FileInfo(options.Db + "-wal").Length / 1024.0 / 1024 : 0):N0} MiB)");
if (options.RecorderSpansPerSecond is { } spansPerSecond)
{
    await RecorderRun.RunAsync(store, spansPerSecond, seconds: 20);
}
else if (options.Runs > 0)
{
    await QueryRunner.RunAsync(store, options);
}

return 0;

internal sealed record Options(string Db, long Traces, int Runs, bool Plans, int Limit, string? Sql, int? RecorderSpansPerSecond)
{
    public static Options Parse(string[] args)
    {
        var db = "trace-bench.db";
        long traces = 1_000_000;
        int runs = 200, limit = 50;
        var plans = false;
        string? sql = null;
        int? recorder = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--db": db = args[++i]; break;
                case "--traces": traces = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--limit": limit = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--plans": plans = true; break;
                case "--sql": sql = args[++i]; break;
                case "--recorder": recorder = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        return new Options(db, traces, runs, plans, limit, sql, recorder);
    }
}

/// <summary>The shape of the seeded data, shared by the seeder and the queries that probe it.</summary>
internal static class Data
{
    /// <summary>The seeded month ends here (a fixed instant, so runs are comparable).</summary>
    public static readonly DateTimeOffset End = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan Span = TimeSpan.FromDays(30);

    /// <summary>(model, provider, input $/1M, output $/1M, share): a few models take most traffic.</summary>
    public static readonly (string Model, string Provider, double In, double Out, double Share)[] Models =
    [
        ("gpt-4o-mini", "openai", 0.15, 0.6, 0.36), ("gpt-4o", "openai", 2.5, 10, 0.18), ("claude-sonnet", "anthropic", 3, 15, 0.14),
        ("gemini-flash", "google", 0.3, 2.5, 0.08), ("gpt-4.1-nano", "openai", 0.1, 0.4, 0.06), ("claude-haiku", "anthropic", 0.8, 4, 0.05),
        ("mistral-small", "mistral", 0.1, 0.3, 0.04), ("llama-70b", "groq", 0.59, 0.79, 0.03), ("deepseek-chat", "deepseek", 0.28, 0.42, 0.025),
        ("o3", "openai", 2, 8, 0.015), ("local/echo", "local", 0, 0, 0.009), ("gpt-4.5-preview", "openai", 75, 150, 0.001),
    ];

    /// <summary>(status, share).</summary>
    public static readonly (int Status, double Share)[] Statuses = [(200, 0.95), (429, 0.02), (500, 0.01), (502, 0.01), (400, 0.005), (499, 0.005)];

    public const int Users = 5_000;
    public const int Sessions = 150_000;
    public const int Projects = 8;
    public const int Keys = 40;

    /// <summary>Tags by popularity: "prod" on most traces, "t49" on about one in a thousand.</summary>
    public static readonly string[] Tags = ["prod", "web", "mobile", "beta", "batch", .. Enumerable.Range(5, 45).Select(i => $"t{i}")];

    /// <summary>The vocabulary of message texts: 6,000 made-up words, used with a Zipf law like natural text.</summary>
    public static readonly string[] Words = BuildWords(6_000);

    private static string[] BuildWords(int count)
    {
        string[] syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "qua", "bri", "dor", "fen", "gal", "hux", "jin", "pel", "rom", "sul", "tav"];
        var words = new HashSet<string>(StringComparer.Ordinal);
        var random = new Random(1);
        while (words.Count < count)
        {
            var n = 1 + random.Next(3);
            var word = new StringBuilder();
            for (var i = 0; i < n; i++)
            {
                word.Append(syllables[random.Next(syllables.Length)]);
            }

            words.Add(word.ToString());
        }

        return [.. words];
    }
}

/// <summary>Draws index k of n with probability proportional to 1 / (k+1)^s.</summary>
internal sealed class Zipf
{
    private readonly double[] _cumulative;

    public Zipf(int n, double s)
    {
        _cumulative = new double[n];
        var total = 0.0;
        for (var k = 0; k < n; k++)
        {
            total += 1 / Math.Pow(k + 1, s);
            _cumulative[k] = total;
        }

        for (var k = 0; k < n; k++)
        {
            _cumulative[k] /= total;
        }
    }

    public int Next(Random random)
    {
        var index = Array.BinarySearch(_cumulative, random.NextDouble());
        return Math.Min(index < 0 ? ~index : index, _cumulative.Length - 1);
    }
}

internal static class Seeder
{
    /// <summary>Order numbers are drawn from this many, so most of them appear on a trace or two.</summary>
    public const int OrderNumbers = 2_000;

    private const int Batch = 512;

    public static async Task SeedAsync(SqliteStore store, long from, long to)
    {
        Console.WriteLine($"seeding {to - from:N0} traces...");
        var random = new Random(unchecked((int)(42 + from)));
        var words = new Zipf(Data.Words.Length, 1.07);
        var users = new Zipf(Data.Users, 1.1);
        var tags = new Zipf(Data.Tags.Length, 1.6);
        var step = Data.Span.TotalMilliseconds / to;
        var clock = Stopwatch.StartNew();
        var writing = new Stopwatch();
        var writingCpu = TimeSpan.Zero;
        var batch = new List<TraceRecord>(Batch);
        long startedAtMs = (Data.End - Data.Span).ToUnixTimeMilliseconds() + (long)(from * step);
        for (var i = from; i < to; i++)
        {
            // One trace in twenty starts in the same millisecond as the one before it (ties for the cursor).
            if (random.Next(20) != 0)
            {
                startedAtMs += Math.Max(1, (long)(step / 0.95 * 2 * random.NextDouble()));
            }

            batch.Add(Trace(random, words, users, tags, i, Math.Min(startedAtMs, Data.End.ToUnixTimeMilliseconds() - 1)));
            if (batch.Count == Batch)
            {
                writing.Start();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                await store.WriteBatchAsync(batch, CancellationToken.None);
                writingCpu += Process.GetCurrentProcess().TotalProcessorTime - cpu;
                writing.Stop();
                batch.Clear();
                if ((i + 1) % 100_000 < Batch)
                {
                    Console.WriteLine($"  {i + 1:N0} traces, {(i + 1 - from) / clock.Elapsed.TotalSeconds:N0}/s");
                }
            }
        }

        if (batch.Count > 0)
        {
            await store.WriteBatchAsync(batch, CancellationToken.None);
        }

        Console.WriteLine($"seeded {to - from:N0} traces in {clock.Elapsed.TotalSeconds:N1} s; WriteBatchAsync took {writing.Elapsed.TotalSeconds:N1} s: {(to - from) / writing.Elapsed.TotalSeconds:N0} traces/s, {writing.Elapsed.TotalMicroseconds / (to - from):N1} µs a trace, {writingCpu.TotalMicroseconds / (to - from):N1} µs of CPU (indexes, tag table and text index included)");
    }

    /// <summary>
    /// Realistic traces (6 spans each), as the seeder writes them, for the recorder run. Their ids start with
    /// the run's start time, as Keel's do, so every run inserts new traces (the same ids twice would measure
    /// updates of existing rows instead).
    /// </summary>
    public static List<TraceRecord> Sample(int count, long startedAtMs)
    {
        var random = new Random(7);
        var words = new Zipf(Data.Words.Length, 1.07);
        var users = new Zipf(Data.Users, 1.1);
        var tags = new Zipf(Data.Tags.Length, 1.6);
        return [.. Enumerable.Range(0, count).Select(i => Trace(random, words, users, tags, (startedAtMs * 100_000L) + i, startedAtMs + i))];
    }

    private static TraceRecord Trace(Random random, Zipf words, Zipf users, Zipf tags, long index, long startedAtMs)
    {
        var model = Pick(random, Data.Models, m => m.Share);
        var status = Pick(random, Data.Statuses, s => s.Share).Status;
        var stream = random.Next(2) == 0;
        var ok = status < 400;
        var input = (int)Math.Clamp(LogNormal(random, 800, 1.0), 5, 120_000);
        var output = ok ? (int)Math.Clamp(LogNormal(random, 200, 0.9), 1, 16_000) : 0;
        var cached = ok && random.Next(4) == 0 ? input / 2 : 0;
        var latency = Math.Clamp(LogNormal(random, 900, 0.8), 20, 120_000);
        var question = Sentence(random, words, 12 + random.Next(40));
        // About one trace in 500 mentions an order number: what a search for one specific case finds.
        if (random.Next(500) == 0)
        {
            question += $" order {random.Next(OrderNumbers):D5}";
        }

        var answer = ok ? Sentence(random, words, 10 + random.Next(60)) : null;
        var tagList = new List<string>();
        for (var t = random.Next(4); t > 0; t--)
        {
            var tag = Data.Tags[tags.Next(random)];
            if (!tagList.Contains(tag))
            {
                tagList.Add(tag);
            }
        }

        var traceId = $"{index:x16}{random.NextInt64():x16}";
        return new TraceRecord
        {
            TraceId = traceId,
            StartedAt = DateTimeOffset.FromUnixTimeMilliseconds(startedAtMs),
            Operation = "chat",
            ProjectId = $"project-{random.Next(Data.Projects)}",
            KeyId = $"key-{random.Next(Data.Keys)}",
            Model = model.Model,
            Provider = model.Provider,
            UpstreamModel = model.Model,
            Stream = stream,
            StatusCode = status,
            ErrorCode = ok ? null : $"upstream_{status}",
            ErrorMessage = ok ? null : "The provider answered an error.",
            RequestBodyUtf8 = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
            {
                model = model.Model,
                stream,
                messages = new object[] { new { role = "system", content = "You are a helpful assistant for the support team." }, new { role = "user", content = question } },
            })),
            ResponseBodyUtf8 = answer is null ? (ReadOnlyMemory<byte>?)null : Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
            {
                id = "chatcmpl-" + traceId[..12],
                @object = "chat.completion",
                model = model.Model,
                choices = new object[] { new { index = 0, message = new { role = "assistant", content = answer }, finish_reason = "stop" } },
                usage = new { prompt_tokens = input, completion_tokens = output, total_tokens = input + output },
            })),
            LatencyMs = latency,
            TtftMs = stream && ok ? latency * (0.1 + (0.4 * random.NextDouble())) : null,
            InputTokens = ok ? input : null,
            OutputTokens = ok ? output : null,
            CachedInputTokens = cached > 0 ? cached : null,
            CostUsd = ok ? (((input - cached) * model.In) + (cached * model.In / 2) + (output * model.Out)) / 1e6 : null,
            UserId = random.Next(5) == 0 ? null : $"user-{users.Next(random)}",
            SessionId = random.Next(10) < 3 ? null : $"session-{random.Next(Data.Sessions)}",
            Tags = tagList.Count > 0 ? tagList : null,
            MetadataJson = random.Next(3) == 0 ? $$"""{"feature":"f{{random.Next(20)}}"}""" : null,
            SpansUtf8 = Spans(startedAtMs, latency),
        };
    }

    private static string Sentence(Random random, Zipf words, int count)
    {
        var text = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            text.Append(i == 0 ? "" : " ").Append(Data.Words[words.Next(random)]);
        }

        return text.Append('.').ToString();
    }

    private static byte[] Spans(long startedAtMs, double latency)
    {
        var started = DateTimeOffset.FromUnixTimeMilliseconds(startedAtMs).ToString("O", CultureInfo.InvariantCulture);
        var spans = new StringBuilder("[");
        string[] names = ["gateway", "identity", "ingress", "resolve", "call", "attempt"];
        for (var i = 0; i < names.Length; i++)
        {
            spans.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $$$"""{"span_id":"{{{i:x16}}}","name":"{{{names[i]}}}","started_at":"{{{started}}}","duration_ms":{{{(i is 0 or 4 or 5 ? latency : 0.02):0.###}}},"is_error":false,"attributes":{"gen_ai.operation.name":"chat"}}""");
        }

        return Encoding.UTF8.GetBytes(spans.Append(']').ToString());
    }

    private static double LogNormal(Random random, double median, double sigma)
    {
        // Box-Muller.
        var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return median * Math.Exp(sigma * normal);
    }

    private static T Pick<T>(Random random, T[] items, Func<T, double> share)
    {
        var x = random.NextDouble();
        foreach (var item in items)
        {
            x -= share(item);
            if (x < 0)
            {
                return item;
            }
        }

        return items[^1];
    }
}

internal static class QueryRunner
{
    /// <summary>A typical filtered query: a name and, per run, the filter and how many pages to walk.</summary>
    private sealed record Kind(string Name, Func<Random, TraceFilter> Filter, int Pages = 1);

    public static async Task RunAsync(SqliteStore store, Options options)
    {
        var lastDay = Data.End - TimeSpan.FromDays(1);
        var lastWeek = Data.End - TimeSpan.FromDays(7);
        var users = new Zipf(Data.Users, 1.1);
        Kind[] kinds =
        [
            new("newest (no filter)", _ => new TraceFilter()),
            new("pages 2-5 (cursor)", _ => new TraceFilter(), Pages: 5),
            new("model (common)", _ => new TraceFilter { Model = "gpt-4o-mini" }),
            new("model (rare, 0.1%)", _ => new TraceFilter { Model = "gpt-4.5-preview" }),
            new("provider", r => new TraceFilter { Provider = r.Next(2) == 0 ? "anthropic" : "google" }),
            new("status=error", _ => new TraceFilter { Status = TraceStatusFilter.Error }),
            new("status=ok", _ => new TraceFilter { Status = TraceStatusFilter.Ok }),
            new("status=429", _ => new TraceFilter { StatusCode = 429 }),
            new("user", r => new TraceFilter { UserId = $"user-{users.Next(r)}" }),
            new("session", r => new TraceFilter { SessionId = $"session-{r.Next(Data.Sessions)}" }),
            new("tag (common)", _ => new TraceFilter { Tags = ["prod"] }),
            new("tag (rare)", r => new TraceFilter { Tags = [Data.Tags[40 + r.Next(10)]] }),
            new("two tags", _ => new TraceFilter { Tags = ["web", "beta"] }),
            new("last 24 h", _ => new TraceFilter { From = lastDay, To = Data.End }),
            new("a day a week ago", r => new TraceFilter { From = lastWeek.AddHours(r.Next(24)), To = lastWeek.AddHours(24 + r.Next(24)) }),
            new("min_cost $0.05", _ => new TraceFilter { MinCostUsd = 0.05 }),
            new("cost $0.01-0.02", _ => new TraceFilter { MinCostUsd = 0.01, MaxCostUsd = 0.02 }),
            new("min_latency 10 s", _ => new TraceFilter { MinLatencyMs = 10_000 }),
            new("max_latency 100 ms", _ => new TraceFilter { MaxLatencyMs = 100 }),
            new("q: common word", r => new TraceFilter { Text = Data.Words[r.Next(5)] }),
            new("q: mid word", r => new TraceFilter { Text = Data.Words[200 + r.Next(100)] }),
            new("q: rare word", r => new TraceFilter { Text = Data.Words[5_000 + r.Next(1_000)] }),
            new("q: two words", r => new TraceFilter { Text = $"{Data.Words[r.Next(30)]} {Data.Words[100 + r.Next(200)]}" }),
            new("q: order number", r => new TraceFilter { Text = $"order {r.Next(Seeder.OrderNumbers):D5}" }),
            new("model+error+7d", _ => new TraceFilter { Model = "gpt-4o", Status = TraceStatusFilter.Error, From = lastWeek }),
            new("user+24h", r => new TraceFilter { UserId = $"user-{users.Next(r)}", From = lastDay }),
            new("tag+model", _ => new TraceFilter { Tags = ["mobile"], Model = "claude-sonnet" }),
            new("q+model", r => new TraceFilter { Text = Data.Words[50 + r.Next(50)], Model = "gpt-4o" }),
        ];

        if (options.Plans)
        {
            await PrintPlansAsync(options.Db, kinds, options.Limit);
        }

        // Warm-up: JIT, the connection pool, the pages the queries touch.
        var warm = new Random(7);
        foreach (var kind in kinds)
        {
            for (var i = 0; i < 5; i++)
            {
                await store.QueryAsync(kind.Filter(warm), options.Limit, null, CancellationToken.None);
            }
        }

        var all = new List<double>();
        var random = new Random(11);
        Console.WriteLine();
        Console.WriteLine($"{options.Runs} runs per kind, page size {options.Limit}; milliseconds per call (QueryAsync: SQL, reading the page)");
        Console.WriteLine($"{"query",-22} {"rows",6} {"p50",8} {"p95",8} {"p99",8} {"max",8}");
        foreach (var kind in kinds)
        {
            var times = new List<double>(options.Runs);
            long rows = 0;
            for (var run = 0; run < options.Runs; run++)
            {
                var filter = kind.Filter(random);
                TraceCursor? cursor = null;
                for (var page = 0; page < kind.Pages; page++)
                {
                    var clock = Stopwatch.StartNew();
                    var result = await store.QueryAsync(filter, options.Limit, cursor, CancellationToken.None);
                    var ms = clock.Elapsed.TotalMilliseconds;
                    if (page > 0 || kind.Pages == 1)
                    {
                        times.Add(ms);
                    }

                    rows += result.Data.Count;
                    cursor = result.Next;
                    if (cursor is null)
                    {
                        break;
                    }
                }
            }

            all.AddRange(times);
            times.Sort();
            Console.WriteLine($"{kind.Name,-22} {rows / (double)options.Runs / kind.Pages,6:0.0} {P(times, 0.50),8:0.00} {P(times, 0.95),8:0.00} {P(times, 0.99),8:0.00} {times[^1],8:0.00}");
        }

        all.Sort();
        Console.WriteLine($"{"all kinds",-22} {"",6} {P(all, 0.50),8:0.00} {P(all, 0.95),8:0.00} {P(all, 0.99),8:0.00} {all[^1],8:0.00}");
    }

    private static double P(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static async Task PrintPlansAsync(string db, Kind[] kinds, int limit)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly }.ToString());
        await connection.OpenAsync();
        var random = new Random(3);
        foreach (var kind in kinds)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "EXPLAIN QUERY PLAN " + SqliteStore.BuildTraceQuery(kind.Filter(random), limit, null, command.Parameters);
            Console.WriteLine($"-- {kind.Name}");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                Console.WriteLine($"   {reader.GetString(3)}");
            }
        }
    }
}

/// <summary>
/// Offers traces to the production TraceRecorder (bounded queue, dedicated writer thread, batches) at a fixed
/// rate and samples its queue every second: the recorder sustains the rate when the queue stays small and
/// nothing is dropped.
/// </summary>
internal static class RecorderRun
{
    private const int SpansPerTrace = 6;

    public static async Task RunAsync(SqliteStore store, int spansPerSecond, int seconds)
    {
        var perSecond = spansPerSecond / SpansPerTrace;
        var traces = Seeder.Sample(Math.Max(1, perSecond) * seconds, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var recorder = new TraceRecorder(store, Microsoft.Extensions.Logging.Abstractions.NullLogger<TraceRecorder>.Instance);
        await recorder.StartAsync(CancellationToken.None);
        Console.WriteLine($"offering {perSecond:N0} traces/s ({perSecond * SpansPerTrace:N0} spans/s) for {seconds} s");
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var next = 0;
        var depths = new List<int>();
        for (var second = 0; second < seconds; second++)
        {
            for (var tick = 0; tick < 100; tick++)
            {
                var due = (int)Math.Min(traces.Count, (long)perSecond * ((second * 100) + tick + 1) / 100);
                while (next < due)
                {
                    recorder.Record(traces[next++]);
                }
                var wait = TimeSpan.FromMilliseconds(((second * 100) + tick + 1) * 10) - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
            }
            depths.Add(recorder.QueueDepth);
        }
        var offeredFor = clock.Elapsed;
        await recorder.FlushAsync(CancellationToken.None);
        var drain = clock.Elapsed - offeredFor;
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        await recorder.StopAsync(CancellationToken.None);
        Console.WriteLine($"queue depth each second: {string.Join(" ", depths)}");
        Console.WriteLine($"offered {next:N0} traces in {offeredFor.TotalSeconds:N1} s; written {recorder.Written:N0}, spooled {recorder.Spooled:N0}, replayed {recorder.Replayed:N0}, dropped {recorder.Dropped:N0}; drained the rest in {drain.TotalMilliseconds:N0} ms");
        Console.WriteLine($"sustained: {(recorder.Dropped == 0 && depths.Max() < perSecond ? "yes" : "NO")} (max queue depth {depths.Max():N0}, last {depths[^1]:N0}); process CPU {used.TotalSeconds / offeredFor.TotalSeconds:P0} of one core");
    }
}
