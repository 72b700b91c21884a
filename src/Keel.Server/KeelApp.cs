using System.Diagnostics;
using Keel.Core;
using Keel.Core.Configuration;
using Keel.Core.Logging;
using Keel.Core.Pipeline;
using Keel.Core.Prompts;
using Keel.Core.Providers;
using Keel.Core.Storage;
using Keel.Server.Apis;
using Keel.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Server;

/// <summary>Builds the Keel server: one short list of AddXxx / MapXxx calls.</summary>
public static partial class KeelApp
{
    public static async Task<WebApplication> CreateAsync(
        KeelServerOptions options, KeelConfig config, Action<IServiceCollection>? configureServices = null, CancellationToken cancellationToken = default)
    {
        var startedAt = Stopwatch.GetTimestamp();
        // The content root is the install directory: the default (the working directory) is watched
        // recursively for appsettings files Keel does not use, and the data directory lives there.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrel(kestrel =>
        {
            // The gateway enforces its own, configurable body limit with an OpenAI-style 413.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
        });
        // Requests run on to their first await on the thread that read them (InlineIo explains why and
        // what keeps that safe); the process-wide half is InlineIo.ConfigureProcess, set by `keel serve`.
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = config.Server.InlineIo);
        builder.WebHost.UseUrls($"http://{FormatHost(options.Host)}:{options.Port}");
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // Off entirely: at any level ASP.NET Core would create an Activity per request, and HttpClient
        // would then send upstream a traceparent whose trace id is not Keel's.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

        var services = builder.Services;
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new ProviderFactory(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new GatewayState(config, options.ConfigPath, sp.GetRequiredService<ProviderFactory>(), sp.GetRequiredService<ILogger<GatewayState>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(_ => new SqliteStore(Path.Combine(options.DataDirectory, "keel.db")));
        services.AddSingleton<IKeelStore>(sp => sp.GetRequiredService<SqliteStore>());
        services.AddSingleton<ITraceQueryStore>(sp => sp.GetRequiredService<SqliteStore>());
        services.AddSingleton<ITraceSummaryStore>(sp => sp.GetRequiredService<SqliteStore>());
        services.AddSingleton<Keel.Core.Feedback.IScoreStore>(sp => sp.GetRequiredService<SqliteStore>());
        services.AddSingleton<IAppSpanStore>(sp => sp.GetRequiredService<SqliteStore>());
        services.AddTraceRecorder(config.Recording.QueueCapacity, Path.Combine(options.DataDirectory, "spool"));
        services.AddHostedService<KeyRefreshService>();
        services.AddHostedService(sp => sp.GetRequiredService<Keel.Core.Telemetry.Otlp.OtlpExporter>());
        services.AddSingleton<RetentionService>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionService>());
        services.AddKeelGateway();
        services.AddPromptRegistry();
        configureServices?.Invoke(services);

        var app = builder.Build();
        await app.Services.GetRequiredService<IKeelStore>().InitializeAsync(cancellationToken);
        await app.Services.GetRequiredService<Keel.Core.Identity.KeyRegistry>().RefreshAsync(cancellationToken);
        var state = app.Services.GetRequiredService<GatewayState>();
        if (options.WatchConfig)
        {
            state.StartWatching();
        }

        app.UseExceptionHandler(errorApp => errorApp.Run(WriteUnhandledAsync));
        app.UseStatusCodePages(WriteStatusCodeAsync);
        app.UseMiddleware<TraceIdMiddleware>();
        app.UseThreadPoolUnlessInline();
        app.MapHealthApi();
        app.MapGatewayApi();
        app.MapTracesApi();
        app.MapScoresApi();
        app.MapMetricsApi();
        app.MapSummaryApi();
        app.MapRoutesApi();
        app.MapGuardrailsApi();
        app.MapAccessApi();
        app.MapOtlpApi();
        app.MapPromptsApi();
        app.MapExperimentsApi();
        app.MapFallback(UnmatchedRequest);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Keel");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            Log.Listening(logger, string.Join(", ", addresses ?? []), config.Source, state.Current.Models.Count,
                Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds);
            if (config.Auth.MasterKey is null && !app.Services.GetRequiredService<Keel.Core.Identity.KeyRegistry>().HasActiveAdminKey)
            {
                Log.OpenOnLoopback(logger);
            }

            // Off the start-up path: ready first, then the tokenizer's vocabularies, before a request needs them.
            var upstreamModels = state.Current.Models.Values.SelectMany(route => route.Deployments).Select(d => (string?)d.Config.Model).ToList();
            _ = Task.Run(() => Keel.Core.Tokenization.TokenCounter.Preload(upstreamModels));
        });
        return app;
    }

    /// <summary>The base URL the server listens on (after start; resolves port 0).</summary>
    public static string GetBaseUrl(this WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static string FormatHost(string host) => host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;

    /// <summary>404 for an unknown path; 405 for a known path called with the wrong method.</summary>
    private static IResult UnmatchedRequest(HttpContext http, EndpointDataSource endpoints)
    {
        var path = http.Request.Path.Value?.TrimEnd('/') ?? "";
        var allowed = endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(e => string.Equals(e.RoutePattern.RawText?.TrimEnd('/'), path, StringComparison.OrdinalIgnoreCase))
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (allowed.Count > 0)
        {
            http.Response.Headers.Allow = string.Join(", ", allowed);
            return new GatewayErrorResult(new GatewayError(405, "invalid_request_error", "method_not_allowed",
                $"Method {http.Request.Method} is not allowed on {http.Request.Path}; use {string.Join(" or ", allowed)}."));
        }

        return new GatewayErrorResult(new GatewayError(404, "invalid_request_error", "unknown_url", $"Unknown request URL: {http.Request.Method} {http.Request.Path}."));
    }

    private static Task WriteUnhandledAsync(HttpContext http)
    {
        var feature = http.Features.Get<IExceptionHandlerFeature>();
        if (feature?.Error is { } ex)
        {
            var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Keel");
            Log.Unhandled(logger, http.Request.Method, http.Request.Path, ex);
        }

        return ErrorWriter.WriteAsync(http, new GatewayError(500, "server_error", "internal_error",
            $"Keel hit an internal error. The trace id is {TraceIdMiddleware.GetTraceId(http)}; the server log has the details."), null);
    }

    private static Task WriteStatusCodeAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var status = http.Response.StatusCode;
        var error = status switch
        {
            StatusCodes.Status405MethodNotAllowed => new GatewayError(status, "invalid_request_error", "method_not_allowed", $"Method {http.Request.Method} is not allowed on {http.Request.Path}."),
            StatusCodes.Status404NotFound => new GatewayError(status, "invalid_request_error", "unknown_url", $"Unknown request URL: {http.Request.Method} {http.Request.Path}."),
            StatusCodes.Status400BadRequest => GatewayError.InvalidRequest("The request could not be read."),
            _ => new GatewayError(status, status >= 500 ? "server_error" : "invalid_request_error", null, $"The request failed with status {status}."),
        };
        return ErrorWriter.WriteAsync(http, error, null);
    }

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.Listening, LogLevel.Information, "Keel listening on {Addresses} (config: {ConfigSource}, {ModelCount} models), ready in {StartupMs:0} ms.")]
        public static partial void Listening(ILogger logger, string addresses, string configSource, int modelCount, double startupMs);

        [LoggerMessage(KeelEventIds.OpenOnLoopback, LogLevel.Warning, "No master key and no admin key yet: Keel serves loopback clients only, without a key. Create the first admin key on this machine with 'keel keys create ops --role admin' (loopback closes once it exists), or set KEEL_MASTER_KEY.")]
        public static partial void OpenOnLoopback(ILogger logger);

        [LoggerMessage(KeelEventIds.UnhandledException, LogLevel.Error, "Unhandled error on {Method} {Path}.")]
        public static partial void Unhandled(ILogger logger, string method, string path, Exception exception);
    }
}
