using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Keel.Core.Configuration;
using Keel.Core.Logging;
using Keel.Core.Providers;
using Keel.Core.Routing;
using Microsoft.Extensions.Logging;
using Polly;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// The fixed tail: route and call. For the alias and then each fallback alias, pick a deployment
/// with the alias's strategy, call it under the first-token and total timeouts, and retry (Polly:
/// backoff with jitter, Retry-After, retry budget) on another deployment when the error class says
/// so. Each attempt is a span. Streams are retried only until their first chunk: the stage reads
/// that chunk itself, so nothing has reached the client when it fails over.
/// </summary>
internal sealed partial class CallStage(ILogger<CallStage> logger, TimeProvider time) : IGatewayStage
{
    public const string DeploymentHeader = "x-keel-deployment";
    public const string AttemptsHeader = "x-keel-attempts";

    public string Name => "call";

    public int Order => int.MaxValue;

    public async ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        var primary = context.Route!;
        var callSpan = context.CurrentSpan!;
        var call = new CallState(context, callSpan);
        AttemptOutcome? outcome = null;
        foreach (var alias in primary.Config.Fallbacks.Prepend(primary.Alias))
        {
            var route = alias == primary.Alias ? primary : context.Snapshot.Models.GetValueOrDefault(alias);
            if (route is null)
            {
                continue;
            }

            if (outcome is not null)
            {
                callSpan.Set("keel.fallback", alias);
            }

            outcome = await ExecuteRouteAsync(call, route);
            if (outcome.Success || (primary.Config.FallbackOn & outcome.Class) == 0 || outcome.Class == ErrorClasses.Client)
            {
                break;
            }
        }

        callSpan.Set("keel.attempts", call.Attempts);
        context.ResponseHeaders[AttemptsHeader] = call.Attempts.ToString(CultureInfo.InvariantCulture);
        if (context.ServedBy is { } served)
        {
            context.ResponseHeaders[DeploymentHeader] = served.Id;
            callSpan.Set("keel.deployment", served.Id).Set("gen_ai.provider.name", served.GenAiProvider).Set("gen_ai.system", served.Provider.Kind).Set("gen_ai.request.model", served.Config.Model);
        }

        if (outcome!.Success)
        {
            context.Response = outcome.Response;
            if (outcome.Response is StreamingResponse)
            {
                callSpan.EndsLater = true;
                call.CallSpanEndsWithStream = true;
            }
        }
        else
        {
            context.Fail(outcome.Error!);
        }
    }

    private async Task<AttemptOutcome> ExecuteRouteAsync(CallState call, ModelRoute route)
    {
        var context = call.Context;
        var timeouts = route.Config.Timeouts;
        var totalTimeout = new CancellationTokenSource(timeouts.Total, time);
        var total = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, totalTimeout.Token);
        route.State.RetryBudget.RecordRequest();
        var attempt = new RouteAttempt(call, route, total, totalTimeout);
        var resilience = ResilienceContextPool.Shared.Get(total.Token);
        resilience.Properties.Set(ModelRoute.BudgetKey, new AttemptBudget(route, time, time.GetUtcNow() + timeouts.Total));
        try
        {
            return await route.Retry.ExecuteAsync(static (rc, state) => state.Stage.AttemptAsync(state.Attempt, rc.CancellationToken), resilience, (Stage: this, Attempt: attempt));
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested && totalTimeout.IsCancellationRequested)
        {
            return AttemptOutcome.Fail(
                GatewayError.UpstreamTimeout(route.Alias, timeouts.Total) with { Message = $"Model '{route.Alias}' did not answer within its total timeout of {timeouts.Total.TotalSeconds:0.###} s." },
                ErrorClasses.Timeout,
                retryable: false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
            if (!attempt.HandedOff)
            {
                total.Dispose();
                totalTimeout.Dispose();
            }
        }
    }

    private async ValueTask<AttemptOutcome> AttemptAsync(RouteAttempt attempt, CancellationToken cancellationToken)
    {
        var (call, route) = (attempt.Call, attempt.Route);
        var context = call.Context;
        var deployment = Select(route, attempt.Tried);
        if (deployment is null)
        {
            return Unavailable(route);
        }

        attempt.Tried.Add(deployment);
        call.Attempts++;
        context.ServedBy = deployment;
        var span = context.Trace.StartSpan("attempt", call.CallSpan.SpanId)
            .Set("keel.attempt", call.Attempts)
            .Set("keel.alias", route.Alias)
            .Set("keel.deployment", deployment.Id)
            .Set("gen_ai.provider.name", deployment.GenAiProvider)
            .Set("gen_ai.system", deployment.Provider.Kind)
            .Set("gen_ai.request.model", deployment.Config.Model);
        if (!deployment.State.Breaker.TryAcquire(out var isProbe))
        {
            // Another request took the half-open probe between selection and now.
            span.Set("keel.outcome", "breaker_open").SetError("circuit open");
            span.End();
            return AttemptOutcome.Fail(new GatewayError(503, "upstream_error", "circuit_open", $"Deployment {deployment.Id} is cooling down after failures."), ErrorClasses.ServerError);
        }

        span.Set("keel.breaker_probe", isProbe);
        deployment.State.Begin();
        var started = Stopwatch.GetTimestamp();
        var firstToken = new CancellationTokenSource(route.Config.Timeouts.FirstToken, time);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, firstToken.Token);
        var handedOff = false;
        try
        {
            ProviderResult result;
            try
            {
                result = context.Operation == GatewayOperation.Chat
                    ? await deployment.Client.ChatAsync(new ChatCall
                    {
                        Request = context.Chat!,
                        RawBody = context.RawBody,
                        RawBodyUsable = !context.RequestModified,
                        UpstreamModel = deployment.Config.Model,
                        Stream = context.IsStreaming,
                        ConnectTimeout = route.Config.Timeouts.Connect,
                    }, linked.Token)
                    : await deployment.Client.EmbedAsync(new EmbedCall
                    {
                        Request = context.Embeddings!,
                        RawBody = context.RawBody,
                        RawBodyUsable = !context.RequestModified,
                        UpstreamModel = deployment.Config.Model,
                        ConnectTimeout = route.Config.Timeouts.Connect,
                    }, linked.Token);
            }
            catch (OperationCanceledException) when (firstToken.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return Failed(FirstTokenTimeout(deployment, route));
            }

            if (result.Error is { } error)
            {
                return Failed(error);
            }

            if (result.Response is not StreamingResponse stream)
            {
                Succeeded((result.Response as JsonBodyResponse)?.Usage?.TotalTokens ?? 0);
                return AttemptOutcome.Ok(result.Response!);
            }

            // Read the first chunk here, under the first-token timeout, so a failure before it can
            // still fail over: nothing has been sent to the client yet.
            var chunks = stream.Chunks.GetAsyncEnumerator(linked.Token);
            bool hasFirst;
            try
            {
                hasFirst = await chunks.MoveNextAsync();
            }
            catch (Exception ex) when (ex is UpstreamStreamException || (ex is OperationCanceledException && firstToken.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
            {
                await chunks.DisposeAsync();
                return Failed(ex is UpstreamStreamException u ? u.Error : FirstTokenTimeout(deployment, route));
            }

            firstToken.CancelAfter(Timeout.InfiniteTimeSpan);
            var firstTokenMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            span.Set("keel.ttft_ms", firstTokenMs);
            span.EndsLater = true;
            handedOff = true;
            attempt.HandedOff = true;
            return AttemptOutcome.Ok(new StreamingResponse
            {
                StatusCode = stream.StatusCode,
                Chunks = RelayAsync(chunks, hasFirst, attempt, deployment, span, isProbe, firstTokenMs, firstToken, linked, CancellationToken.None),
            });
        }
        finally
        {
            if (!handedOff)
            {
                linked.Dispose();
                firstToken.Dispose();
                span.End();
            }
        }

        AttemptOutcome Failed(GatewayError error)
        {
            var errorClass = ErrorClassifier.Classify(error);
            // Caller mistakes say nothing about the deployment's health.
            var deploymentFault = (errorClass & ErrorClasses.Retryable) != 0;
            deployment.State.Breaker.Record(!deploymentFault, isProbe);
            deployment.State.End(!deploymentFault, Stopwatch.GetElapsedTime(started).TotalMilliseconds, 0);
            span.Set("keel.outcome", ErrorClassifier.Name(errorClass)).Set("http.response.status_code", error.StatusCode).SetError(error.Message);
            Log.AttemptFailed(logger, deployment.Id, call.Attempts, error.StatusCode, ErrorClassifier.Name(errorClass));
            return AttemptOutcome.Fail(error, errorClass);
        }

        void Succeeded(long tokens)
        {
            deployment.State.Breaker.Record(true, isProbe);
            deployment.State.End(true, Stopwatch.GetElapsedTime(started).TotalMilliseconds, tokens);
            span.Set("keel.outcome", "ok");
        }
    }

    /// <summary>
    /// Yields the prefetched first chunk and the rest. Until the stream ends it owns the attempt's
    /// timers and span and keeps the deployment's in-flight count, breaker and latency honest.
    /// </summary>
    private async IAsyncEnumerable<ReadOnlyMemory<byte>> RelayAsync(
        IAsyncEnumerator<ReadOnlyMemory<byte>> chunks, bool hasFirst, RouteAttempt attempt, Deployment deployment, Span span, bool isProbe,
        double firstTokenMs, CancellationTokenSource firstToken, CancellationTokenSource linked, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var context = attempt.Call.Context;
        var success = false;
        var faulted = false;
        try
        {
            var has = hasFirst;
            while (has)
            {
                yield return chunks.Current;
                try
                {
                    has = await chunks.MoveNextAsync();
                }
                catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested && attempt.TotalTimeout.IsCancellationRequested)
                {
                    faulted = true;
                    var total = attempt.Route.Config.Timeouts.Total;
                    throw new UpstreamStreamException(GatewayError.UpstreamTimeout(deployment.Provider.Name, total));
                }
                catch (UpstreamStreamException ex)
                {
                    faulted = true;
                    span.SetError(ex.Error.Message);
                    Log.StreamBroken(logger, deployment.Id, ex.Error.Code);
                    throw;
                }
            }

            success = true;
        }
        finally
        {
            await chunks.DisposeAsync();
            // A client that left says nothing about the deployment; only upstream faults count.
            deployment.State.Breaker.Record(!faulted, isProbe);
            deployment.State.End(!faulted, firstTokenMs, context.ObservedUsage?.TotalTokens ?? 0);
            span.Set("keel.outcome", success ? "ok" : faulted ? "stream_broken" : "client_closed");
            span.End();
            if (attempt.Call.CallSpanEndsWithStream)
            {
                attempt.Call.CallSpan.End();
            }

            linked.Dispose();
            firstToken.Dispose();
            attempt.Total.Dispose();
            attempt.TotalTimeout.Dispose();
        }
    }

    /// <summary>Candidates: breaker allows a call, capacity left, not yet tried in this request (unless all were).</summary>
    private static Deployment? Select(ModelRoute route, List<Deployment> tried)
    {
        var candidates = new List<Deployment>(route.Deployments.Count);
        foreach (var d in route.Deployments)
        {
            if (!tried.Contains(d) && d.State.Breaker.IsSelectable && d.State.HasCapacity(d.Config))
            {
                candidates.Add(d);
            }
        }

        if (candidates.Count == 0)
        {
            foreach (var d in route.Deployments)
            {
                if (d.State.Breaker.IsSelectable && d.State.HasCapacity(d.Config))
                {
                    candidates.Add(d);
                }
            }
        }

        return candidates.Count == 0 ? null : route.Policy.Pick(candidates, route, Random.Shared);
    }

    private static AttemptOutcome Unavailable(ModelRoute route)
    {
        var atCapacity = route.Deployments.Any(d => d.State.Breaker.IsSelectable);
        return atCapacity
            ? AttemptOutcome.Fail(
                new GatewayError(429, "rate_limit_error", "deployments_at_capacity", $"Every deployment of '{route.Alias}' is at its configured rpm/tpm capacity.") { RetryAfter = TimeSpan.FromSeconds(1) },
                ErrorClasses.RateLimit,
                retryable: false)
            : AttemptOutcome.Fail(
                new GatewayError(503, "upstream_error", "no_healthy_deployment", $"Every deployment of '{route.Alias}' is failing; their circuit breakers are open."),
                ErrorClasses.ServerError,
                retryable: false);
    }

    private static GatewayError FirstTokenTimeout(Deployment deployment, ModelRoute route) =>
        new(504, "upstream_error", "upstream_timeout",
            $"Provider '{deployment.Provider.Name}' sent nothing within the first-token timeout of {route.Config.Timeouts.FirstToken.TotalSeconds:0.###} s.");

    /// <summary>The state of one client request across its routes and attempts.</summary>
    private sealed class CallState(GatewayContext context, Span callSpan)
    {
        public GatewayContext Context { get; } = context;
        public Span CallSpan { get; } = callSpan;
        public int Attempts { get; set; }
        public bool CallSpanEndsWithStream { get; set; }
    }

    /// <summary>The attempts at one route.</summary>
    private sealed class RouteAttempt(CallState call, ModelRoute route, CancellationTokenSource total, CancellationTokenSource totalTimeout)
    {
        public CallState Call { get; } = call;
        public ModelRoute Route { get; } = route;
        public CancellationTokenSource Total { get; } = total;
        public CancellationTokenSource TotalTimeout { get; } = totalTimeout;
        public List<Deployment> Tried { get; } = [];
        public bool HandedOff { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.UpstreamError, LogLevel.Information, "Attempt {Attempt} on {Deployment} failed with {StatusCode} ({ErrorClass}).")]
        public static partial void AttemptFailed(ILogger logger, string deployment, int attempt, int statusCode, string errorClass);

        [LoggerMessage(KeelEventIds.UpstreamStreamBroken, LogLevel.Warning, "Stream from {Deployment} failed mid-way ({ErrorCode}).")]
        public static partial void StreamBroken(ILogger logger, string deployment, string? errorCode);
    }
}
