using Microsoft.Extensions.Hosting;

namespace Keel.Core.Prompts;

/// <summary>
/// Loads the registry before the server takes requests, then polls the store's prompt revisions
/// (one small query) so writes made through another replica are served within <see cref="Interval"/>.
/// Writes through this process are seen at once: the API reloads before it answers.
/// </summary>
public sealed class PromptRegistryRefresher(PromptRegistry registry, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await registry.LoadAllAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await registry.RefreshAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    registry.ReportRefreshFailure(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
