using Keel.Core.Guardrails;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// Scans the text of the chat request's messages (the roles the policy names; user and tool by default) with
/// the input side of the model's guardrail policy: blocks (400 <c>content_policy_violation</c>), redacts
/// (reversibly or not) or flags. Redacted messages are what the provider sees and what the trace stores.
/// </summary>
internal sealed class InputGuardrailStage(Telemetry.KeelMetrics metrics) : IGatewayStage
{
    public string Name => "input_guardrails";

    public int Order => StageOrder.InputGuardrails;

    public bool AppliesTo(GatewayContext context) =>
        context.Chat?.Messages is not null && context.Route is { } route && context.Snapshot.Guardrails.For(route.Config) is { Input: not null };

    public async ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        // AppliesTo guaranteed a chat request with messages and a policy that scans input.
        var messages = context.Chat!.Messages!;
        var policy = context.Snapshot.Guardrails.For(context.Route!.Config)!;
        var engine = policy.Input!;
        var state = GuardrailRequestState.Get(context, policy);
        var advised = GuardrailAdvisors.Configured(policy);

        var span = context.CurrentSpan;
        var findings = new List<GuardrailFinding>();
        var modified = false;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Content is not { } content || message.Role is null || !policy.ScanRoles.Contains(message.Role))
            {
                continue;
            }

            if (content.Text is { } text)
            {
                var verdict = engine.Evaluate(text, state.Placeholders);
                if (advised)
                {
                    verdict = await GuardrailAdvisors.AdviseAsync(context.Snapshot, policy, text, verdict, span, context.RequestAborted);
                }
                if (Apply(context, policy, verdict, i, findings))
                {
                    return;
                }
                if (!ReferenceEquals(verdict.Text, text))
                {
                    message.Content = new MessageContent(verdict.Text);
                    modified = true;
                }
                continue;
            }

            foreach (var part in content.Parts ?? [])
            {
                if (part.Type != "text" || part.Text is not { } partText)
                {
                    continue;
                }
                var verdict = engine.Evaluate(partText, state.Placeholders);
                if (advised)
                {
                    verdict = await GuardrailAdvisors.AdviseAsync(context.Snapshot, policy, partText, verdict, span, context.RequestAborted);
                }
                if (Apply(context, policy, verdict, i, findings))
                {
                    return;
                }
                if (!ReferenceEquals(verdict.Text, partText))
                {
                    part.Text = verdict.Text;
                    modified = true;
                }
            }
        }

        GuardrailSpans.Describe(span, policy, findings, blocked: false, metrics);
        state.InputFindings = findings;
        if (findings.Count > 0)
        {
            context.ResponseHeaders[GuardrailSpans.Header] = GuardrailSpans.HeaderValue(findings);
        }
        if (modified)
        {
            context.RequestModified = true;
            context.RecordedRequestBody = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(context.Chat, KeelJson.Context.ChatCompletionRequest);
        }
        await next(context);
    }

    /// <summary>Collects the verdict's findings; on a block fails the request and returns true.</summary>
    private bool Apply(GatewayContext context, CompiledGuardrailPolicy policy, GuardrailVerdict verdict, int messageIndex, List<GuardrailFinding> findings)
    {
        if (!verdict.Flagged)
        {
            return false;
        }
        findings.AddRange(verdict.Findings);
        if (!verdict.Blocked)
        {
            return false;
        }
        var blocking = verdict.Findings.First(static f => f.Action == GuardrailAction.Block);
        GuardrailSpans.Describe(context.CurrentSpan, policy, findings, blocked: true, metrics);
        context.Fail(GuardrailSpans.Blocked(policy, blocking.Scanner, $"messages[{messageIndex}]", "request"));
        return true;
    }
}
