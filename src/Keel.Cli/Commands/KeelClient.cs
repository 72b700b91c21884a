using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Keel.Cli.Commands;

/// <summary>
/// The options every client verb shares (--url, --key, --json), declared once on the parent command
/// and inherited by its subcommands.
/// </summary>
internal sealed class ClientOptions
{
    public const string DefaultUrl = "http://127.0.0.1:4000";

    public Option<string?> Url { get; } = new("--url") { Description = $"Keel's base URL (env KEEL_URL; default {DefaultUrl}).", Recursive = true };
    public Option<string?> Key { get; } = new("--key") { Description = "API key, sent as a Bearer token (env KEEL_API_KEY).", Recursive = true };
    public Option<bool> Json { get; } = new("--json") { Description = "Print the server's JSON instead of a table.", Recursive = true };

    public void AddTo(Command command)
    {
        command.Options.Add(Url);
        command.Options.Add(Key);
        command.Options.Add(Json);
    }

    public KeelClient CreateClient(ParseResult parse) => new(
        parse.GetValue(Url) ?? Environment.GetEnvironmentVariable("KEEL_URL") ?? DefaultUrl,
        parse.GetValue(Key) ?? Environment.GetEnvironmentVariable("KEEL_API_KEY"));
}

/// <summary>A failed call, already worded for one line on stderr.</summary>
internal sealed class KeelClientException(string message) : Exception(message);

/// <summary>A thin HTTP client of a running Keel: JSON in and out, OpenAI-style errors turned into one clear line.</summary>
internal sealed class KeelClient(string baseUrl, string? key) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(100) };

    public string BaseUrl { get; } = baseUrl.TrimEnd('/');

    public Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<JsonNode> PostAsync(string path, JsonNode? body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<JsonNode> PutAsync(string path, JsonNode body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Put, path, body, cancellationToken);

    /// <summary>The response's JSON (an empty object for 204), or <see cref="KeelClientException"/> with the server's message.</summary>
    public async Task<JsonNode> SendAsync(HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new KeelClientException($"cannot reach Keel at {BaseUrl} ({ex.Message}); is `keel serve` running? Set --url or KEEL_URL.");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KeelClientException($"Keel at {BaseUrl} did not answer within {_http.Timeout.TotalSeconds:0} s.");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonNode? json = null;
            try
            {
                json = text.Length > 0 ? JsonNode.Parse(text) : new JsonObject();
            }
            catch (JsonException)
            {
                // Not Keel (or not JSON): reported below with the status.
            }

            if (response.IsSuccessStatusCode && json is not null)
            {
                return json;
            }

            var message = (string?)json?["error"]?["message"];
            throw new KeelClientException(message is not null
                ? message
                : $"{BaseUrl} answered {(int)response.StatusCode} {response.ReasonPhrase} to {method} /{path.TrimStart('/')}; is it Keel?");
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Runs a verb: any <see cref="KeelClientException"/> becomes "error: ..." on stderr and exit code 1.</summary>
    public static async Task<int> RunAsync(ClientOptions options, ParseResult parse, Func<KeelClient, bool, Task<int>> action)
    {
        using var client = options.CreateClient(parse);
        try
        {
            return await action(client, parse.GetValue(options.Json));
        }
        catch (KeelClientException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
    }

    /// <summary>Prints JSON indented, for scripts.</summary>
    public static void PrintJson(JsonNode node) =>
        Console.WriteLine(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));

    /// <summary>A path segment, escaped.</summary>
    public static string Segment(string value) => Uri.EscapeDataString(value);
}

/// <summary>Columns padded to their widest cell, two spaces apart: the human output of list verbs.</summary>
internal static class Table
{
    public static void Print(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        Console.WriteLine(Line(headers, widths));
        foreach (var row in all)
        {
            Console.WriteLine(Line(row, widths));
        }
    }

    private static string Line(IReadOnlyList<string> cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Count - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}
