using System.Text;
using System.Text.Json;

namespace Keel.Core.Recording;

/// <summary>
/// The searchable text of a trace: what was asked (the text of every message, string content or
/// text parts, and an embeddings input) and what was answered (the content of every choice). Read
/// from the stored UTF-8 bodies in one forward pass each; JSON keys, ids and numbers are left out,
/// so a search for "model" finds traces that talk about models, not every trace.
/// </summary>
public static class SearchText
{
    /// <summary>The text, or null when neither body has any (or neither is JSON).</summary>
    public static string? Of(ReadOnlySpan<byte> request, ReadOnlySpan<byte> response)
    {
        var text = new StringBuilder();
        AppendRequest(request, text);
        AppendResponse(response, text);
        return text.Length == 0 ? null : text.ToString();
    }

    private static void AppendRequest(ReadOnlySpan<byte> json, StringBuilder text)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("messages"u8))
                {
                    reader.Read();
                    ForEachObject(ref reader, text, static (ref Utf8JsonReader r, StringBuilder t) => AppendProperty(ref r, t, "content"u8));
                }
                else if (reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    AppendStrings(ref reader, text);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // A body that is not JSON (a rejected request) adds what was read before the fault.
        }
    }

    private static void AppendResponse(ReadOnlySpan<byte> json, StringBuilder text)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isChoices = reader.ValueTextEquals("choices"u8);
                reader.Read();
                if (isChoices)
                {
                    ForEachObject(ref reader, text, static (ref Utf8JsonReader r, StringBuilder t) => AppendProperty(ref r, t, "message"u8));
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
        }
    }

    private delegate void ObjectReader(ref Utf8JsonReader reader, StringBuilder text);

    /// <summary>For an array of objects: calls <paramref name="read"/> at each object's start; skips anything else.</summary>
    private static void ForEachObject(ref Utf8JsonReader reader, StringBuilder text, ObjectReader read)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                read(ref reader, text);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>Inside an object: the strings under <paramref name="name"/> (for "message", its "content"); skips the rest.</summary>
    private static void AppendProperty(ref Utf8JsonReader reader, StringBuilder text, ReadOnlySpan<byte> name)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var match = reader.ValueTextEquals(name);
            reader.Read();
            if (!match)
            {
                reader.Skip();
            }
            else if (reader.TokenType == JsonTokenType.StartObject)
            {
                AppendProperty(ref reader, text, "content"u8);
            }
            else
            {
                AppendStrings(ref reader, text);
            }
        }
    }

    /// <summary>A string, or every "text" of an array of parts, or every string of an array.</summary>
    private static void AppendStrings(ref Utf8JsonReader reader, StringBuilder text)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                Append(text, reader.GetString());
                break;
            case JsonTokenType.StartArray:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        Append(text, reader.GetString());
                    }
                    else if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        AppendProperty(ref reader, text, "text"u8);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                break;
            default:
                reader.Skip();
                break;
        }
    }

    private static void Append(StringBuilder text, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            text.Append(text.Length == 0 ? "" : "\n").Append(value);
        }
    }
}
