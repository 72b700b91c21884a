namespace Keel.Core.Pipeline;

/// <summary>
/// The request pipeline, composed once at start-up: a fixed head (record: the trace), the
/// registered stages in <see cref="IGatewayStage.Order"/>, and a fixed tail (call: the provider).
/// </summary>
public sealed class GatewayPipeline
{
    private readonly GatewayStageDelegate _entry;

    public GatewayPipeline(IEnumerable<IGatewayStage> stages, IGatewayStage head, IGatewayStage tail)
    {
        var ordered = stages.Where(s => s != head && s != tail).OrderBy(s => s.Order).ToList();
        StageNames = [head.Name, .. ordered.Select(s => s.Name), tail.Name];

        GatewayStageDelegate next = static _ => ValueTask.CompletedTask;
        next = Wrap(tail, next);
        for (var i = ordered.Count - 1; i >= 0; i--)
        {
            next = Wrap(ordered[i], next);
        }

        _entry = Wrap(head, next);
    }

    /// <summary>The stage names in the order they run.</summary>
    public IReadOnlyList<string> StageNames { get; }

    public ValueTask InvokeAsync(GatewayContext context) => _entry(context);

    private static GatewayStageDelegate Wrap(IGatewayStage stage, GatewayStageDelegate next)
    {
        GatewayStageDelegate run = async context =>
        {
            var parent = context.CurrentSpan;
            var span = context.Trace.StartSpan(stage.Name, parent?.SpanId);
            context.CurrentSpan = span;
            try
            {
                await stage.InvokeAsync(context, next);
            }
            catch (Exception ex)
            {
                span.SetError(ex.GetType().Name);
                throw;
            }
            finally
            {
                if (!span.EndsLater)
                {
                    span.End();
                }

                context.CurrentSpan = parent;
            }
        };
        return context => stage.AppliesTo(context) ? run(context) : next(context);
    }
}
