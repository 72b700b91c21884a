namespace Keel.Core.Prompts;

/// <summary>
/// Prompts, their immutable versions, labels with their history, and experiments, per project.
/// Writes that change what the gateway serves bump the project's revision, which the registry
/// watches to reload (see <see cref="PromptRegistry"/>).
/// </summary>
public interface IPromptStore
{
    /// <summary>
    /// Creates the next version from <paramref name="draft"/> (or, when it is identical to the newest,
    /// returns that one with Created false) and points the draft's labels at it, in one transaction.
    /// </summary>
    Task<PromptPushResult> PushAsync(string projectId, PromptDraft draft, string? actor, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<PromptSummary>> ListAsync(string projectId, CancellationToken cancellationToken);

    /// <summary>The prompt with its labels and version list (content left out), or null.</summary>
    Task<PromptDetails?> GetAsync(string projectId, string name, CancellationToken cancellationToken);

    /// <summary>A version in full (with its labels), or null.</summary>
    Task<PromptVersion?> GetVersionAsync(string projectId, string name, int version, CancellationToken cancellationToken);

    /// <summary>Every prompt of the project with every version and its labels: what the registry serves.</summary>
    Task<IReadOnlyList<PromptState>> LoadAsync(string projectId, CancellationToken cancellationToken);

    /// <summary>Points a label at a version (recorded in the label history), or returns null when the version does not exist.</summary>
    Task<LabelMove?> SetLabelAsync(string projectId, string name, string label, int version, string action, string? actor, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Moves the label back to its previous version (see <see cref="LabelHistory.RollbackTarget"/>).
    /// Null when the label does not exist; a move with a null ToVersion when there is nothing to go back to.
    /// </summary>
    Task<LabelMove?> RollbackLabelAsync(string projectId, string name, string label, string? actor, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes a label (recorded in the history); false when it did not exist.</summary>
    Task<bool> RemoveLabelAsync(string projectId, string name, string label, string? actor, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The label's moves, oldest first.</summary>
    Task<IReadOnlyList<LabelMove>> GetLabelHistoryAsync(string projectId, string name, string label, CancellationToken cancellationToken);

    /// <summary>Deletes the prompt, its versions, labels and history; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string projectId, string name, CancellationToken cancellationToken);

    /// <summary>Creates an experiment; fails with <see cref="Storage.StoreException"/> code "conflict" when one already runs on the label.</summary>
    Task<Experiment> CreateExperimentAsync(string projectId, ExperimentDraft draft, string id, DateTimeOffset now, CancellationToken cancellationToken);

    Task<Experiment?> GetExperimentAsync(string projectId, string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<Experiment>> ListExperimentsAsync(string projectId, CancellationToken cancellationToken);

    /// <summary>Stops a running experiment; null when it does not exist.</summary>
    Task<Experiment?> StopExperimentAsync(string projectId, string id, DateTimeOffset now, CancellationToken cancellationToken);

    Task<bool> DeleteExperimentAsync(string projectId, string id, CancellationToken cancellationToken);

    /// <summary>Per-arm counts from the traces (and their scores) recorded under the experiment.</summary>
    Task<ExperimentCounts> CountExperimentAsync(string projectId, string id, CancellationToken cancellationToken);

    /// <summary>Every project's revision: it grows with each write that changes what the gateway serves.</summary>
    Task<IReadOnlyDictionary<string, long>> GetRevisionsAsync(CancellationToken cancellationToken);
}

/// <summary>The store's counts for an experiment, and whether the traces carry cost.</summary>
public sealed record ExperimentCounts(IReadOnlyList<ArmStats> Arms, bool CostAvailable);
