using Keel.Core.Pipeline;

namespace Keel.Core.Guardrails;

/// <summary>What the guardrail stages of one request share: the policy and the placeholders of reversible redactions.</summary>
public sealed class GuardrailRequestState
{
    private GuardrailRequestState(CompiledGuardrailPolicy policy) => Policy = policy;

    /// <summary>The model's policy.</summary>
    public CompiledGuardrailPolicy Policy { get; }

    /// <summary>Placeholders handed out on the way in, put back on the way out.</summary>
    public PlaceholderMap Placeholders { get; } = new();

    /// <summary>The input side's findings.</summary>
    public IReadOnlyList<GuardrailFinding> InputFindings { get; set; } = [];

    /// <summary>The request's state, created on first use.</summary>
    public static GuardrailRequestState Get(GatewayContext context, CompiledGuardrailPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.TryGetValue(typeof(GuardrailRequestState), out var existing))
        {
            return (GuardrailRequestState)existing;
        }
        var state = new GuardrailRequestState(policy);
        context.Features[typeof(GuardrailRequestState)] = state;
        return state;
    }

    /// <summary>The request's state if a guardrail stage created one.</summary>
    public static GuardrailRequestState? Find(GatewayContext context) =>
        context.Features.TryGetValue(typeof(GuardrailRequestState), out var existing) ? (GuardrailRequestState)existing : null;
}
