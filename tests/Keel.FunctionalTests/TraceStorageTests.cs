using System.Text;
using Keel.Core.Pipeline;
using Keel.Core.Recording;
using Keel.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Keel.FunctionalTests;

/// <summary>How the SQLite store keeps trace bodies and spans: compressed when that pays, read back byte for byte.</summary>
public sealed class TraceStorageTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("keel-storage-").FullName;

    private string Database => Path.Combine(_directory, "keel.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task LargeBodiesAndSpans_AreStoredCompressed_AndReadBackExactly()
    {
        var request = Json(4_000, "a question about invoices");
        var response = Json(3_000, "an answer about invoices");
        var spans = Json(2_000, "gen_ai.request.model");
        var small = "{\"model\":\"m\"}"u8.ToArray();
        var notJson = new byte[] { 0xff, 0x00, 0x7b, 0x22 }.Concat(Enumerable.Repeat((byte)'x', 600)).ToArray();
        await using (var store = new SqliteStore(Database))
        {
            await store.InitializeAsync(CancellationToken.None);
            await store.Traces.WriteBatchAsync(
            [
                Trace("big", request, response, spans),
                Trace("small", small, small, null),
                Trace("garbage", notJson, null, null),
            ], CancellationToken.None);

            var big = (await store.Traces.GetAsync("big", CancellationToken.None))!;
            Assert.Equal(request, big.RequestBodyUtf8!.Value.ToArray());
            Assert.Equal(response, big.ResponseBodyUtf8!.Value.ToArray());
            Assert.Equal(spans, big.SpansUtf8!.Value.ToArray());
            var tiny = (await store.Traces.GetAsync("small", CancellationToken.None))!;
            Assert.Equal(small, tiny.RequestBodyUtf8!.Value.ToArray());
            Assert.Null(tiny.SpansUtf8);
            Assert.Equal(notJson, (await store.Traces.GetAsync("garbage", CancellationToken.None))!.RequestBodyUtf8!.Value.ToArray());
        }

        var rows = Rows("SELECT trace_id, body_codec, length(request_body), length(response_body), length(spans) FROM traces");
        Assert.Equal(StoredPayload.Request | StoredPayload.Response | StoredPayload.Spans, rows["big"][0]);
        Assert.True(rows["big"][1] < request.Length / 3, $"request stored in {rows["big"][1]} bytes");
        Assert.True(rows["big"][3] < spans.Length / 2, $"spans stored in {rows["big"][3]} bytes");
        Assert.Equal(-1, rows["small"][3]);
        Assert.Equal(0, rows["small"][0]); // too short to be worth compressing
        Assert.Equal(StoredPayload.Request, rows["garbage"][0]); // not JSON, not even UTF-8: compressed all the same, and read back exactly above
    }

    [Fact]
    public async Task RowsWrittenBeforeCompression_ReadAsTheyWere()
    {
        var body = Json(2_000, "written by an older Keel");
        await using (var store = new SqliteStore(Database))
        {
            await store.InitializeAsync(CancellationToken.None);
        }

        using (var connection = new SqliteConnection($"Data Source={Database};Pooling=False"))
        {
            connection.Open();
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO traces (trace_id, started_at, operation, stream, status_code, latency_ms, request_body, spans) VALUES ('old', 1, 'chat', 0, 200, 1.5, $body, $body)";
            insert.Parameters.AddWithValue("$body", body);
            insert.ExecuteNonQuery();
        }

        await using (var store = new SqliteStore(Database))
        {
            await store.InitializeAsync(CancellationToken.None);
            var old = (await store.Traces.GetAsync("old", CancellationToken.None))!;
            Assert.Equal(body, old.RequestBodyUtf8!.Value.ToArray());
            Assert.Equal(body, old.SpansUtf8!.Value.ToArray());
        }
    }

    [Fact]
    public async Task ACorruptCompressedBody_IsAClearStoreError()
    {
        await using var store = new SqliteStore(Database);
        await store.InitializeAsync(CancellationToken.None);
        await store.Traces.WriteBatchAsync([Trace("t", Json(2_000, "x"), null, null)], CancellationToken.None);
        using (var connection = new SqliteConnection($"Data Source={Database};Pooling=False"))
        {
            connection.Open();
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE traces SET request_body = X'0102030405060708' WHERE trace_id = 't'";
            update.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAsync<Keel.Core.Storage.StoreException>(() => store.Traces.GetAsync("t", CancellationToken.None));
        Assert.Equal("sqlite_corrupt_payload", error.Code);
    }

    [Fact]
    public void TraceIds_AreW3C_AndSortByCreationTime()
    {
        var earlier = TraceBuilder.NewTraceId(DateTimeOffset.FromUnixTimeMilliseconds(1_763_000_000_000));
        var later = TraceBuilder.NewTraceId(DateTimeOffset.FromUnixTimeMilliseconds(1_763_000_000_001));
        var alsoEarlier = TraceBuilder.NewTraceId(DateTimeOffset.FromUnixTimeMilliseconds(1_763_000_000_000));

        Assert.Matches("^[0-9a-f]{32}$", earlier);
        Assert.StartsWith(1_763_000_000_000.ToString("x12", System.Globalization.CultureInfo.InvariantCulture), earlier, StringComparison.Ordinal);
        Assert.True(string.CompareOrdinal(earlier, later) < 0);
        Assert.True(string.CompareOrdinal(alsoEarlier, later) < 0);
        Assert.NotEqual(earlier, alsoEarlier); // the other 80 bits are random
        Assert.True(System.Diagnostics.ActivityTraceId.CreateFromString(earlier) != default);
    }

    [Fact]
    public async Task TheLeakGuard_SeesASecretInACompressedBody()
    {
        const string secret = "sk-provider-guard-compressed-1";
        await using (var store = new SqliteStore(Database))
        {
            await store.InitializeAsync(CancellationToken.None);
            await store.Traces.WriteBatchAsync([Trace("leaky", Json(3_000, "key " + secret), null, null)], CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();
        var guard = new SecretLeakGuard();
        guard.AddSecret(secret);
        Assert.Contains(guard.FindLeaks(_directory), l => l.StartsWith("stored trace leaky", StringComparison.Ordinal));
    }

    private static TraceRecord Trace(string id, byte[]? request, byte[]? response, byte[]? spans) => new()
    {
        TraceId = id,
        StartedAt = DateTimeOffset.UtcNow,
        Operation = "chat",
        StatusCode = 200,
        LatencyMs = 1,
        // (byte[])null would convert to an empty, not a missing, body
        RequestBodyUtf8 = request is null ? null : (ReadOnlyMemory<byte>?)request,
        ResponseBodyUtf8 = response is null ? null : (ReadOnlyMemory<byte>?)response,
        SpansUtf8 = spans is null ? null : (ReadOnlyMemory<byte>?)spans,
    };

    /// <summary>A JSON document of about <paramref name="length"/> bytes, repetitive the way request JSON is.</summary>
    private static byte[] Json(int length, string text)
    {
        var json = new StringBuilder("{\"messages\":[");
        for (var i = 0; json.Length < length; i++)
        {
            json.Append($"{{\"role\":\"user\",\"content\":\"{text} number {i}\"}},");
        }

        json.Length--;
        return Encoding.UTF8.GetBytes(json.Append("]}").ToString());
    }

    private Dictionary<string, long[]> Rows(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new Dictionary<string, long[]>();
        while (reader.Read())
        {
            rows[reader.GetString(0)] = [.. Enumerable.Range(1, reader.FieldCount - 1).Select(i => reader.IsDBNull(i) ? -1 : reader.GetInt64(i))];
        }

        return rows;
    }
}
