using System.Text.Json;
using Keel.Core.Wire;

namespace Keel.Core.Providers;

/// <summary>Reads the top-level "usage" of an OpenAI response or chunk without building a DOM.</summary>
public static class UsageReader
{
    /// <summary>False when the bytes are not one JSON value; <paramref name="usage"/> is null when there is none.</summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out Usage? usage)
    {
        usage = null;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                return true;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        usage = JsonSerializer.Deserialize(ref reader, KeelJsonContext.Default.Usage);
                        continue;
                    }
                }
                else
                {
                    reader.Read();
                }

                reader.Skip();
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
