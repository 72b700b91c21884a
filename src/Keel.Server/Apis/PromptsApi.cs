using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using System.Globalization;
using Keel.Core.Identity;
using Keel.Core.Pipeline;
using Keel.Core.Prompts;
using Keel.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>
/// The prompt registry's control plane: push versions, read them, move labels (promote, rollback,
/// remove, history), diff two versions, render without calling a model. Every write reloads the
/// project's prompts in the gateway's memory before it answers, so the next request sees it.
/// </summary>
internal static class PromptsApi
{
    public static IEndpointRouteBuilder MapPromptsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/prompts");
        group.MapGet("/", ListAsync).Require(Permission.Read);
        group.MapPost("/", PushAsync).Require(Permission.Write);
        group.MapGet("/{name}", GetAsync).Require(Permission.Read);
        group.MapDelete("/{name}", DeleteAsync).Require(Permission.Write);
        group.MapGet("/{name}/versions/{version:int}", GetVersionAsync).Require(Permission.Read);
        group.MapGet("/{name}/labels/{label}", GetLabelledAsync).Require(Permission.Read);
        group.MapPut("/{name}/labels/{label}", PromoteAsync).Require(Permission.Write);
        group.MapDelete("/{name}/labels/{label}", RemoveLabelAsync).Require(Permission.Write);
        group.MapPost("/{name}/labels/{label}/rollback", RollbackAsync).Require(Permission.Write);
        group.MapGet("/{name}/labels/{label}/history", HistoryAsync).Require(Permission.Read);
        group.MapGet("/{name}/diff", DiffAsync).Require(Permission.Read);
        group.MapPost("/{name}/render", RenderAsync).Require(Permission.Read);
        return app;
    }

    /// <summary>Records a change in the audit log (who, what, when, before and after).</summary>
    internal static Task AuditAsync(HttpContext http, IKeelStore store, TimeProvider time, string project, string action, string target, string? before, string? after, CancellationToken cancellationToken)
    {
        return store.Access.AppendAuditAsync(AuditEntry.By(http.Caller(), time.GetUtcNow(), action, "prompt", target, project, before, after), cancellationToken);
    }

    private static Task AuditMoveAsync(HttpContext http, IKeelStore store, TimeProvider time, string project, string action, LabelMove move, CancellationToken cancellationToken) =>
        AuditAsync(http, store, time, project, action, move.Name,
            move.FromVersion is { } from ? $$"""{"label":{{JsonSerializer.Serialize(move.Label)}},"version":{{from}}}""" : null,
            move.ToVersion is { } to ? $$"""{"label":{{JsonSerializer.Serialize(move.Label)}},"version":{{to}}}""" : null,
            cancellationToken);

    /// <summary>The caller's project and key id.</summary>
    internal static (string Project, string? Actor) Caller(HttpContext http)
    {
        // A non-admin works in its own project whatever it asks for; an admin in ?project= (default: "default").
        var identity = http.Caller();
        var requested = http.Request.Query["project"].ToString();
        return (identity.Role == Roles.Admin && requested.Length > 0 ? requested : ProjectScope.Of(identity), identity.KeyId);
    }

    private static async Task<IResult> ListAsync(HttpContext http, IKeelStore store, CancellationToken cancellationToken)
    {
        var prompts = await store.Prompts.ListAsync(Caller(http).Project, cancellationToken);
        return TypedResults.Json(new DataList<PromptSummary>(prompts), PromptsJsonContext.Default.DataListPromptSummary);
    }

    private static async Task<IResult> PushAsync(HttpContext http, IKeelStore store, PromptRegistry registry, TimeProvider time, CancellationToken cancellationToken)
    {
        var (body, error) = await ControlPlaneBodies.ReadAsync(http.Request, PromptsJsonContext.Default.PushRequest, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var draft = new PromptDraft
        {
            Name = body!.Name ?? "",
            Type = body.Type ?? (body.Messages is not null ? PromptTypes.Chat : PromptTypes.Text),
            Template = body.Template,
            Messages = body.Messages,
            Model = body.Model,
            Params = body.Params,
            Labels = body.Labels ?? [],
            Message = body.Message,
            Author = body.Author,
        };
        var problems = PromptValidator.Validate(draft);
        if (problems.Count > 0)
        {
            return ControlPlaneBodies.Problems(problems);
        }

        var (project, actor) = Caller(http);
        var result = await store.Prompts.PushAsync(project, draft, actor, time.GetUtcNow(), cancellationToken);
        await registry.ReloadProjectAsync(project, cancellationToken);
        if (result.Created || result.LabelMoves.Count > 0)
        {
            await AuditAsync(http, store, time, project, "prompt.push", result.Version.Name, null,
                $$"""{"version":{{result.Version.Version}},"created":{{(result.Created ? "true" : "false")}},"labels":[{{string.Join(",", result.LabelMoves.Select(m => JsonSerializer.Serialize(m.Label)))}}]}""", cancellationToken);
        }
        return TypedResults.Json(
            new PushResponse(result.Created, WithVariables(result.Version), result.LabelMoves),
            PromptsJsonContext.Default.PushResponse,
            statusCode: result.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<IResult> GetAsync(HttpContext http, IKeelStore store, string name, CancellationToken cancellationToken)
    {
        var prompt = await store.Prompts.GetAsync(Caller(http).Project, name, cancellationToken);
        return prompt is null ? NoPrompt(name) : TypedResults.Json(prompt, PromptsJsonContext.Default.PromptDetails);
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, IKeelStore store, PromptRegistry registry, string name, CancellationToken cancellationToken)
    {
        var project = Caller(http).Project;
        if (!await store.Prompts.DeleteAsync(project, name, cancellationToken))
        {
            return NoPrompt(name);
        }

        await AuditAsync(http, store, http.RequestServices.GetRequiredService<TimeProvider>(), project, "prompt.delete", name, $$"""{"name":{{JsonSerializer.Serialize(name)}}}""", null, cancellationToken);

        await registry.ReloadProjectAsync(project, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> GetVersionAsync(HttpContext http, IKeelStore store, string name, int version, CancellationToken cancellationToken)
    {
        var found = await store.Prompts.GetVersionAsync(Caller(http).Project, name, version, cancellationToken);
        return found is null ? await NoVersionAsync(http, store, name, version, cancellationToken) : TypedResults.Json(WithVariables(found), PromptsJsonContext.Default.PromptVersion);
    }

    private static async Task<IResult> GetLabelledAsync(HttpContext http, IKeelStore store, string name, string label, CancellationToken cancellationToken)
    {
        var (version, error) = await ResolveAsync(http, store, name, label, cancellationToken);
        return error ?? TypedResults.Json(WithVariables(version!), PromptsJsonContext.Default.PromptVersion);
    }

    private static async Task<IResult> PromoteAsync(HttpContext http, IKeelStore store, PromptRegistry registry, TimeProvider time, string name, string label, CancellationToken cancellationToken)
    {
        if (LabelProblem(label) is { } invalid)
        {
            return invalid;
        }

        var (body, error) = await ControlPlaneBodies.ReadAsync(http.Request, PromptsJsonContext.Default.LabelRequest, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (body!.Version is not { } version)
        {
            return ErrorResults.BadRequest("Missing 'version': the version the label should point at, e.g. {\"version\": 3}.", "version");
        }

        var (project, actor) = Caller(http);
        var move = await store.Prompts.SetLabelAsync(project, name, label, version, LabelActions.Promote, actor, time.GetUtcNow(), cancellationToken);
        if (move is null)
        {
            return await NoVersionAsync(http, store, name, version, cancellationToken);
        }

        await registry.ReloadProjectAsync(project, cancellationToken);
        await AuditMoveAsync(http, store, time, project, "prompt.promote", move, cancellationToken);
        return TypedResults.Json(move, PromptsJsonContext.Default.LabelMove);
    }

    private static async Task<IResult> RemoveLabelAsync(HttpContext http, IKeelStore store, PromptRegistry registry, TimeProvider time, string name, string label, CancellationToken cancellationToken)
    {
        var (project, actor) = Caller(http);
        if (!await store.Prompts.RemoveLabelAsync(project, name, label, actor, time.GetUtcNow(), cancellationToken))
        {
            return await NoLabelAsync(http, store, name, label, cancellationToken);
        }

        await registry.ReloadProjectAsync(project, cancellationToken);
        await AuditAsync(http, store, time, project, "prompt.label.remove", name, $$"""{"label":{{JsonSerializer.Serialize(label)}}}""", null, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> RollbackAsync(HttpContext http, IKeelStore store, PromptRegistry registry, TimeProvider time, string name, string label, CancellationToken cancellationToken)
    {
        var (project, actor) = Caller(http);
        var move = await store.Prompts.RollbackLabelAsync(project, name, label, actor, time.GetUtcNow(), cancellationToken);
        if (move is null)
        {
            return await NoLabelAsync(http, store, name, label, cancellationToken);
        }

        if (move.ToVersion is null)
        {
            return ControlPlaneBodies.Conflict($"Label '{label}' of prompt '{name}' has no earlier version to go back to (it is at version {move.FromVersion}).");
        }

        await registry.ReloadProjectAsync(project, cancellationToken);
        await AuditMoveAsync(http, store, time, project, "prompt.rollback", move, cancellationToken);
        return TypedResults.Json(move, PromptsJsonContext.Default.LabelMove);
    }

    private static async Task<IResult> HistoryAsync(HttpContext http, IKeelStore store, string name, string label, CancellationToken cancellationToken)
    {
        var project = Caller(http).Project;
        if (await store.Prompts.GetAsync(project, name, cancellationToken) is null)
        {
            return NoPrompt(name);
        }

        var history = await store.Prompts.GetLabelHistoryAsync(project, name, label, cancellationToken);
        return TypedResults.Json(new DataList<LabelMove>(history), PromptsJsonContext.Default.DataListLabelMove);
    }

    private static async Task<IResult> DiffAsync(HttpContext http, IKeelStore store, string name, string? from, string? to, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(from) || string.IsNullOrEmpty(to))
        {
            return ErrorResults.BadRequest("Give both 'from' and 'to': version numbers (3 or v3) or labels, e.g. ?from=3&to=5.", string.IsNullOrEmpty(from) ? "from" : "to");
        }

        var (older, error) = await ResolveAsync(http, store, name, from, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var (newer, newerError) = await ResolveAsync(http, store, name, to, cancellationToken);
        return newerError ?? TypedResults.Json(PromptDiff.Compare(older!, newer!), PromptsJsonContext.Default.PromptDiffResult);
    }

    private static async Task<IResult> RenderAsync(HttpContext http, IKeelStore store, string name, CancellationToken cancellationToken)
    {
        var (body, error) = await ControlPlaneBodies.ReadAsync(http.Request, PromptsJsonContext.Default.RenderRequest, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var selector = body!.Version is { } v ? v.ToString(CultureInfo.InvariantCulture) : body.Label ?? PromptLabels.Production;
        var (version, notFound) = await ResolveAsync(http, store, name, selector, cancellationToken);
        if (notFound is not null)
        {
            return notFound;
        }

        if (body.Variables is { ValueKind: not (System.Text.Json.JsonValueKind.Object or System.Text.Json.JsonValueKind.Null) })
        {
            return ErrorResults.BadRequest("'variables' must be an object of variable names to values.", "variables");
        }

        var prompt = CompiledPrompt.Compile(version!);
        if (!prompt.TryRender(body.Variables, out var messages, out var renderError, out var field))
        {
            return new GatewayErrorResult(new GatewayError(400, "invalid_request_error", "missing_prompt_variable",
                $"Prompt '{name}' version {version!.Version} needs the variable '{renderError!.Variable}' ({field}, {renderError.Position}).",
                $"variables.{renderError.Variable}"));
        }

        return TypedResults.Json(
            new RenderResponse(name, version!.Version, body.Version is null ? selector : null, version.Model,
                [.. messages.Select(m => new RenderedMessage(m.Role!, m.Content!.GetText()))], version.Params),
            PromptsJsonContext.Default.RenderResponse);
    }

    /// <summary>A version by number ("3", "v3"), by label, or "latest"; otherwise a 404 that lists what exists.</summary>
    internal static async Task<(PromptVersion? Version, IResult? Error)> ResolveAsync(HttpContext http, IKeelStore store, string name, string selector, CancellationToken cancellationToken)
    {
        var project = Caller(http).Project;
        var prompt = await store.Prompts.GetAsync(project, name, cancellationToken);
        if (prompt is null)
        {
            return (null, NoPrompt(name));
        }

        int number;
        var digits = selector.StartsWith('v') ? selector[1..] : selector;
        if (int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            number = parsed;
        }
        else if (selector == PromptLabels.Latest)
        {
            number = prompt.Versions[0].Version;
        }
        else if (!prompt.Labels.TryGetValue(selector, out number))
        {
            return (null, NoLabel(prompt, selector));
        }

        var version = await store.Prompts.GetVersionAsync(project, name, number, cancellationToken);
        return version is null ? (null, NoVersion(prompt, number)) : (version, null);
    }

    private static PromptVersion WithVariables(PromptVersion version) =>
        version with { Variables = CompiledPrompt.Compile(version).Variables };

    private static IResult? LabelProblem(string label) =>
        label == PromptLabels.Latest
            ? ErrorResults.BadRequest("'latest' is implicit (always the newest version) and cannot be set.", "label")
            : PromptValidator.IsValidLabel(label) ? null : ErrorResults.BadRequest($"Invalid label '{label}': {PromptValidator.LabelRule}.", "label");

    internal static IResult NotFound(string code, string message) =>
        new GatewayErrorResult(new GatewayError(404, "invalid_request_error", code, message));

    internal static IResult NoPrompt(string name) =>
        NotFound("prompt_not_found", $"There is no prompt named '{name}'. Push it first (keel prompt push FILE, or POST /api/prompts).");

    private static IResult NoVersion(PromptDetails prompt, int version) =>
        NotFound("prompt_version_not_found", $"Prompt '{prompt.Name}' has no version {version}; its versions are 1 to {prompt.Versions[0].Version}.");

    private static IResult NoLabel(PromptDetails prompt, string label) =>
        NotFound("prompt_label_not_found", $"Prompt '{prompt.Name}' has no label '{label}'; its labels are: {string.Join(", ", prompt.Labels.Keys.Order(StringComparer.Ordinal).Append(PromptLabels.Latest))}.");

    private static async Task<IResult> NoVersionAsync(HttpContext http, IKeelStore store, string name, int version, CancellationToken cancellationToken) =>
        await store.Prompts.GetAsync(Caller(http).Project, name, cancellationToken) is { } prompt ? NoVersion(prompt, version) : NoPrompt(name);

    private static async Task<IResult> NoLabelAsync(HttpContext http, IKeelStore store, string name, string label, CancellationToken cancellationToken) =>
        await store.Prompts.GetAsync(Caller(http).Project, name, cancellationToken) is { } prompt ? NoLabel(prompt, label) : NoPrompt(name);
}
