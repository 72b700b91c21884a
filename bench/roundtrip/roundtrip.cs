// One keep-alive POST at a time to an HTTP/1.1 server, three ways, to show what a socket completion's
// hand-off to the thread pool costs (docs/performance.md, "Session 4: inline I/O"):
//   dotnet run bench/roundtrip/roundtrip.cs -- MODE URL [BODY_FILE]
// MODE: httpclient (HttpClient, async), async (raw socket, async), sync (raw socket, blocking).
// Run it again with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 to see the completions inline.
#:property GenerateDocumentationFile=true
#:property NoWarn=$(NoWarn);CS1591
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

var mode = args.Length > 0 ? args[0] : "httpclient";
var url = new Uri(args.Length > 1 ? args[1] : "http://127.0.0.1:8080/v1/chat/completions");
var body = args.Length > 2 ? File.ReadAllBytes(args[2]) : """{"model":"m","messages":[{"role":"user","content":"hi"}]}"""u8.ToArray();
const int Warmup = 5000;
const int Count = 20000;
var latencies = new double[Count];

Func<Task> one = mode switch
{
    "httpclient" => HttpClientCall(),
    "async" or "sync" => SocketCall(mode == "sync"),
    _ => throw new ArgumentException($"unknown mode '{mode}': httpclient, async or sync"),
};

for (var i = 0; i < Warmup; i++)
{
    await one();
}

for (var i = 0; i < Count; i++)
{
    var start = Stopwatch.GetTimestamp();
    await one();
    latencies[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
}

Array.Sort(latencies);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{mode}: p50 {latencies[Count / 2]:F1} us, p90 {latencies[Count * 9 / 10]:F1} us, p99 {latencies[Count * 99 / 100]:F1} us"));

Func<Task> HttpClientCall()
{
    var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, UseProxy = false, AllowAutoRedirect = false });
    return async () =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await response.Content.ReadAsByteArrayAsync();
    };
}

Func<Task> SocketCall(bool blocking)
{
    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    socket.Connect(url.Host, url.Port);
    var head = Encoding.ASCII.GetBytes(
        $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
    var message = head.Concat(body).ToArray();
    var buffer = new byte[1 << 16];
    return async () =>
    {
        if (blocking)
        {
            socket.Send(message);
        }
        else
        {
            await socket.SendAsync(message);
        }

        // Reads until the Content-Length the response announces has arrived.
        var received = 0;
        var expected = -1;
        while (expected < 0 || received < expected)
        {
            received += blocking ? socket.Receive(buffer, received, buffer.Length - received, SocketFlags.None) : await socket.ReceiveAsync(buffer.AsMemory(received));
            if (expected < 0)
            {
                var text = Encoding.ASCII.GetString(buffer, 0, received);
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                var at = text.IndexOf("content-length:", StringComparison.OrdinalIgnoreCase);
                if (end >= 0 && at >= 0)
                {
                    var lineEnd = text.IndexOf("\r\n", at, StringComparison.Ordinal);
                    expected = end + 4 + int.Parse(text.AsSpan(at + 15, lineEnd - at - 15).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
    };
}
