using Keel.Core.Recording;
using Keel.Core.Telemetry.Otlp;

namespace Keel.Core.Storage;

/// <summary>Spans applications send over OTLP (retrieval, tool calls, agent steps), kept with the traces they belong to.</summary>
public interface IAppSpanStore
{
    /// <summary>Stores spans in <paramref name="projectId"/>; a span sent twice is stored once.</summary>
    Task WriteAppSpansAsync(string projectId, IReadOnlyList<IngestedSpan> spans, CancellationToken cancellationToken);

    /// <summary>The application spans of a trace (in <paramref name="projectId"/>, or any project when null), in start order.</summary>
    Task<IReadOnlyList<SpanRecord>> ListAppSpansAsync(string traceId, string? projectId, CancellationToken cancellationToken);
}
