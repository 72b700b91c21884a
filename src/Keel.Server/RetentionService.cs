using Keel.Core.Configuration;
using Keel.Core.Identity;
using Keel.Core.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Keel.Server;

/// <summary>
/// Deletes traces past their project's retention (<c>retention_days</c> on the project, else
/// <c>recording.retention_days</c>): once shortly after start, then every hour, in batches so the recorder keeps
/// writing in between.
/// </summary>
public sealed partial class RetentionService(
    IKeelStore store, KeyRegistry registry, GatewayState state, TimeProvider time, ILogger<RetentionService> logger) : BackgroundService
{
    private const int Batch = 5_000;
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    /// <summary>One pass over every project; returns how many traces were deleted.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        var fallback = state.Current.Config.Recording.RetentionDays;
        foreach (var project in registry.Projects)
        {
            if ((project.RetentionDays ?? fallback) is not { } days)
            {
                continue;
            }
            var cutoff = time.GetUtcNow().AddDays(-days);
            int deleted;
            do
            {
                deleted = await store.Lifecycle.DeleteTracesBeforeAsync(project.ProjectId, cutoff, Batch, cancellationToken);
                total += deleted;
            }
            while (deleted == Batch);
        }
        if (total > 0)
        {
            LogDeleted(logger, total);
        }
        return total;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down, or a start that failed (a port in use): not a failure of this service.
        }
    }

    [LoggerMessage(Keel.Core.Logging.KeelEventIds.RetentionDeleted, LogLevel.Information, "Retention: deleted {Count} traces past their projects' retention.")]
    private static partial void LogDeleted(ILogger logger, int count);

    [LoggerMessage(Keel.Core.Logging.KeelEventIds.RetentionFailed, LogLevel.Warning, "Retention: deleting expired traces failed; the next pass tries again.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
