using System.Text.Json;
using System.Text.Json.Serialization;
using Keel.Core.Pipeline;
using Keel.Core.Prompts;
using Microsoft.AspNetCore.Http;

namespace Keel.Server.Apis;

/// <summary>POST /api/prompts: a new version (the push file's fields, as JSON).</summary>
internal sealed record PushRequest
{
    public string? Name { get; init; }
    /// <summary>text or chat; inferred from messages / template when left out.</summary>
    public string? Type { get; init; }
    public string? Template { get; init; }
    public List<PromptMessage>? Messages { get; init; }
    public string? Model { get; init; }
    public JsonElement? Params { get; init; }
    public List<string>? Labels { get; init; }
    public string? Message { get; init; }
    public string? Author { get; init; }
}

internal sealed record PushResponse(bool Created, PromptVersion Version, IReadOnlyList<LabelMove> LabelMoves);

internal sealed record LabelRequest(int? Version);

internal sealed record RenderRequest
{
    public string? Label { get; init; }
    public int? Version { get; init; }
    public JsonElement? Variables { get; init; }
}

internal sealed record RenderedMessage(string Role, string Content);

internal sealed record RenderResponse(string Name, int Version, string? Label, string? Model, IReadOnlyList<RenderedMessage> Messages, JsonElement? Params);

internal sealed record ArmRequest
{
    public string? Name { get; init; }
    public int? Version { get; init; }
    public double? Weight { get; init; }
}

internal sealed record ExperimentRequest
{
    public string? Name { get; init; }
    public string? Prompt { get; init; }
    public string? Label { get; init; }
    public List<ArmRequest>? Arms { get; init; }
    public string? PrimaryScore { get; init; }
}

internal sealed record DataList<T>(IReadOnlyList<T> Data);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = false,
    ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(PushRequest))]
[JsonSerializable(typeof(PushResponse))]
[JsonSerializable(typeof(LabelRequest))]
[JsonSerializable(typeof(RenderRequest))]
[JsonSerializable(typeof(RenderResponse))]
[JsonSerializable(typeof(ExperimentRequest))]
[JsonSerializable(typeof(DataList<PromptSummary>))]
[JsonSerializable(typeof(DataList<LabelMove>))]
[JsonSerializable(typeof(DataList<Experiment>))]
[JsonSerializable(typeof(PromptDetails))]
[JsonSerializable(typeof(PromptVersion))]
[JsonSerializable(typeof(LabelMove))]
[JsonSerializable(typeof(PromptDiffResult))]
[JsonSerializable(typeof(Experiment))]
[JsonSerializable(typeof(ExperimentReport))]
internal sealed partial class PromptsJsonContext : JsonSerializerContext;

/// <summary>What the prompt and experiment APIs share: reading a JSON body with clear errors, and turning problems into one 400.</summary>
internal static class ControlPlaneBodies
{
    /// <summary>The body as <typeparamref name="T"/>, or a 400 that says where the JSON is wrong.</summary>
    public static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, type, cancellationToken);
            return value is null
                ? (null, ErrorResults.BadRequest("The request body must be a JSON object.", null))
                : (value, null);
        }
        catch (JsonException ex)
        {
            var param = ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
            var where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : "";
            return (null, ErrorResults.BadRequest(param is null ? $"The request body is not valid JSON{where}." : $"Invalid type for '{param}'{where}.", param));
        }
    }

    /// <summary>Every problem in one 400: the first names the param; a template problem says where in the template.</summary>
    public static IResult Problems(IReadOnlyList<PromptProblem> problems)
    {
        var code = problems.Any(p => p.Position is not null) ? "invalid_template" : "invalid_value";
        var message = string.Join("; ", problems.Select(p => p.Position is { } position ? $"{p.Field}: {p.Message} at {position}" : $"{p.Field}: {p.Message}"));
        return new GatewayErrorResult(GatewayError.InvalidRequest(message, problems[0].Field, code));
    }

    public static IResult Conflict(string message) => new GatewayErrorResult(new GatewayError(409, "invalid_request_error", "conflict", message));
}
