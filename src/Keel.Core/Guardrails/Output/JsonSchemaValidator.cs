using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Keel.Core.Guardrails.Output;

/// <summary>
/// Validates a JSON document against a JSON Schema: the subset OpenAI structured outputs use and a little more
/// (<c>type</c> incl. type lists, <c>properties</c>, <c>required</c>, <c>additionalProperties</c>, <c>items</c>,
/// <c>prefixItems</c>, <c>enum</c>, <c>const</c>, string and number bounds, <c>pattern</c>, <c>minItems</c>/<c>maxItems</c>,
/// <c>anyOf</c>/<c>oneOf</c>/<c>allOf</c>/<c>not</c>, local <c>$ref</c> to <c>#/$defs/…</c> or <c>#/definitions/…</c>).
/// Keywords it does not know are ignored, as the JSON Schema spec says. Reports the first problem with its JSON path.
/// </summary>
public static class JsonSchemaValidator
{
    private const int MaxDepth = 64;
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Parses <paramref name="json"/> and validates it; returns null when valid, else what is wrong and where.</summary>
    public static string? Validate(string json, JsonElement? schema) => Check(json, schema).Problem;

    /// <summary>Parses <paramref name="json"/> and validates it: what is wrong (null when valid), and whether it parsed at all.</summary>
    public static JsonCheck Check(string json, JsonElement? schema)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException ex)
        {
            return new JsonCheck($"not valid JSON: {ex.Message.Split(" Path:", 2)[0]}", Parsed: false);
        }
        using (document)
        {
            return new JsonCheck(schema is { } s ? Validate(document.RootElement, s) : null, Parsed: true);
        }
    }

    /// <summary>Validates <paramref name="instance"/> against <paramref name="schema"/>; null when valid.</summary>
    public static string? Validate(JsonElement instance, JsonElement schema) => Check(instance, schema, schema, "$", 0);

    private static string? Check(JsonElement value, JsonElement schema, JsonElement root, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            return $"{path}: the schema nests deeper than {MaxDepth} levels (a $ref cycle?)";
        }
        if (schema.ValueKind == JsonValueKind.False)
        {
            return $"{path}: no value is allowed here";
        }
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (schema.TryGetProperty("$ref", out var reference) && reference.ValueKind == JsonValueKind.String)
        {
            if (Resolve(root, reference.GetString()!) is not { } target)
            {
                return $"{path}: the schema's $ref '{reference.GetString()}' points nowhere";
            }
            if (Check(value, target, root, path, depth + 1) is { } refError)
            {
                return refError;
            }
        }
        if (schema.TryGetProperty("type", out var type) && !MatchesType(value, type))
        {
            return $"{path}: expected {DescribeType(type)}, got {Describe(value)}";
        }
        if (schema.TryGetProperty("enum", out var options) && options.ValueKind == JsonValueKind.Array
            && !options.EnumerateArray().Any(o => JsonElement.DeepEquals(o, value)))
        {
            return $"{path}: {Describe(value)} is not one of {options.GetRawText()}";
        }
        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
        {
            return $"{path}: must be {constant.GetRawText()}";
        }
        var error = value.ValueKind switch
        {
            JsonValueKind.Object => CheckObject(value, schema, root, path, depth),
            JsonValueKind.Array => CheckArray(value, schema, root, path, depth),
            JsonValueKind.String => CheckString(value.GetString()!, schema, path),
            JsonValueKind.Number => CheckNumber(value.GetDouble(), schema, path),
            _ => null,
        };
        return error ?? CheckCombinators(value, schema, root, path, depth);
    }

    private static string? CheckObject(JsonElement value, JsonElement schema, JsonElement root, string path, int depth)
    {
        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in required.EnumerateArray())
            {
                if (name.ValueKind == JsonValueKind.String && !value.TryGetProperty(name.GetString()!, out _))
                {
                    return $"{path}: missing required property '{name.GetString()}'";
                }
            }
        }
        schema.TryGetProperty("properties", out var properties);
        var hasAdditional = schema.TryGetProperty("additionalProperties", out var additional);
        foreach (var property in value.EnumerateObject())
        {
            var childPath = $"{path}.{property.Name}";
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
            {
                if (Check(property.Value, propertySchema, root, childPath, depth + 1) is { } error)
                {
                    return error;
                }
            }
            else if (hasAdditional)
            {
                if (additional.ValueKind == JsonValueKind.False)
                {
                    return $"{path}: property '{property.Name}' is not allowed";
                }
                if (Check(property.Value, additional, root, childPath, depth + 1) is { } error)
                {
                    return error;
                }
            }
        }
        return null;
    }

    private static string? CheckArray(JsonElement value, JsonElement schema, JsonElement root, string path, int depth)
    {
        var count = value.GetArrayLength();
        if (Number(schema, "minItems") is { } min && count < min)
        {
            return $"{path}: has {count} items, needs at least {min}";
        }
        if (Number(schema, "maxItems") is { } max && count > max)
        {
            return $"{path}: has {count} items, allows at most {max}";
        }
        var prefix = schema.TryGetProperty("prefixItems", out var p) && p.ValueKind == JsonValueKind.Array ? p.GetArrayLength() : 0;
        var hasItems = schema.TryGetProperty("items", out var items);
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            var itemSchema = i < prefix ? p[i] : hasItems ? items : default;
            if (itemSchema.ValueKind != JsonValueKind.Undefined && Check(item, itemSchema, root, $"{path}[{i}]", depth + 1) is { } error)
            {
                return error;
            }
            i++;
        }
        return null;
    }

    private static string? CheckString(string value, JsonElement schema, string path)
    {
        var length = new System.Globalization.StringInfo(value).LengthInTextElements;
        if (Number(schema, "minLength") is { } min && length < min)
        {
            return $"{path}: is {length} characters long, needs at least {min}";
        }
        if (Number(schema, "maxLength") is { } max && length > max)
        {
            return $"{path}: is {length} characters long, allows at most {max}";
        }
        if (schema.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.String)
        {
            try
            {
                if (!Regex.IsMatch(value, pattern.GetString()!, RegexOptions.NonBacktracking, PatternTimeout))
                {
                    return $"{path}: does not match the pattern {pattern.GetString()}";
                }
            }
            catch (ArgumentException)
            {
                // A pattern .NET cannot run is the schema's problem, not the answer's.
            }
            catch (NotSupportedException)
            {
                // Likewise (constructs the non-backtracking engine does not support).
            }
        }
        return null;
    }

    private static string? CheckNumber(double value, JsonElement schema, string path)
    {
        if (Number(schema, "minimum") is { } min && value < min)
        {
            return $"{path}: {Format(value)} is less than the minimum {Format(min)}";
        }
        if (Number(schema, "maximum") is { } max && value > max)
        {
            return $"{path}: {Format(value)} is more than the maximum {Format(max)}";
        }
        if (Number(schema, "exclusiveMinimum") is { } emin && value <= emin)
        {
            return $"{path}: {Format(value)} must be more than {Format(emin)}";
        }
        if (Number(schema, "exclusiveMaximum") is { } emax && value >= emax)
        {
            return $"{path}: {Format(value)} must be less than {Format(emax)}";
        }
        if (Number(schema, "multipleOf") is { } step && step > 0 && Math.Abs(Math.IEEERemainder(value, step)) > 1e-9 * Math.Max(1, Math.Abs(value)))
        {
            return $"{path}: {Format(value)} is not a multiple of {Format(step)}";
        }
        return null;
    }

    private static string? CheckCombinators(JsonElement value, JsonElement schema, JsonElement root, string path, int depth)
    {
        if (schema.TryGetProperty("allOf", out var all) && all.ValueKind == JsonValueKind.Array)
        {
            foreach (var sub in all.EnumerateArray())
            {
                if (Check(value, sub, root, path, depth + 1) is { } error)
                {
                    return error;
                }
            }
        }
        if (schema.TryGetProperty("anyOf", out var any) && any.ValueKind == JsonValueKind.Array)
        {
            string? first = null;
            var matched = false;
            foreach (var sub in any.EnumerateArray())
            {
                var error = Check(value, sub, root, path, depth + 1);
                if (error is null)
                {
                    matched = true;
                    break;
                }
                first ??= error;
            }
            if (!matched)
            {
                return $"{path}: matches none of anyOf (first: {first})";
            }
        }
        if (schema.TryGetProperty("oneOf", out var one) && one.ValueKind == JsonValueKind.Array)
        {
            var count = one.EnumerateArray().Count(sub => Check(value, sub, root, path, depth + 1) is null);
            if (count != 1)
            {
                return $"{path}: matches {count} of oneOf, needs exactly 1";
            }
        }
        if (schema.TryGetProperty("not", out var not) && Check(value, not, root, path, depth + 1) is null)
        {
            return $"{path}: must not match the 'not' schema";
        }
        return null;
    }

    private static JsonElement? Resolve(JsonElement root, string reference)
    {
        if (reference == "#")
        {
            return root;
        }
        if (!reference.StartsWith("#/", StringComparison.Ordinal))
        {
            return null;
        }
        var current = root;
        foreach (var raw in reference[2..].Split('/'))
        {
            var segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
            {
                return null;
            }
        }
        return current;
    }

    private static bool MatchesType(JsonElement value, JsonElement type) => type.ValueKind switch
    {
        JsonValueKind.String => MatchesType(value, type.GetString()!),
        JsonValueKind.Array => type.EnumerateArray().Any(t => t.ValueKind == JsonValueKind.String && MatchesType(value, t.GetString()!)),
        _ => true,
    };

    private static bool MatchesType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && Math.Floor(d) == d,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    private static double? Number(JsonElement schema, string name) =>
        schema.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string DescribeType(JsonElement type) =>
        type.ValueKind == JsonValueKind.Array ? string.Join(" or ", type.EnumerateArray().Select(t => t.ToString())) : type.ToString();

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}

/// <summary>The outcome of <see cref="JsonSchemaValidator.Check(string, JsonElement?)"/>.</summary>
/// <param name="Problem">What is wrong and where; null when the JSON is valid (and conforms).</param>
/// <param name="Parsed">False when the text is not JSON at all.</param>
public readonly record struct JsonCheck(string? Problem, bool Parsed)
{
    /// <summary>The guardrail finding for a problem: <c>json.invalid</c> (not JSON) or <c>json.schema</c>.</summary>
    public string FindingName => Parsed ? "json.schema" : "json.invalid";
}
