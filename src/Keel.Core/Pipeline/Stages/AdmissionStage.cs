using System.Globalization;
using Keel.Core.Admission;
using Keel.Core.Identity;
using Keel.Core.Tokenization;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// The limits of the caller's key and project (and per model within them): allowed models, requests and tokens
/// per minute, concurrent requests, USD budgets. A crossed limit answers as OpenAI does (429 with error JSON,
/// Retry-After and x-ratelimit-* headers; 403 for a model the key may not use) and nothing goes upstream.
/// Tokens are reserved from an estimate (prompt tokens plus the requested output limit) and settled with the
/// real usage when the request is over.
/// </summary>
internal sealed partial class AdmissionStage(KeyRegistry registry, LimitEnforcer enforcer, Microsoft.Extensions.Logging.ILogger<AdmissionStage> logger) : IGatewayStage
{
    public string Name => "admission";

    public int Order => StageOrder.Admission;

    public bool AppliesTo(GatewayContext context) =>
        context.Identity is { } identity
        && (registry.GetKey(identity.KeyId) is { Limits: not null }
            || (identity.ProjectId is { } projectId && registry.GetProject(projectId) is { Limits: not null }));

    public async ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var scopes = Scopes(context.Identity!);
        var model = context.RequestedModel ?? "";
        var estimate = NeedsTokenEstimate(scopes, model) ? Estimate(context) : 0;
        var admission = enforcer.TryAdmit(scopes, model, estimate, out var refusal);
        var span = context.CurrentSpan;
        if (admission is null)
        {
            span?.Set("keel.limit", refusal!.Kind.ToString()).Set("keel.limit.scope", refusal.Scope);
            context.Fail(ToError(refusal!));
            if (refusal!.Headers is { } refusedHeaders)
            {
                WriteHeaders(context, refusedHeaders);
            }
            return;
        }

        span?.Set("keel.limit.scopes", scopes.Count).Set("keel.limit.reserved_tokens", estimate);
        if (admission.Headers is { } headers)
        {
            WriteHeaders(context, headers);
        }
        if (admission.BudgetWarning is { } warning)
        {
            context.ResponseHeaders["x-keel-budget-warning"] = warning;
            span?.Set("keel.limit.budget_warning", warning);
            if (admission.FirstWarning)
            {
                LogBudgetWarning(logger, context.Identity!.KeyId, context.Identity.ProjectId ?? Projects.Default, warning);
            }
        }
        context.OnFinished((_, tokens, cost) => admission.Settle(tokens, cost));
        try
        {
            await next(context);
        }
        catch
        {
            admission.Settle(estimate, null); // a request that failed unexpectedly still gives back its slot
            throw;
        }
    }

    /// <summary>The limited scopes of the caller (it has at least one, or the stage would not run): its key's limits, then its project's.</summary>
    private List<(string Scope, LimitSettings Limits)> Scopes(CallerIdentity identity)
    {
        var scopes = new List<(string, LimitSettings)>(2);
        if (registry.GetKey(identity.KeyId) is { Limits: { } keyLimits })
        {
            scopes.Add(("key:" + identity.KeyId, keyLimits));
        }
        if (identity.ProjectId is { } projectId && registry.GetProject(projectId) is { Limits: { } projectLimits })
        {
            scopes.Add(("project:" + projectId, projectLimits));
        }
        return scopes;
    }

    private static bool NeedsTokenEstimate(List<(string Scope, LimitSettings Limits)> scopes, string model) =>
        scopes.Exists(s => s.Limits.Tpm is not null || s.Limits.PerModel?.GetValueOrDefault(model)?.Tpm is not null);

    /// <summary>Prompt tokens (counted with the model's tokenizer, or estimated) plus the output the request allows.</summary>
    private static long Estimate(GatewayContext context)
    {
        if (context.Chat is { } chat)
        {
            return TokenCounter.CountPrompt(chat).Count + (chat.OutputTokenLimit ?? 0);
        }
        if (context.Embeddings?.Input is { } input)
        {
            return TokenCounter.CountText(context.RequestedModel, input.ToString()).Count;
        }
        return 0;
    }

    private static GatewayError ToError(LimitRefusal refusal) => refusal.Kind switch
    {
        LimitKind.Model => new GatewayError(403, "permission_error", "model_not_allowed", refusal.Message, "model"),
        LimitKind.DailyBudget or LimitKind.MonthlyBudget => new GatewayError(429, "insufficient_quota", "insufficient_quota", refusal.Message) { RetryAfter = refusal.RetryAfter },
        LimitKind.Concurrency => new GatewayError(429, "requests", "concurrency_limit_exceeded", refusal.Message) { RetryAfter = refusal.RetryAfter },
        LimitKind.Tokens => new GatewayError(429, "tokens", "rate_limit_exceeded", refusal.Message) { RetryAfter = refusal.RetryAfter ?? TimeSpan.FromSeconds(60) },
        _ => new GatewayError(429, "requests", "rate_limit_exceeded", refusal.Message) { RetryAfter = refusal.RetryAfter },
    };

    private static void WriteHeaders(GatewayContext context, HeaderValues headers)
    {
        var h = context.ResponseHeaders;
        if (headers.LimitRequests is { } lr)
        {
            h["x-ratelimit-limit-requests"] = lr.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-remaining-requests"] = (headers.RemainingRequests ?? 0).ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-reset-requests"] = AdmissionStageFormat.Duration(headers.ResetRequests ?? TimeSpan.Zero);
        }
        if (headers.LimitTokens is { } lt)
        {
            h["x-ratelimit-limit-tokens"] = lt.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-remaining-tokens"] = (headers.RemainingTokens ?? 0).ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-reset-tokens"] = AdmissionStageFormat.Duration(headers.ResetTokens ?? TimeSpan.Zero);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Logging.KeelEventIds.BudgetSoftLimit, Microsoft.Extensions.Logging.LogLevel.Warning, "Budget alert for key {KeyId} (project {ProjectId}): {Warning}.")]
    private static partial void LogBudgetWarning(Microsoft.Extensions.Logging.ILogger logger, string keyId, string projectId, string warning);
}

/// <summary>How limit headers are written.</summary>
public static class AdmissionStageFormat
{
    /// <summary>OpenAI's reset format: <c>1s</c>, <c>6m0s</c>, <c>120ms</c>.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.FromSeconds(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(span.TotalMilliseconds):0}ms");
        }
        var seconds = (long)Math.Ceiling(span.TotalSeconds);
        return seconds < 60
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds}s")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}m{seconds % 60}s");
    }
}
