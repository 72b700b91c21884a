using System.Text.Json.Serialization;

namespace Keel.Core.Prompts;

/// <summary>Experiment states.</summary>
public static class ExperimentStatus
{
    public const string Running = "running";
    public const string Stopped = "stopped";
}

/// <summary>One arm: a version of the prompt and its share of the label's traffic.</summary>
public sealed record ExperimentArm
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("version")] public required int Version { get; init; }
    [JsonPropertyName("weight")] public required double Weight { get; init; }
}

/// <summary>What creating an experiment asks for.</summary>
public sealed record ExperimentDraft
{
    public string? Name { get; init; }
    public required string Prompt { get; init; }
    public required string Label { get; init; }
    public required IReadOnlyList<ExperimentArm> Arms { get; init; }
    /// <summary>The score whose difference between arms is tested (a name in the scores table).</summary>
    public string? PrimaryScore { get; init; }
}

/// <summary>An A/B/n experiment on a prompt label: while it runs, the label's traffic is split between the arms.</summary>
public sealed record Experiment
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Prompt { get; init; }
    public required string Label { get; init; }
    public required IReadOnlyList<ExperimentArm> Arms { get; init; }
    public string? PrimaryScore { get; init; }
    public required string Status { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StoppedAt { get; init; }
}

/// <summary>
/// Sticky assignment: a unit (the end user, or the request when there is none) hashes to a point in
/// [0, 1) that depends only on the experiment id and the unit, and the arms' weights cut [0, 1)
/// into consecutive ranges. The same user lands in the same arm on every replica and after restarts.
/// </summary>
public sealed class ExperimentAssigner
{
    private readonly double[] _upperBounds;

    public ExperimentAssigner(Experiment experiment)
    {
        Experiment = experiment;
        var total = experiment.Arms.Sum(a => a.Weight);
        _upperBounds = new double[experiment.Arms.Count];
        var running = 0.0;
        for (var i = 0; i < _upperBounds.Length; i++)
        {
            running += experiment.Arms[i].Weight / total;
            _upperBounds[i] = running;
        }

        _upperBounds[^1] = 1.0;
    }

    public Experiment Experiment { get; }

    /// <summary>The arm for <paramref name="unit"/>.</summary>
    public ExperimentArm Assign(string unit)
    {
        var point = Bucket(Experiment.Id, unit);
        for (var i = 0; i < _upperBounds.Length; i++)
        {
            if (point < _upperBounds[i])
            {
                return Experiment.Arms[i];
            }
        }

        return Experiment.Arms[^1];
    }

    /// <summary>A uniform point in [0, 1): FNV-1a over both strings, then the SplitMix64 finaliser to spread similar ids.</summary>
    public static double Bucket(string experimentId, string unit)
    {
        var hash = 14695981039346656037UL;
        hash = Fnv(hash, experimentId);
        hash = (hash ^ '\n') * 1099511628211UL;
        hash = Fnv(hash, unit);
        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return (hash >> 11) * (1.0 / (1UL << 53));
    }

    private static ulong Fnv(ulong hash, string text)
    {
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>Every problem of a draft (arms checked against the prompt's versions when known).</summary>
    public static List<PromptProblem> Validate(ExperimentDraft draft, IReadOnlyCollection<int>? knownVersions)
    {
        var problems = new List<PromptProblem>();
        if (!PromptValidator.IsValidName(draft.Prompt))
        {
            problems.Add(new("prompt", $"'{draft.Prompt}' is not a valid prompt name: {PromptValidator.NameRule}"));
        }

        if (draft.Label != PromptLabels.Latest && !PromptValidator.IsValidLabel(draft.Label))
        {
            problems.Add(new("label", $"'{draft.Label}' is not a valid label: {PromptValidator.LabelRule}"));
        }

        if (draft.Arms.Count is < 2 or > 10)
        {
            problems.Add(new("arms", "an experiment has 2 to 10 arms, each { version, weight }"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < draft.Arms.Count; i++)
        {
            var arm = draft.Arms[i];
            if (!names.Add(arm.Name))
            {
                problems.Add(new($"arms[{i}].name", $"the arm name '{arm.Name}' is used twice"));
            }

            if (arm.Name.Length is 0 or > 64)
            {
                problems.Add(new($"arms[{i}].name", "must be 1 to 64 characters"));
            }

            if (!(arm.Weight > 0) || double.IsInfinity(arm.Weight))
            {
                problems.Add(new($"arms[{i}].weight", $"must be a positive number, not {arm.Weight}"));
            }

            if (arm.Version < 1)
            {
                problems.Add(new($"arms[{i}].version", "must be a version number (1 or more)"));
            }
            else if (knownVersions is not null && !knownVersions.Contains(arm.Version))
            {
                problems.Add(new($"arms[{i}].version", $"prompt '{draft.Prompt}' has no version {arm.Version}"));
            }
        }

        return problems;
    }
}
