using System.Text.Json.Serialization;
using Keel.Core.Recording;

namespace Keel.Server.Apis;

/// <summary>A page of traces.</summary>
internal sealed record TracePage(IReadOnlyList<TraceRecord> Data, string? NextCursor);

internal sealed record HealthReport(string Status, IReadOnlyDictionary<string, string> Checks);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TraceRecord))]
[JsonSerializable(typeof(TracePage))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(RoutesHealthReport))]
[JsonSerializable(typeof(Keel.Core.Feedback.ScoreRecord))]
[JsonSerializable(typeof(ScoreList))]
[JsonSerializable(typeof(Keel.Core.Storage.TraceSummary))]
internal sealed partial class ControlPlaneJsonContext : JsonSerializerContext;
