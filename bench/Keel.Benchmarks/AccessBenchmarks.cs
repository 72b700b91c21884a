using System.Net;
using BenchmarkDotNet.Attributes;
using Keel.Core.Admission;
using Keel.Core.Configuration;
using Keel.Core.Identity;
using Keel.Core.Providers;
using Keel.Core.Routing;
using Keel.Core.Storage;

namespace Keel.Benchmarks;

/// <summary>
/// Identity plus every limit check on the request path (issue budget: ≤ 20 µs together): a virtual key looked up
/// among 10,000 and verified (SHA-256, fixed-time compare), then key and project limits (rpm, tpm, concurrency,
/// budgets, a per-model limit) checked, reserved and settled.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class AccessBenchmarks
{
    private readonly LimitEnforcer _enforcer = new(TimeProvider.System);
    private GatewaySnapshot _snapshot = null!;
    private KeyRegistry _registry = null!;
    private string _key = "";
    private (string, LimitSettings)[] _scopes = [];

    [GlobalSetup]
    public void Setup()
    {
        var store = new KeysOnlyStore();
        for (var i = 0; i < 10_000; i++)
        {
            var (secret, prefix) = KeyFormat.Generate();
            store.Keys.Add(new ApiKeyRecord
            {
                KeyId = "key_" + i, Name = "k" + i, Role = Roles.Gateway, ProjectId = "p1", Prefix = prefix, Hash = KeyFormat.Hash(secret), CreatedAt = DateTimeOffset.UtcNow,
            });
            if (i == 5_000)
            {
                _key = secret;
            }
        }
        _registry = new KeyRegistry(store, TimeProvider.System);
        _registry.RefreshAsync(CancellationToken.None).GetAwaiter().GetResult();
        _snapshot = new GatewaySnapshot(new KeelConfig(), _ => throw new InvalidOperationException("this config has no providers"), new RouteStateRegistry(TimeProvider.System));
        var limits = new LimitSettings
        {
            Rpm = int.MaxValue, Tpm = int.MaxValue, MaxConcurrent = 1_000_000, DailyBudgetUsd = 1e9, MonthlyBudgetUsd = 1e9,
            PerModel = new Dictionary<string, ModelLimit> { ["gpt-4o-mini"] = new() { Rpm = int.MaxValue } },
        };
        _scopes = [("key:key_5000", limits), ("project:p1", limits)];
    }

    [Benchmark]
    public string? Identity() =>
        KeyAuthenticator.Authenticate(_snapshot, _registry, name => name == "Authorization" ? "Bearer " + _key : null, IPAddress.Loopback, false, DateTimeOffset.UtcNow, out _)?.KeyId;

    [Benchmark]
    public bool Limits()
    {
        var admission = _enforcer.TryAdmit(_scopes, "gpt-4o-mini", 10, out var refusal)
            ?? throw new InvalidOperationException("refused: " + refusal!.Message);
        admission.Settle(10, 0.0001); // a million calls a second must stay under the (huge) per-minute token allowance
        return admission.Headers is not null;
    }

    [Benchmark(Baseline = true)]
    public bool IdentityAndLimits() => Identity() is not null && Limits();

    /// <summary>Holds keys in memory for the registry to load; the benchmark writes nothing.</summary>
    private sealed class KeysOnlyStore : IKeelStore, IAccessStore
    {
        public List<ApiKeyRecord> Keys { get; } = [];
        public ITraceStore Traces => throw new NotSupportedException("keys only");
        public IAccessStore Access => this;
        public IDataLifecycleStore Lifecycle => throw new NotSupportedException("This store deletes nothing.");
        public Keel.Core.Prompts.IPromptStore Prompts => throw new NotSupportedException("keys only");
        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(true);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        public Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<ProjectRecord>>([]);
        public Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<ApiKeyRecord>>(Keys);
        public Task<IReadOnlyList<AuditEntry>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<AuditEntry>>([]);
        public Task<bool> CreateProjectAsync(ProjectRecord project, AuditEntry audit, CancellationToken cancellationToken) => throw new NotSupportedException("read only");
        public Task UpdateProjectAsync(ProjectRecord project, AuditEntry audit, CancellationToken cancellationToken) => throw new NotSupportedException("read only");
        public Task CreateKeyAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken) => throw new NotSupportedException("read only");
        public Task UpdateKeyAsync(ApiKeyRecord key, AuditEntry audit, CancellationToken cancellationToken) => throw new NotSupportedException("read only");
        public Task AppendAuditAsync(AuditEntry audit, CancellationToken cancellationToken) => throw new NotSupportedException("read only");
        public Task<IReadOnlyList<(string Scope, double Today, double ThisMonth)>> SpendAsync(DateTimeOffset monthStart, DateTimeOffset dayStart, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<(string, double, double)>>([]);
    }
}
