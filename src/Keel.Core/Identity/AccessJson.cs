using System.Text.Json.Serialization;

namespace Keel.Core.Identity;

/// <summary>Source-generated JSON for the access-control records (limits are stored as JSON; the API returns records).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(LimitSettings))]
[JsonSerializable(typeof(ProjectRecord))]
[JsonSerializable(typeof(ApiKeyRecord))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(List<ProjectRecord>))]
[JsonSerializable(typeof(List<ApiKeyRecord>))]
[JsonSerializable(typeof(List<AuditEntry>))]
public sealed partial class AccessJson : JsonSerializerContext;
