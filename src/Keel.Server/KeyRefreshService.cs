using Keel.Core.Identity;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Server;

/// <summary>Reloads keys and projects every few seconds, so that changes made by another replica sharing the store apply here too.</summary>
internal sealed partial class KeyRefreshService(KeyRegistry registry, TimeProvider time, ILogger<KeyRefreshService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await registry.RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRefreshFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Keel.Core.Logging.KeelEventIds.KeyRefreshFailed, LogLevel.Warning, "Reloading keys from the store failed; the keys loaded before stay in force.")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
