using System.Collections.Concurrent;
using Keel.Core.Identity;

namespace Keel.Core.Admission;

/// <summary>Which limit a request crossed.</summary>
public enum LimitKind
{
    Model,
    Requests,
    Tokens,
    Concurrency,
    DailyBudget,
    MonthlyBudget,
}

/// <summary>A refusal: what was crossed, in which scope, and how long to wait.</summary>
public sealed record LimitRefusal(LimitKind Kind, string Scope, string Message, TimeSpan? RetryAfter, HeaderValues? Headers);

/// <summary>The x-ratelimit-* values of the tightest scope.</summary>
public sealed record HeaderValues(long? LimitRequests, long? RemainingRequests, TimeSpan? ResetRequests, long? LimitTokens, long? RemainingTokens, TimeSpan? ResetTokens);

/// <summary>What one admitted request holds, to settle when it ends.</summary>
public sealed class Admission
{
    internal Admission(List<Action<long, double?>> settlers, HeaderValues? headers, string? budgetWarning, bool firstWarning)
    {
        Settlers = settlers;
        Headers = headers;
        BudgetWarning = budgetWarning;
        FirstWarning = firstWarning;
    }

    /// <summary>True for the first request of the day that saw <see cref="BudgetWarning"/> in its scope: the moment to alert.</summary>
    public bool FirstWarning { get; }

    internal List<Action<long, double?>> Settlers { get; }

    /// <summary>The rate-limit headers to send (the key's limits, else the project's); null when neither limits requests or tokens.</summary>
    public HeaderValues? Headers { get; }

    /// <summary>Set when a budget is past its soft threshold.</summary>
    public string? BudgetWarning { get; }

    private int _settled;

    /// <summary>Settles the reservation with the real token count and cost, and releases the concurrency slot. Idempotent.</summary>
    public void Settle(long actualTokens, double? costUsd)
    {
        if (Interlocked.Exchange(ref _settled, 1) == 0)
        {
            foreach (var settle in Settlers)
            {
                settle(actualTokens, costUsd);
            }
        }
    }
}

/// <summary>
/// Limits per key and per project, and per model within them: allowed models, requests and tokens per minute,
/// concurrent requests, and USD budgets per UTC day and month (soft threshold: a warning; hard: refusal). Tokens
/// are reserved from an estimate before the call and settled with the real usage after. State is in memory, per
/// process; spend is seeded from the store at start (<see cref="SeedSpend"/>). Thread-safe.
/// </summary>
public sealed class LimitEnforcer(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, ScopeState> _scopes = new(StringComparer.Ordinal);

    /// <summary>Seeds the spend of a scope (<c>key:ID</c> or <c>project:ID</c>) for the current day and month.</summary>
    public void SeedSpend(string scope, double today, double thisMonth)
    {
        var state = _scopes.GetOrAdd(scope, static _ => new ScopeState());
        var now = time.GetUtcNow();
        lock (state)
        {
            state.RollPeriods(now);
            state.SpentToday = today;
            state.SpentThisMonth = thisMonth;
        }
    }

    /// <summary>Spend so far in the current UTC day and month, for a scope.</summary>
    public (double Today, double ThisMonth) Spend(string scope)
    {
        if (!_scopes.TryGetValue(scope, out var state))
        {
            return (0, 0);
        }
        lock (state)
        {
            state.RollPeriods(time.GetUtcNow());
            return (state.SpentToday, state.SpentThisMonth);
        }
    }

    /// <summary>
    /// Checks every scope in order and reserves what the request needs; on a refusal nothing stays reserved.
    /// <paramref name="scopes"/> pairs a scope id (<c>key:ID</c>, <c>project:ID</c>) with its limits.
    /// </summary>
    public Admission? TryAdmit(IReadOnlyList<(string Scope, LimitSettings Limits)> scopes, string model, long estimatedTokens, out LimitRefusal? refusal)
    {
        refusal = null;
        var now = time.GetUtcNow();
        var settlers = new List<Action<long, double?>>();
        var rollbacks = new List<Action>();
        HeaderValues? headers = null;
        string? warning = null;
        var firstWarning = false;
        foreach (var (scope, limits) in scopes)
        {
            if (limits.Models is { } models && !models.Contains(model, StringComparer.Ordinal))
            {
                refusal = new LimitRefusal(LimitKind.Model, scope, $"The model '{model}' is not allowed for this {Noun(scope)}. Allowed: {string.Join(", ", models)}.", null, null);
                break;
            }
            var state = _scopes.GetOrAdd(scope, static _ => new ScopeState());
            if (CheckBudget(state, scope, limits, now, out var budgetRefusal, ref warning, ref firstWarning) is false)
            {
                refusal = budgetRefusal;
                break;
            }

            var modelLimit = limits.PerModel?.GetValueOrDefault(model);
            if (!TakeRate(state.Buckets, "rpm", limits.Rpm, 1, now, rollbacks, scope, LimitKind.Requests, out var requests, out refusal)
                || !TakeRate(state.Buckets, "rpm:" + model, modelLimit?.Rpm, 1, now, rollbacks, scope + $" ({model})", LimitKind.Requests, out var modelRequests, out refusal)
                || !TakeRate(state.Buckets, "tpm", limits.Tpm, estimatedTokens, now, rollbacks, scope, LimitKind.Tokens, out var tokens, out refusal)
                || !TakeRate(state.Buckets, "tpm:" + model, modelLimit?.Tpm, estimatedTokens, now, rollbacks, scope + $" ({model})", LimitKind.Tokens, out var modelTokens, out refusal))
            {
                break;
            }

            if (limits.MaxConcurrent is { } max)
            {
                if (Interlocked.Increment(ref state.InFlight) > max)
                {
                    Interlocked.Decrement(ref state.InFlight);
                    refusal = new LimitRefusal(LimitKind.Concurrency, scope, $"Too many concurrent requests for this {Noun(scope)}: the limit is {max}.", TimeSpan.FromSeconds(1), null);
                    break;
                }
                settlers.Add((_, _) => Interlocked.Decrement(ref state.InFlight));
                rollbacks.Add(() => Interlocked.Decrement(ref state.InFlight));
            }

            // Settle: tokens reserved from the estimate are corrected with the real count; cost is added to the spend.
            var tokenBuckets = new[] { tokens.Bucket, modelTokens.Bucket }.OfType<TokenBucket>().ToArray();
            settlers.Add((actual, cost) =>
            {
                var settledAt = time.GetUtcNow();
                foreach (var bucket in tokenBuckets)
                {
                    bucket.Adjust(estimatedTokens - actual, settledAt);
                }
                if (cost is > 0)
                {
                    lock (state)
                    {
                        state.RollPeriods(settledAt);
                        state.SpentToday += cost.Value;
                        state.SpentThisMonth += cost.Value;
                    }
                }
            });

            headers ??= Headers(requests.Result ?? modelRequests.Result, limits.Rpm ?? modelLimit?.Rpm, tokens.Result ?? modelTokens.Result, limits.Tpm ?? modelLimit?.Tpm);
        }

        if (refusal is not null)
        {
            foreach (var undo in rollbacks)
            {
                undo(); // gives back every reservation made before the refusal
            }
            return null;
        }
        return new Admission(settlers, headers, warning, firstWarning);
    }

    private static HeaderValues? Headers(BucketResult? requests, long? rpm, BucketResult? tokens, long? tpm) =>
        requests is null && tokens is null ? null
            : new HeaderValues(rpm, requests?.RemainingForHeader, requests?.ResetAfter, tpm, tokens?.RemainingForHeader, tokens?.ResetAfter);

    private bool TakeRate(
        ConcurrentDictionary<string, TokenBucket> buckets, string name, long? perMinute, long units, DateTimeOffset now,
        List<Action> rollbacks, string scope, LimitKind kind, out (TokenBucket? Bucket, BucketResult? Result) taken, out LimitRefusal? refusal)
    {
        refusal = null;
        taken = default;
        if (perMinute is not { } limit)
        {
            return true;
        }
        var bucket = buckets.AddOrUpdate(name, _ => new TokenBucket(limit, now), (_, existing) => existing.Capacity == limit ? existing : new TokenBucket(limit, now));
        var result = bucket.TryTake(units, now);
        if (!result.Allowed)
        {
            var what = kind == LimitKind.Requests ? "requests" : "tokens";
            var detail = result.RetryAfter == TimeSpan.MaxValue
                ? $"this request needs about {units} tokens, more than the limit of {limit} per minute allows at once"
                : $"the limit is {limit} {what} per minute";
            var target = scope.EndsWith(')') ? $"model '{scope[(scope.LastIndexOf('(') + 1)..^1]}' on this {Noun(scope)}" : $"this {Noun(scope)}";
            refusal = new LimitRefusal(kind, scope, $"Rate limit reached for {what} on {target}: {detail}.",
                result.RetryAfter == TimeSpan.MaxValue ? null : result.RetryAfter,
                kind == LimitKind.Requests
                    ? new HeaderValues(limit, result.RemainingForHeader, result.ResetAfter, null, null, null)
                    : new HeaderValues(null, null, null, limit, result.RemainingForHeader, result.ResetAfter));
            return false;
        }
        rollbacks.Add(() => bucket.Adjust(units, time.GetUtcNow()));
        taken = (bucket, result);
        return true;
    }

    private static bool CheckBudget(ScopeState state, string scope, LimitSettings limits, DateTimeOffset now, out LimitRefusal? refusal, ref string? warning, ref bool firstWarning)
    {
        refusal = null;
        if (limits.DailyBudgetUsd is null && limits.MonthlyBudgetUsd is null)
        {
            return true;
        }
        double today, month;
        lock (state)
        {
            state.RollPeriods(now);
            today = state.SpentToday;
            month = state.SpentThisMonth;
        }
        if (limits.DailyBudgetUsd is { } daily && today >= daily)
        {
            var midnight = new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);
            refusal = new LimitRefusal(LimitKind.DailyBudget, scope, $"This {Noun(scope)} has spent ${today:0.####} of its ${daily:0.##} daily budget. It resets at 00:00 UTC.", midnight - now, null);
            return false;
        }
        if (limits.MonthlyBudgetUsd is { } monthly && month >= monthly)
        {
            var first = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
            refusal = new LimitRefusal(LimitKind.MonthlyBudget, scope, $"This {Noun(scope)} has spent ${month:0.####} of its ${monthly:0.##} monthly budget. It resets on the 1st at 00:00 UTC.", first - now, null);
            return false;
        }
        var ratio = limits.SoftBudgetRatio ?? 0.8;
        string? mine = null;
        if (limits.DailyBudgetUsd is { } d && today >= d * ratio)
        {
            mine = $"{Noun(scope)} daily budget {today / d:P0} used (${today:0.####} of ${d:0.##})";
        }
        else if (limits.MonthlyBudgetUsd is { } m && month >= m * ratio)
        {
            mine = $"{Noun(scope)} monthly budget {month / m:P0} used (${month:0.####} of ${m:0.##})";
        }
        if (mine is not null)
        {
            warning ??= mine;
            var day = DateOnly.FromDateTime(now.UtcDateTime);
            lock (state)
            {
                if (state.WarnedOn != day)
                {
                    state.WarnedOn = day;
                    firstWarning = true;
                }
            }
        }
        return true;
    }

    private static string Noun(string scope) => scope.StartsWith("key:", StringComparison.Ordinal) ? "key" : "project";

    private sealed class ScopeState
    {
        public readonly ConcurrentDictionary<string, TokenBucket> Buckets = new(StringComparer.Ordinal);
        public int InFlight;
        public double SpentToday;
        public double SpentThisMonth;
        public DateOnly WarnedOn;
        private DateOnly _day;
        private int _month = -1;

        public void RollPeriods(DateTimeOffset now)
        {
            var day = DateOnly.FromDateTime(now.UtcDateTime);
            if (day != _day)
            {
                _day = day;
                SpentToday = 0;
            }
            var month = (now.Year * 12) + now.Month;
            if (month != _month)
            {
                _month = month;
                SpentThisMonth = 0;
            }
        }
    }
}
