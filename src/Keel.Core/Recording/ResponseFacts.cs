using System.Text.Json;

namespace Keel.Core.Recording;

/// <summary>
/// The id, model and finish reasons of a chat.completion body, read in one forward pass without
/// building a DOM (for the trace's <c>gen_ai.response.*</c> attributes).
/// </summary>
internal readonly record struct ResponseFacts(string? Id, string? Model, string[]? FinishReasons)
{
    public static ResponseFacts Read(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        string? id = null, model = null;
        List<string>? reasons = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("model"u8))
                {
                    var isId = reader.ValueTextEquals("id"u8);
                    reader.Read();
                    var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    if (isId)
                    {
                        id = text;
                    }
                    else
                    {
                        model = text;
                    }

                    reader.Skip();
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                    {
                        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                        {
                            var isReason = reader.ValueTextEquals("finish_reason"u8);
                            reader.Read();
                            if (isReason && reader.TokenType == JsonTokenType.String)
                            {
                                (reasons ??= []).Add(reader.GetString()!);
                            }

                            reader.Skip();
                        }
                    }
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
            // What was read before the fault is kept.
        }

        return new ResponseFacts(id, model, reasons?.ToArray());
    }
}
