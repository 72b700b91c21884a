using System.Globalization;
using System.Text.Json;

namespace Keel.Core.Feedback;

/// <summary>The kinds of score value.</summary>
public static class ScoreDataTypes
{
    /// <summary>A number (a rating, a metric).</summary>
    public const string Numeric = "numeric";

    /// <summary>True or false (thumbs up / down), stored as 1 / 0.</summary>
    public const string Boolean = "boolean";

    /// <summary>A label from a set (e.g. "correct", "partially_correct").</summary>
    public const string Categorical = "categorical";

    public static readonly IReadOnlyList<string> All = [Numeric, Boolean, Categorical];
}

/// <summary>Who gave a score.</summary>
public static class ScoreSources
{
    /// <summary>The application's end user (thumbs, stars).</summary>
    public const string EndUser = "end_user";

    /// <summary>Any caller of the API (the default).</summary>
    public const string Api = "api";

    /// <summary>An automatic evaluator (LLM judge, heuristic).</summary>
    public const string Evaluator = "evaluator";

    /// <summary>A person reviewing traces.</summary>
    public const string HumanReview = "human_review";

    public static readonly IReadOnlyList<string> All = [EndUser, Api, Evaluator, HumanReview];
}

/// <summary>
/// A score or piece of feedback on a trace. <see cref="Value"/> holds numbers and booleans (1 / 0);
/// <see cref="StringValue"/> holds categories and "true" / "false", as Langfuse's scores do.
/// </summary>
public sealed record ScoreRecord
{
    public required string ScoreId { get; init; }
    public required string TraceId { get; init; }
    public string? ProjectId { get; init; }
    public required string Name { get; init; }
    /// <summary>One of <see cref="ScoreDataTypes"/>.</summary>
    public required string DataType { get; init; }
    /// <summary>The number; 1 or 0 for a boolean; null for a category.</summary>
    public double? Value { get; init; }
    /// <summary>The category; "true" or "false" for a boolean; null for a number.</summary>
    public string? StringValue { get; init; }
    public string? Comment { get; init; }
    /// <summary>One of <see cref="ScoreSources"/>.</summary>
    public required string Source { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A score request that failed validation: the field at fault and why.</summary>
public sealed record ScoreInputError(string Param, string Message);

/// <summary>
/// Reads the body of <c>POST /api/scores</c>: <c>{trace_id, name, value, comment?, source?, data_type?}</c>.
/// Without <c>data_type</c> the value's JSON type decides: true/false is boolean, a number numeric,
/// a string categorical.
/// </summary>
public static class ScoreInput
{
    public const int MaxNameLength = 200;
    public const int MaxCategoryLength = 500;
    public const int MaxCommentLength = 10_000;

    private static readonly string[] KnownFields = ["trace_id", "name", "value", "comment", "source", "data_type"];

    /// <summary>The score, or the first field that is wrong.</summary>
    public static (ScoreRecord? Score, ScoreInputError? Error) Parse(ReadOnlySpan<byte> json, string scoreId, DateTimeOffset now)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException ex)
        {
            return Fail("body", $"The body is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Fail("body", "The body must be a JSON object: {\"trace_id\", \"name\", \"value\", \"comment\"?, \"source\"?, \"data_type\"?}.");
            }

            foreach (var property in root.EnumerateObject())
            {
                if (!KnownFields.Contains(property.Name))
                {
                    return Fail(property.Name, $"Unknown field '{property.Name}'; expected {string.Join(", ", KnownFields)}.");
                }
            }

            if (RequiredString(root, "trace_id", 128) is { Error: { } traceError })
            {
                return (null, traceError);
            }

            if (RequiredString(root, "name", MaxNameLength) is { Error: { } nameError })
            {
                return (null, nameError);
            }

            var source = ScoreSources.Api;
            if (root.TryGetProperty("source", out var sourceElement) && sourceElement.ValueKind != JsonValueKind.Null)
            {
                source = sourceElement.ValueKind == JsonValueKind.String ? sourceElement.GetString()! : "";
                if (!ScoreSources.All.Contains(source))
                {
                    return Fail("source", $"'source' must be one of {string.Join(", ", ScoreSources.All)}.");
                }
            }

            string? comment = null;
            if (root.TryGetProperty("comment", out var commentElement) && commentElement.ValueKind != JsonValueKind.Null)
            {
                if (commentElement.ValueKind != JsonValueKind.String)
                {
                    return Fail("comment", "'comment' must be a string.");
                }

                comment = commentElement.GetString();
                if (comment!.Length > MaxCommentLength)
                {
                    return Fail("comment", $"'comment' is longer than {MaxCommentLength} characters.");
                }
            }

            string? dataType = null;
            if (root.TryGetProperty("data_type", out var typeElement) && typeElement.ValueKind != JsonValueKind.Null)
            {
                dataType = typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : "";
                if (!ScoreDataTypes.All.Contains(dataType))
                {
                    return Fail("data_type", $"'data_type' must be one of {string.Join(", ", ScoreDataTypes.All)}.");
                }
            }

            if (!root.TryGetProperty("value", out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return Fail("value", "'value' is required: a number, true/false (e.g. thumbs up/down), or a category string.");
            }

            dataType ??= value.ValueKind switch
            {
                JsonValueKind.True or JsonValueKind.False => ScoreDataTypes.Boolean,
                JsonValueKind.Number => ScoreDataTypes.Numeric,
                JsonValueKind.String => ScoreDataTypes.Categorical,
                _ => null,
            };
            var (numeric, text, valueError) = ReadValue(dataType, value);
            if (valueError is not null)
            {
                return Fail("value", valueError);
            }

            return (new ScoreRecord
            {
                ScoreId = scoreId,
                TraceId = root.GetProperty("trace_id").GetString()!,
                Name = root.GetProperty("name").GetString()!.Trim(),
                DataType = dataType!,
                Value = numeric,
                StringValue = text,
                Comment = comment,
                Source = source,
                CreatedAt = now,
            }, null);
        }
    }

    private static (double? Number, string? Text, string? Error) ReadValue(string? dataType, JsonElement value)
    {
        switch (dataType)
        {
            case ScoreDataTypes.Boolean:
                return value.ValueKind switch
                {
                    JsonValueKind.True => (1, "true", null),
                    JsonValueKind.False => (0, "false", null),
                    JsonValueKind.Number when value.TryGetDouble(out var n) && n is 0 or 1 => (n, n == 1 ? "true" : "false", null),
                    _ => (null, null, "A boolean score's 'value' is true or false (or 1 or 0)."),
                };
            case ScoreDataTypes.Numeric:
                return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number)
                    ? (number, null, null)
                    : (null, null, "A numeric score's 'value' is a finite number.");
            case ScoreDataTypes.Categorical:
                if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
                {
                    return (null, null, "A categorical score's 'value' is a non-empty string.");
                }

                var category = value.GetString()!.Trim();
                return category.Length > MaxCategoryLength
                    ? (null, null, $"A categorical score's 'value' is at most {MaxCategoryLength} characters.")
                    : (null, category, null);
            default:
                return (null, null, "'value' must be a number, true/false, or a string.");
        }
    }

    private static (string? Value, ScoreInputError? Error) RequiredString(JsonElement root, string name, int maxLength)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return (null, new ScoreInputError(name, $"'{name}' is required."));
        }

        if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(element.GetString()))
        {
            return (null, new ScoreInputError(name, $"'{name}' must be a non-empty string."));
        }

        var text = element.GetString()!;
        return text.Length > maxLength
            ? (null, new ScoreInputError(name, $"'{name}' is longer than {maxLength.ToString(CultureInfo.InvariantCulture)} characters."))
            : (text, null);
    }

    private static (ScoreRecord?, ScoreInputError?) Fail(string param, string message) => (null, new ScoreInputError(param, message));
}
