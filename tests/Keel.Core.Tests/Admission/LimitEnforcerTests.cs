using Keel.Core.Admission;
using Keel.Core.Identity;
using Keel.Tests.Common;

namespace Keel.Core.Tests.Admission;

public sealed class LimitEnforcerTests
{
    private static readonly TestTimeProvider Clock = new(new DateTimeOffset(2026, 3, 31, 23, 59, 0, TimeSpan.Zero));

    [Fact]
    public void DailyBudget_SoftThenHard_ThenResetsAtMidnightUtc_AndMonthlyAtTheFirst()
    {
        var clock = new TestTimeProvider(Clock.GetUtcNow());
        var enforcer = new LimitEnforcer(clock);
        var limits = new LimitSettings { DailyBudgetUsd = 1.0, MonthlyBudgetUsd = 5.0, SoftBudgetRatio = 0.5 };
        (string, LimitSettings)[] scopes = [("key:k1", limits)];

        var a = enforcer.TryAdmit(scopes, "m", 0, out _)!;
        Assert.Null(a.BudgetWarning);
        a.Settle(10, 0.6);
        var b = enforcer.TryAdmit(scopes, "m", 0, out _)!;
        Assert.Contains("daily budget 60", b.BudgetWarning, StringComparison.Ordinal);
        b.Settle(10, 0.5);

        Assert.Null(enforcer.TryAdmit(scopes, "m", 0, out var refusal));
        Assert.Equal(LimitKind.DailyBudget, refusal!.Kind);
        Assert.Equal(TimeSpan.FromMinutes(1), refusal.RetryAfter); // until 00:00 UTC

        clock.Advance(TimeSpan.FromMinutes(2)); // April 1st: a new day and a new month
        Assert.NotNull(enforcer.TryAdmit(scopes, "m", 0, out _));
        Assert.Equal((0, 0), enforcer.Spend("key:k1"));
    }

    [Fact]
    public void MonthlyBudget_SeededFromTheStore_Blocks()
    {
        var enforcer = new LimitEnforcer(Clock);
        enforcer.SeedSpend("project:p", today: 0.1, thisMonth: 9.99);
        var admission = enforcer.TryAdmit([("project:p", new LimitSettings { MonthlyBudgetUsd = 10 })], "m", 0, out _)!;
        admission.Settle(1, 0.02);
        Assert.Null(enforcer.TryAdmit([("project:p", new LimitSettings { MonthlyBudgetUsd = 10 })], "m", 0, out var refusal));
        Assert.Equal(LimitKind.MonthlyBudget, refusal!.Kind);
    }

    [Fact]
    public void Refusal_GivesBackEverythingReservedBeforeIt()
    {
        var enforcer = new LimitEnforcer(Clock);
        var key = new LimitSettings { Rpm = 1, MaxConcurrent = 1 };
        var project = new LimitSettings { Tpm = 10 };
        (string, LimitSettings)[] scopes = [("key:k", key), ("project:p", project)];

        Assert.Null(enforcer.TryAdmit(scopes, "m", 50, out var refusal)); // the project's tpm refuses after the key's rpm and slot were taken
        Assert.Equal(LimitKind.Tokens, refusal!.Kind);
        var admitted = enforcer.TryAdmit(scopes, "m", 5, out _); // so the key's one request and one slot are still there
        Assert.NotNull(admitted);
    }

    [Fact]
    public void Settle_IsIdempotent_AndReturnsUnusedTokens()
    {
        var enforcer = new LimitEnforcer(Clock);
        (string, LimitSettings)[] scopes = [("key:k", new LimitSettings { Tpm = 100, MaxConcurrent = 1 })];
        var a = enforcer.TryAdmit(scopes, "m", 90, out _)!;
        Assert.Equal(10, a.Headers!.RemainingTokens);
        a.Settle(20, null);
        a.Settle(20, null);
        var b = enforcer.TryAdmit(scopes, "m", 80, out _);
        Assert.NotNull(b); // 100 - 20 used = 80 left, and the concurrency slot came back once
        Assert.Equal(0, b!.Headers!.RemainingTokens);
    }

    [Theory]
    [InlineData(0.12, "120ms")]
    [InlineData(1, "1s")]
    [InlineData(59.2, "1m0s")]
    [InlineData(360, "6m0s")]
    [InlineData(75, "1m15s")]
    public void ResetDurations_UseOpenAisFormat(double seconds, string expected) =>
        Assert.Equal(expected, Keel.Core.Pipeline.Stages.AdmissionStageFormat.Duration(TimeSpan.FromSeconds(seconds)));
}
