namespace Keel.Core.Pipeline;

/// <summary>Runs the rest of the pipeline.</summary>
public delegate ValueTask GatewayStageDelegate(GatewayContext context);

/// <summary>
/// One step of the request path, in the style of ASP.NET Core middleware: it gets the context and
/// the next stage, may short-circuit (set <see cref="GatewayContext.Error"/> or a response and not
/// call next), and runs inside a span of its own (<see cref="GatewayContext.CurrentSpan"/>).
/// Register with <c>services.AddGatewayStage&lt;T&gt;()</c>; stages are ordered by <see cref="Order"/>.
/// </summary>
public interface IGatewayStage
{
    /// <summary>The span name, e.g. "identity".</summary>
    string Name { get; }

    /// <summary>Position in the pipeline; see <see cref="StageOrder"/> for the built-in slots.</summary>
    int Order { get; }

    ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next);

    /// <summary>
    /// False when the stage has nothing to do for this request (no policy, no limits, no prompt named): the
    /// pipeline then goes straight to the next stage and the trace has no span for it. Checked when the stage's
    /// turn comes, so it can read what earlier stages set.
    /// </summary>
    bool AppliesTo(GatewayContext context) => true;
}

/// <summary>
/// The pipeline's slots (DESIGN.md's stage table). Gaps leave room: a new stage picks a number
/// between two slots and needs no change to the others.
/// </summary>
public static class StageOrder
{
    /// <summary>Identity runs before parsing so an anonymous client cannot make Keel parse large bodies.</summary>
    public const int Identity = 100;
    public const int Ingress = 200;
    public const int Admission = 300;

    /// <summary>Renders a registry prompt named by the request (it may set the model, so it runs before resolve).</summary>
    public const int Prompt = 350;
    public const int Resolve = 400;
    public const int Preprocess = 500;
    public const int Grounding = 600;
    public const int InputGuardrails = 700;
    public const int Cache = 800;
    public const int OutputGuardrails = 850;
    public const int Postprocess = 870;
}
