using System.Text.Json;
using Keel.Core.Pipeline;

namespace Keel.Core.Recording;

/// <summary>
/// The dimensions a trace is filtered by, read from the request: session, end user, tags and
/// metadata. A Keel header wins over the body, because it is set on purpose for Keel while the
/// body's fields may be there for the provider.
/// </summary>
public static class TraceDimensions
{
    /// <summary>The session (conversation) id header.</summary>
    public const string SessionHeader = "x-keel-session-id";

    /// <summary>The end user id header.</summary>
    public const string UserHeader = "x-keel-user-id";

    /// <summary>Comma-separated tags.</summary>
    public const string TagsHeader = "x-keel-tags";

    /// <summary>Longest session or user id kept; longer ones are cut.</summary>
    public const int MaxIdLength = 256;

    /// <summary>Most tags kept on one trace.</summary>
    public const int MaxTags = 20;

    /// <summary>Longest tag kept; longer ones are cut.</summary>
    public const int MaxTagLength = 64;

    /// <summary>Largest metadata object kept (its JSON text); a larger one is not stored.</summary>
    public const int MaxMetadataChars = 16 * 1024;

    /// <summary>Reads the dimensions of a parsed request into the context.</summary>
    public static void Apply(GatewayContext context)
    {
        JsonElement? metadata = context.Chat?.Metadata is { ValueKind: JsonValueKind.Object } m ? m : null;
        context.SessionId = Clip(context.GetHeader(SessionHeader), MaxIdLength) ?? Clip(StringProperty(metadata, "session_id"), MaxIdLength);
        context.EndUserId = Clip(context.GetHeader(UserHeader), MaxIdLength) ?? Clip(context.Chat?.User ?? context.Embeddings?.User, MaxIdLength);
        context.Tags = ReadTags(context.GetHeader(TagsHeader), metadata);
        if (metadata is { } meta)
        {
            var json = meta.GetRawText();
            context.MetadataJson = json.Length <= MaxMetadataChars ? json : null;
        }
    }

    /// <summary>Tags from a comma-separated header and <c>metadata.tags</c> (an array of strings or a comma-separated string), trimmed, de-duplicated, in order.</summary>
    internal static IReadOnlyList<string>? ReadTags(string? header, JsonElement? metadata)
    {
        List<string>? tags = null;
        Add(ref tags, header);
        if (metadata is { } meta && meta.TryGetProperty("tags", out var fromBody))
        {
            if (fromBody.ValueKind == JsonValueKind.String)
            {
                Add(ref tags, fromBody.GetString());
            }
            else if (fromBody.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in fromBody.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        Add(ref tags, item.GetString());
                    }
                }
            }
        }

        return tags;

        static void Add(ref List<string>? tags, string? list)
        {
            if (string.IsNullOrWhiteSpace(list))
            {
                return;
            }

            foreach (var part in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = Clip(part, MaxTagLength)!;
                tags ??= [];
                if (tags.Count < MaxTags && !tags.Contains(tag, StringComparer.Ordinal))
                {
                    tags.Add(tag);
                }
            }
        }
    }

    private static string? StringProperty(JsonElement? element, string name) =>
        element is { } e && e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string? Clip(string? value, int max)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        return value.Length <= max ? value : value[..max];
    }
}
