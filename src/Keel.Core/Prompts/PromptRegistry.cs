using Keel.Core.Logging;
using Keel.Core.Pipeline;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Prompts;

/// <summary>A prompt as the gateway serves it: compiled versions, labels, running experiments by label.</summary>
public sealed class ServedPrompt
{
    public ServedPrompt(string name, IReadOnlyDictionary<int, CompiledPrompt> versions, IReadOnlyDictionary<string, int> labels, IReadOnlyDictionary<string, ExperimentAssigner> experiments)
    {
        Name = name;
        Versions = versions;
        Labels = labels;
        Experiments = experiments;
        Latest = versions.Count > 0 ? versions.Keys.Max() : 0;
    }

    public string Name { get; }
    public IReadOnlyDictionary<int, CompiledPrompt> Versions { get; }
    public IReadOnlyDictionary<string, int> Labels { get; }
    public IReadOnlyDictionary<string, ExperimentAssigner> Experiments { get; }
    public int Latest { get; }
}

/// <summary>What a request's prompt reference resolved to.</summary>
public readonly record struct PromptResolution(CompiledPrompt Prompt, string? Label, Experiment? Experiment, ExperimentArm? Arm);

/// <summary>
/// Serves prompts from memory: every version of every prompt compiled, labels and running
/// experiments, in an immutable catalog swapped whole. A request reads it without a lock or a store
/// round trip. Writes through the API reload the project before they answer, so the next request
/// sees them; <see cref="PromptRegistryRefresher"/> polls the store's revisions so that writes made
/// through another replica arrive too.
/// </summary>
public sealed partial class PromptRegistry(IPromptStore? store, ILogger<PromptRegistry> logger)
{
    private IPromptStore Store => store ?? throw new InvalidOperationException("This registry has no store: it serves only what Replace gave it.");

    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private Dictionary<(string Project, string Name), ServedPrompt> _catalog = [];
    private Dictionary<string, long> _revisions = new(StringComparer.Ordinal);

    /// <summary>How many prompts are served, across projects.</summary>
    public int Count => Volatile.Read(ref _catalog).Count;

    /// <summary>The served prompt, or null.</summary>
    public ServedPrompt? Find(string projectId, string name) =>
        Volatile.Read(ref _catalog).GetValueOrDefault((projectId, name));

    /// <summary>
    /// Resolves a reference: an explicit version; otherwise the label (default production; latest is
    /// the newest version), split by the label's running experiment if there is one. The experiment
    /// unit (the end user) comes from <c>unit(state)</c>, called only when an experiment applies.
    /// </summary>
    public GatewayError? TryResolve<TState>(string projectId, string name, string? label, int? version, Func<TState, string> unit, TState state, out PromptResolution resolution)
    {
        resolution = default;
        if (Find(projectId, name) is not { } prompt)
        {
            return new GatewayError(404, "invalid_request_error", "prompt_not_found",
                $"There is no prompt named '{name}'. Push it first (keel prompt push FILE, or POST /api/prompts).", "prompt.name");
        }

        if (version is { } v)
        {
            if (!prompt.Versions.TryGetValue(v, out var exact))
            {
                return new GatewayError(404, "invalid_request_error", "prompt_version_not_found",
                    $"Prompt '{name}' has no version {v}; its versions are 1 to {prompt.Latest}.", "prompt.version");
            }

            resolution = new PromptResolution(exact, null, null, null);
            return null;
        }

        label ??= PromptLabels.Production;
        if (prompt.Experiments.TryGetValue(label, out var experiment))
        {
            var arm = experiment.Assign(unit(state));
            if (prompt.Versions.TryGetValue(arm.Version, out var armPrompt))
            {
                resolution = new PromptResolution(armPrompt, label, experiment.Experiment, arm);
                return null;
            }
        }

        var target = label == PromptLabels.Latest ? prompt.Latest : prompt.Labels.GetValueOrDefault(label);
        if (!prompt.Versions.TryGetValue(target, out var labelled))
        {
            var labels = string.Join(", ", prompt.Labels.Keys.Order(StringComparer.Ordinal).Append(PromptLabels.Latest));
            return new GatewayError(404, "invalid_request_error", "prompt_label_not_found",
                $"Prompt '{name}' has no version labelled '{label}'; its labels are: {labels}. Promote a version (keel prompt promote {name} VERSION --label {label}).",
                "prompt.label");
        }

        resolution = new PromptResolution(labelled, label, null, null);
        return null;
    }

    /// <summary>Loads every project the store knows (at start).</summary>
    public async Task LoadAllAsync(CancellationToken cancellationToken)
    {
        var revisions = await Store.GetRevisionsAsync(cancellationToken);
        foreach (var project in revisions.Keys)
        {
            await ReloadProjectAsync(project, cancellationToken);
        }

        Log.Loaded(logger, Count, revisions.Count);
    }

    /// <summary>Reloads the projects whose revision moved since they were loaded.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var revisions = await Store.GetRevisionsAsync(cancellationToken);
        foreach (var (project, revision) in revisions)
        {
            if (Volatile.Read(ref _revisions).GetValueOrDefault(project, -1) != revision)
            {
                await ReloadProjectAsync(project, cancellationToken);
            }
        }
    }

    /// <summary>Reads one project's prompts and experiments from the store and swaps them in.</summary>
    public async Task ReloadProjectAsync(string projectId, CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken);
        try
        {
            // The revision is read first: a write that lands during the load moves it again, and the
            // next refresh loads once more.
            var revision = (await Store.GetRevisionsAsync(cancellationToken)).GetValueOrDefault(projectId);
            var states = await Store.LoadAsync(projectId, cancellationToken);
            var experiments = await Store.ListExperimentsAsync(projectId, cancellationToken);
            Swap(projectId, states, experiments.Where(e => e.Status == ExperimentStatus.Running));
            Volatile.Write(ref _revisions, new Dictionary<string, long>(_revisions, StringComparer.Ordinal) { [projectId] = revision });
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Serves the given states directly (benchmarks and tests that have no store).</summary>
    public void Replace(string projectId, IEnumerable<PromptState> states, IEnumerable<Experiment> runningExperiments)
    {
        _reloadLock.Wait();
        try
        {
            Swap(projectId, states, runningExperiments);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private void Swap(string projectId, IEnumerable<PromptState> states, IEnumerable<Experiment> runningExperiments)
    {
        var experiments = runningExperiments.ToLookup(e => e.Prompt, StringComparer.Ordinal);
        var catalog = new Dictionary<(string, string), ServedPrompt>(_catalog.Where(e => e.Key.Project != projectId));
        foreach (var state in states)
        {
            catalog[(projectId, state.Name)] = Serve(state, experiments[state.Name]);
        }

        Volatile.Write(ref _catalog, catalog);
    }

    private ServedPrompt Serve(PromptState state, IEnumerable<Experiment> experiments)
    {
        var versions = new Dictionary<int, CompiledPrompt>(state.Versions.Count);
        foreach (var version in state.Versions)
        {
            try
            {
                versions[version.Version] = CompiledPrompt.Compile(version);
            }
            catch (InvalidDataException ex)
            {
                // Versions are validated before they are stored; one that is not is skipped, not fatal.
                Log.VersionUnservable(logger, state.Name, version.Version, ex.Message);
            }
        }

        // The store allows one running experiment per label; should two ever meet, the newest serves.
        var byLabel = experiments.GroupBy(e => e.Label, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new ExperimentAssigner(g.MaxBy(e => e.CreatedAt)!), StringComparer.Ordinal);
        return new ServedPrompt(state.Name, versions, state.Labels, byLabel);
    }

    /// <summary>Logs a refresh that failed; the catalog in memory stays as it was.</summary>
    internal void ReportRefreshFailure(Exception exception) => Log.ReloadFailed(logger, exception);

    private static partial class Log
    {
        [LoggerMessage(KeelEventIds.PromptReloadFailed, LogLevel.Warning, "Reloading prompts from the store failed; serving the prompts already loaded.")]
        public static partial void ReloadFailed(ILogger logger, Exception exception);

        [LoggerMessage(KeelEventIds.PromptVersionUnservable, LogLevel.Error, "Prompt {PromptName} version {PromptVersion} cannot be served: {Reason}")]
        public static partial void VersionUnservable(ILogger logger, string promptName, int promptVersion, string reason);

        [LoggerMessage(KeelEventIds.PromptsLoaded, LogLevel.Information, "Prompt registry: {PromptCount} prompts in {ProjectCount} projects loaded.")]
        public static partial void Loaded(ILogger logger, int promptCount, int projectCount);
    }
}
