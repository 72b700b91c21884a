using System.Net;
using Keel.Core.Configuration;
using Keel.Core.Providers.Anthropic;
using Keel.Core.Providers.Local;
using Keel.Core.Providers.OpenAi;

namespace Keel.Core.Providers;

/// <summary>
/// Builds provider instances from config. All HTTP providers share one connection pool, so a config
/// reload creates cheap new provider objects without dropping warm connections or in-flight calls.
/// </summary>
public sealed class ProviderFactory : IDisposable
{
    private readonly SocketsHttpHandler _handler = new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
        EnableMultipleHttp2Connections = true,
        UseCookies = false,
        UseProxy = false,
        AllowAutoRedirect = false,
    };

    private readonly TimeProvider _time;

    public ProviderFactory(TimeProvider time)
    {
        _time = time;
        _handler.ConnectCallback = ConnectAsync;
    }

    /// <summary>Opens the socket under the calling route's connect timeout; a timeout is a connection error.</summary>
    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var timeout = context.InitialRequestMessage.Options.TryGetValue(ProviderRequestOptions.ConnectTimeout, out var t) ? t : TimeSpan.FromSeconds(10);
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, timeoutCts.Token);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new IOException($"Connecting to {context.DnsEndPoint.Host}:{context.DnsEndPoint.Port} took longer than {timeout.TotalSeconds:0.###} s.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public IModelProvider Create(ProviderConfig config)
    {
        var http = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        return config.Kind switch
        {
            ProviderKinds.OpenAi or ProviderKinds.Azure => new OpenAiProvider(config, http),
            ProviderKinds.Anthropic => new AnthropicProvider(config, http, _time),
            ProviderKinds.Local => new LocalProvider(config.Name, _time),
            _ => throw new InvalidOperationException($"Provider kind '{config.Kind}' has no implementation; the config validator should have refused it."),
        };
    }

    public void Dispose() => _handler.Dispose();
}
