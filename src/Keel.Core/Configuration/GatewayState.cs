using Keel.Core.Logging;
using Keel.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Configuration;

/// <summary>
/// Holds the config in force as an immutable <see cref="GatewaySnapshot"/> and swaps it atomically
/// when the file changes. A request reads the snapshot once, so in-flight requests finish on the
/// config they started with. A bad file is logged and the last good config stays.
/// </summary>
public sealed partial class GatewayState : IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(250);

    private readonly ProviderFactory _factory;
    private readonly Routing.RouteStateRegistry _registry;
    private readonly ILogger _logger;
    private readonly object _reloadGate = new();
    private GatewaySnapshot _current;
    private FileSystemWatcher? _watcher;
    private Timer? _debounceTimer;

    public GatewayState(KeelConfig initial, string? configPath, ProviderFactory factory, ILogger<GatewayState> logger, TimeProvider? time = null)
    {
        _factory = factory;
        _logger = logger;
        _registry = new Routing.RouteStateRegistry(time ?? TimeProvider.System);
        ConfigPath = configPath;
        _current = new GatewaySnapshot(initial, factory.Create, _registry);
    }

    public string? ConfigPath { get; }

    public GatewaySnapshot Current => Volatile.Read(ref _current);

    /// <summary>Raised after a successful reload.</summary>
    public event Action<GatewaySnapshot>? Reloaded;

    /// <summary>Reads the file again; on success swaps the snapshot, on failure keeps the old one.</summary>
    public ConfigLoadResult Reload()
    {
        if (ConfigPath is null)
        {
            return new ConfigLoadResult(Current.Config, []);
        }

        lock (_reloadGate)
        {
            var result = ConfigLoader.LoadFile(ConfigPath);
            if (!result.Success)
            {
                Log.ReloadFailed(_logger, ConfigPath, result.Errors.Count, string.Join("; ", result.Errors));
                return result;
            }

            var snapshot = new GatewaySnapshot(result.Config!, _factory.Create, _registry);
            Volatile.Write(ref _current, snapshot);
            Log.Reloaded(_logger, ConfigPath, snapshot.Models.Count);
            Reloaded?.Invoke(snapshot);
            return result;
        }
    }

    /// <summary>Watches the config file and reloads it (debounced) when it changes.</summary>
    public void StartWatching()
    {
        if (ConfigPath is null || _watcher is not null)
        {
            return;
        }

        var full = Path.GetFullPath(ConfigPath);
        try
        {
            _debounceTimer = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
            // Watch the directory: editors replace files by rename, which a file watch would miss.
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => _debounceTimer.Change(Debounce, Timeout.InfiniteTimeSpan);
            _watcher.Created += (_, _) => _debounceTimer.Change(Debounce, Timeout.InfiniteTimeSpan);
            _watcher.Renamed += (_, _) => _debounceTimer.Change(Debounce, Timeout.InfiniteTimeSpan);
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            Log.WatchFailed(_logger, ConfigPath, ex);
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounceTimer?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.ConfigReloadFailed, LogLevel.Error, "Config {Path} was changed but has {ErrorCount} error(s); keeping the last good config. {Errors}")]
        public static partial void ReloadFailed(ILogger logger, string path, int errorCount, string errors);

        [LoggerMessage(KeelEventIds.ConfigReloaded, LogLevel.Information, "Config {Path} reloaded: {ModelCount} models.")]
        public static partial void Reloaded(ILogger logger, string path, int modelCount);

        [LoggerMessage(KeelEventIds.ConfigWatchFailed, LogLevel.Warning, "Cannot watch {Path} for changes; edits need a restart.")]
        public static partial void WatchFailed(ILogger logger, string path, Exception exception);
    }
}
