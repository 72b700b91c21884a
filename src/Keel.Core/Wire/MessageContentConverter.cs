using System.Text.Json;
using System.Text.Json.Serialization;

namespace Keel.Core.Wire;

internal sealed class MessageContentConverter : JsonConverter<MessageContent>
{
    public override MessageContent? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return new MessageContent(reader.GetString()!);
            case JsonTokenType.StartArray:
                var parts = JsonSerializer.Deserialize(ref reader, KeelJsonContext.Default.ListContentPart)
                    ?? [];
                return new MessageContent(parts);
            default:
                throw new JsonException("'content' must be a string, an array of content parts, or null.");
        }
    }

    public override void Write(Utf8JsonWriter writer, MessageContent value, JsonSerializerOptions options)
    {
        if (value.Text is not null)
        {
            writer.WriteStringValue(value.Text);
        }
        else
        {
            JsonSerializer.Serialize(writer, value.Parts!, KeelJsonContext.Default.ListContentPart);
        }
    }
}
