using Keel.Core.Identity;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Server;

/// <summary>Reloads keys and projects every few seconds, so that changes made by another replica sharing the store apply here too.</summary>
internal sealed partial class KeyRefreshService(
    KeyRegistry registry, Keel.Core.Admission.LimitEnforcer enforcer, Keel.Core.Storage.IKeelStore store, TimeProvider time, ILogger<KeyRefreshService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await SeedSpendAsync(stoppingToken);
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
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down, or a start that failed (a port in use): not a failure of this service.
        }
    }

    /// <summary>Budgets start from what the store says was spent this UTC day and month (read once, off the start-up path).</summary>
    private async Task SeedSpendAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var day = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var month = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        try
        {
            foreach (var (scope, today, thisMonth) in await store.Access.SpendAsync(month, day, cancellationToken))
            {
                enforcer.SeedSpend(scope, today, thisMonth);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSeedFailed(logger, ex);
        }
    }

    [LoggerMessage(Keel.Core.Logging.KeelEventIds.SpendSeedFailed, LogLevel.Warning, "Reading this month's spend from the store failed; budgets count from zero until the next restart.")]
    private static partial void LogSeedFailed(ILogger logger, Exception exception);

    [LoggerMessage(Keel.Core.Logging.KeelEventIds.KeyRefreshFailed, LogLevel.Warning, "Reloading keys from the store failed; the keys loaded before stay in force.")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
