using System.Text.Json;
using System.Text.Json.Serialization;

namespace Keel.Core.Providers.Anthropic;

/// <summary>Source-generated serializers for the Anthropic wire types.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = false,
    ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(AnthropicRequest))]
[JsonSerializable(typeof(AnthropicResponse))]
[JsonSerializable(typeof(AnthropicStreamEvent))]
internal sealed partial class AnthropicJsonContext : JsonSerializerContext;
