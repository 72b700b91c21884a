namespace Keel.Core.Identity;

/// <summary>Checks limit settings; the first problem names its field.</summary>
public static class LimitValidation
{
    public static (string Field, string Message)? Check(LimitSettings limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (limits.Models is { } models && models.Any(string.IsNullOrWhiteSpace))
        {
            return ("models", "'limits.models' must list model names (no empty entries).");
        }
        if ((Positive("rpm", limits.Rpm) ?? Positive("tpm", limits.Tpm) ?? Positive("max_concurrent", limits.MaxConcurrent)) is { } p)
        {
            return p;
        }
        if (limits.DailyBudgetUsd is <= 0 || limits.MonthlyBudgetUsd is <= 0)
        {
            return (limits.DailyBudgetUsd is <= 0 ? "daily_budget_usd" : "monthly_budget_usd", "Budgets must be more than 0 USD.");
        }
        if (limits.SoftBudgetRatio is { } ratio && ratio is <= 0 or > 1)
        {
            return ("soft_budget_ratio", "'limits.soft_budget_ratio' must be more than 0 and at most 1.");
        }
        foreach (var (model, limit) in limits.PerModel ?? new Dictionary<string, ModelLimit>())
        {
            if ((Positive($"per_model.{model}.rpm", limit.Rpm) ?? Positive($"per_model.{model}.tpm", limit.Tpm)) is { } m)
            {
                return m;
            }
        }
        return null;
    }

    private static (string, string)? Positive(string field, int? value) =>
        value is <= 0 ? (field, $"'limits.{field}' must be at least 1 (leave it out for no limit).") : null;
}
