using Keel.Core.Prompts;
using Keel.Core.Recording;

namespace Keel.Core.Storage;

/// <summary>The durable store (SQLite by default; PostgreSQL for several replicas).</summary>
public interface IKeelStore : IAsyncDisposable
{
    /// <summary>Opens the store and applies pending schema migrations.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>True when the store answers a trivial query.</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken);

    ITraceStore Traces { get; }

    /// <summary>Retention and erasure.</summary>
    IDataLifecycleStore Lifecycle { get; }

    /// <summary>Projects, virtual keys and the audit log.</summary>
    IAccessStore Access { get; }

    /// <summary>Prompts, versions, labels and experiments.</summary>
    IPromptStore Prompts { get; }
}

public interface ITraceStore
{
    /// <summary>Writes a batch of traces with their spans in one transaction.</summary>
    Task WriteBatchAsync(IReadOnlyList<TraceRecord> traces, CancellationToken cancellationToken);

    Task<TraceRecord?> GetAsync(string traceId, CancellationToken cancellationToken);

    /// <summary>How many traces are stored.</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>Newest first; no bodies and no spans.</summary>
    Task<IReadOnlyList<TraceRecord>> ListAsync(TraceQuery query, CancellationToken cancellationToken);
}

/// <summary>A store failure with a stable code and whether retrying may help.</summary>
public sealed class StoreException(string code, string message, bool isTransient, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;
    public bool IsTransient { get; } = isTransient;
}
