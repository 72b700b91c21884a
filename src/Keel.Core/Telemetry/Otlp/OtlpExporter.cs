using System.Net.Http.Headers;
using System.Threading.Channels;
using Keel.Core.Configuration;
using Keel.Core.Recording;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Telemetry.Otlp;

/// <summary>
/// Exports every recorded trace to an OTLP/HTTP collector (<c>telemetry.otlp.endpoint</c>), protobuf, off the
/// request path: a bounded queue, batches of up to 512 traces sent at least every second, one retry, then the
/// batch is counted as dropped and logged (at most every 10 s). Does nothing when no endpoint is configured.
/// </summary>
public sealed partial class OtlpExporter(ILogger<OtlpExporter> logger) : BackgroundService
{
    private const int Capacity = 10_000;
    private const int BatchSize = 512;
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(1);
    private static readonly string Version = typeof(OtlpExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private readonly Channel<(TraceRecord Trace, TelemetryConfig Config)> _queue =
        Channel.CreateBounded<(TraceRecord, TelemetryConfig)>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = TimeSpan.FromSeconds(10) };
    private long _exported;
    private long _dropped;
    private long _lastWarning;

    /// <summary>Traces the collector accepted.</summary>
    public long Exported => Interlocked.Read(ref _exported);

    /// <summary>Traces not exported (queue full, or the collector kept failing).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues a trace for export under <paramref name="config"/>; never blocks.</summary>
    public void Enqueue(TraceRecord trace, TelemetryConfig config)
    {
        if (config.OtlpEndpoint is null)
        {
            return;
        }
        if (!_queue.Writer.TryWrite((trace, config)))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<(TraceRecord Trace, TelemetryConfig Config)>(BatchSize);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                using (var linger = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    linger.CancelAfter(Linger);
                    try
                    {
                        while (batch.Count < BatchSize)
                        {
                            if (reader.TryRead(out var item))
                            {
                                batch.Add(item);
                            }
                            else if (!await reader.WaitToReadAsync(linger.Token))
                            {
                                break;
                            }
                        }
                    }
                    catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                    {
                        // The linger ran out: send what there is.
                    }
                }
                await SendAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is still queued is not exported (the traces are in Keel's own store).
        }
    }

    /// <summary>Sends everything queued so far (tests, and before shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = new List<(TraceRecord, TelemetryConfig)>();
        while (_queue.Reader.TryRead(out var item))
        {
            batch.Add(item);
        }
        await SendAsync(batch, cancellationToken);
    }

    private async Task SendAsync(List<(TraceRecord Trace, TelemetryConfig Config)> batch, CancellationToken cancellationToken)
    {
        // A reload may change the endpoint mid-batch: each part goes where its config said.
        foreach (var group in batch.GroupBy(static b => b.Config))
        {
            var config = group.Key;
            var traces = group.Select(static b => b.Trace).ToList();
            var body = OtlpTraceEncoder.Encode(traces, config.ServiceName, Version);
            for (var attempt = 1; attempt <= 2; attempt++)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, config.OtlpEndpoint + "/v1/traces")
                    {
                        Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-protobuf") } },
                    };
                    foreach (var (name, value) in config.OtlpHeaders)
                    {
                        request.Headers.TryAddWithoutValidation(name, value);
                    }
                    using var response = await _http.SendAsync(request, cancellationToken);
                    if (response.IsSuccessStatusCode)
                    {
                        Interlocked.Add(ref _exported, traces.Count);
                        break;
                    }
                    if (attempt == 2)
                    {
                        Fail(traces.Count, $"the collector answered {(int)response.StatusCode}");
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    if (attempt == 2)
                    {
                        Fail(traces.Count, ex.Message);
                    }
                }
            }
        }
    }

    private void Fail(int count, string reason)
    {
        var dropped = Interlocked.Add(ref _dropped, count);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarning);
        if (now - last > 10_000 && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
        {
            LogExportFailed(logger, reason, dropped);
        }
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Logging.KeelEventIds.OtlpExportFailed, LogLevel.Warning, "OTLP export failed ({Reason}); {Dropped} traces not exported so far. They are still in Keel's store.")]
    private static partial void LogExportFailed(ILogger logger, string reason, long dropped);
}
