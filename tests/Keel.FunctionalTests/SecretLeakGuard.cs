using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Keel.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Keel.FunctionalTests;

/// <summary>
/// Watches one test server for leaked secrets: every log line it writes, every response its client reads, and its
/// database file. The secrets are the config's provider keys and master key and every virtual key the server hands
/// out (whose one legitimate appearance, the response that creates it, is exempt). Every functional test that starts
/// a <see cref="KeelTestServer"/> runs under it, so the whole suite asserts that no secret leaks.
/// </summary>
internal sealed class SecretLeakGuard : ILoggerProvider
{
    private const int MinSecretLength = 8;
    private readonly ConcurrentQueue<string> _logs = new();
    private readonly ConcurrentQueue<(string Where, string Text)> _responses = new();
    private readonly ConcurrentDictionary<string, byte> _secrets = new(StringComparer.Ordinal);

    public void AddSecret(string? secret)
    {
        if (secret is { Length: >= MinSecretLength })
        {
            _secrets.TryAdd(secret, 0);
        }
    }

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>An HTTP handler that records what the server answered (and learns the virtual keys it creates).</summary>
    public DelegatingHandler CreateHandler() => new CapturingHandler(this);

    /// <summary>Every place a secret was found, or none.</summary>
    public List<string> FindLeaks(string databaseDirectory)
    {
        var leaks = new List<string>();
        foreach (var secret in _secrets.Keys)
        {
            var shown = secret[..Math.Min(12, secret.Length)] + "…";
            leaks.AddRange(_logs.Where(l => l.Contains(secret, StringComparison.Ordinal)).Select(l => $"log line contains {shown}"));
            leaks.AddRange(_responses.Where(r => r.Text.Contains(secret, StringComparison.Ordinal)).Select(r => $"response to {r.Where} contains {shown}"));
        }
        if (Directory.Exists(databaseDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(databaseDirectory))
            {
                var text = Encoding.UTF8.GetString(File.ReadAllBytes(file));
                leaks.AddRange(_secrets.Keys.Where(s => text.Contains(s, StringComparison.Ordinal)).Select(s => $"{Path.GetFileName(file)} contains {s[..Math.Min(12, s.Length)]}…"));
            }

            // Large bodies and spans are stored compressed, where a byte scan cannot see a secret: read them back too.
            foreach (var (trace, text) in StoredTraceTexts(Path.Combine(databaseDirectory, "keel.db")))
            {
                leaks.AddRange(_secrets.Keys.Where(s => text.Contains(s, StringComparison.Ordinal)).Select(s => $"stored trace {trace} contains {s[..Math.Min(12, s.Length)]}…"));
            }
        }
        return leaks;
    }

    private static IEnumerable<(string Trace, string Text)> StoredTraceTexts(string database)
    {
        if (!File.Exists(database))
        {
            yield break;
        }

        using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT trace_id, request_body, response_body, spans, body_codec FROM traces";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var codec = reader.GetInt64(4);
            var text = new StringBuilder();
            foreach (var (ordinal, bit) in new[] { (1, StoredPayload.Request), (2, StoredPayload.Response), (3, StoredPayload.Spans) })
            {
                if (!reader.IsDBNull(ordinal) && reader.GetValue(ordinal) is byte[] stored)
                {
                    text.Append(Encoding.UTF8.GetString(StoredPayload.Decode(stored, bit, codec))).Append('\n');
                }
            }

            yield return (reader.GetString(0), text.ToString());
        }
    }

    private sealed class CapturingLogger(SecretLeakGuard guard, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            guard._logs.Enqueue($"{category}: {formatter(state, exception)} {exception}");
    }

    private sealed class CapturingHandler(SecretLeakGuard guard) : DelegatingHandler(new HttpClientHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType is not "application/json")
            {
                return response; // streams are read by the test as they come; their errors are JSON events checked elsewhere
            }

            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var where = $"{request.Method} {request.RequestUri?.AbsolutePath}";
            var created = request.Method == HttpMethod.Post && request.RequestUri?.AbsolutePath == "/api/keys" && response.IsSuccessStatusCode;
            if (created && JsonNode.Parse(body)?["key"] is JsonValue key)
            {
                guard.AddSecret((string?)key); // its creation is the one response allowed to show it
            }
            else
            {
                guard._responses.Enqueue((where, body + " " + string.Join(" ", response.Headers.Select(h => $"{h.Key}: {string.Join(",", h.Value)}"))));
            }

            var copy = new StringContent(body, Encoding.UTF8);
            copy.Headers.Clear();
            foreach (var header in response.Content.Headers)
            {
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
            response.Content = copy;
            return response;
        }
    }
}
