using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Keel.Server;

/// <summary>
/// Gateway requests run on the socket event threads (<c>server.inline_io</c>, on by default).
/// </summary>
/// <remarks>
/// By default .NET hands every socket completion from its epoll thread to the thread pool, and Kestrel
/// hands the request to the pool again. Each hand-off wakes a sleeping thread, and on a virtual machine
/// a wake-up costs tens of microseconds: a proxied call makes three or four of them, most of Keel's
/// added latency on a fast upstream. Inline, the event thread that saw the bytes runs the request on
/// to its next await, the way nginx's workers do; .NET then runs one event thread per core.
///
/// The price is that nothing on that path may block: a blocked event thread stalls every connection
/// it serves. The gateway path (chat, embeddings, models, health) does not block: it awaits its
/// I/O, and the recorder writes on its own thread. Everything else (the control plane reads SQLite
/// synchronously, /readyz pings the store) is moved to the thread pool first by
/// <see cref="UseThreadPoolUnlessInline"/>, as are gateway bodies over <see cref="LargeBodyBytes"/>,
/// whose parsing and scanning take long enough to hold up other connections.
/// </remarks>
public static class InlineIo
{
    /// <summary>The runtime's switch; read once, when the first socket is registered.</summary>
    public const string SocketsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The runtime's event-thread count, read with <see cref="SocketsVariable"/>.</summary>
    public const string ThreadCountVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    /// <summary>Gateway requests with bodies over this size are moved to the thread pool.</summary>
    public const int LargeBodyBytes = 256 * 1024;

    private static readonly object InlineMetadata = new RunsInline();

    /// <summary>
    /// Turns the runtime's inline socket completions on or off for this process, unless the environment
    /// already says (the operator's word wins), with two event threads a core: with one a core, a core
    /// sat idle whenever its thread waited while the other had work (c=64 ran 10 % slower than on the
    /// thread pool; with two, as fast while the load lasts). Call before the first socket is used.
    /// </summary>
    public static void ConfigureProcess(bool enabled)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(SocketsVariable)))
        {
            return;
        }

        Environment.SetEnvironmentVariable(SocketsVariable, enabled ? "1" : "0");
        if (enabled && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(ThreadCountVariable)))
        {
            Environment.SetEnvironmentVariable(ThreadCountVariable, (2 * Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Marks endpoints that may run on an event thread (they never block).</summary>
    public static TBuilder AllowInline<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => endpoint.Metadata.Add(InlineMetadata));
        return builder;
    }

    /// <summary>True when the matched endpoint may run on an event thread.</summary>
    public static bool IsAllowedInline(HttpContext http) => http.GetEndpoint()?.Metadata.GetMetadata<RunsInline>() is not null;

    /// <summary>
    /// Moves requests for endpoints not marked <see cref="AllowInline"/> to the thread pool when they
    /// arrive on a thread outside it (an event thread).
    /// </summary>
    public static IApplicationBuilder UseThreadPoolUnlessInline(this IApplicationBuilder app) =>
        app.Use(static async (http, next) =>
        {
            if (!Thread.CurrentThread.IsThreadPoolThread && !IsAllowedInline(http))
            {
                // No synchronization context here: the continuation is queued to the thread pool.
                await Task.Yield();
            }

            await next(http);
        });

    /// <summary>True when a gateway body this large should leave an event thread (<c>await Task.Yield()</c>).</summary>
    public static bool ShouldLeaveEventThread(int bodyBytes) => bodyBytes > LargeBodyBytes && !Thread.CurrentThread.IsThreadPoolThread;

    private sealed class RunsInline;
}
