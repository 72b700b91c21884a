using Keel.Core.Identity;
using System.Security.Cryptography;
using Keel.Core.Prompts;
using Keel.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Keel.Server.Apis;

/// <summary>
/// A/B/n experiments on a prompt label: create (the label's traffic is split from the next request
/// on), list, read with results per arm and the significance test, stop, delete.
/// </summary>
internal static class ExperimentsApi
{
    public static IEndpointRouteBuilder MapExperimentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/experiments");
        group.MapGet("/", ListAsync).Require(Permission.Read);
        group.MapPost("/", CreateAsync).Require(Permission.Write);
        group.MapGet("/{id}", GetAsync).Require(Permission.Read);
        group.MapPost("/{id}/stop", StopAsync).Require(Permission.Write);
        group.MapDelete("/{id}", DeleteAsync).Require(Permission.Write);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, IKeelStore store, CancellationToken cancellationToken)
    {
        var experiments = await store.Prompts.ListExperimentsAsync(PromptsApi.Caller(http).Project, cancellationToken);
        return TypedResults.Json(new DataList<Experiment>(experiments), PromptsJsonContext.Default.DataListExperiment);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, IKeelStore store, PromptRegistry registry, TimeProvider time, CancellationToken cancellationToken)
    {
        var (body, error) = await ControlPlaneBodies.ReadAsync(http.Request, PromptsJsonContext.Default.ExperimentRequest, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (string.IsNullOrEmpty(body!.Prompt))
        {
            return ErrorResults.BadRequest("Missing 'prompt': the name of the prompt whose label traffic is split.", "prompt");
        }

        var draft = new ExperimentDraft
        {
            Name = body.Name,
            Prompt = body.Prompt,
            Label = body.Label ?? PromptLabels.Production,
            PrimaryScore = body.PrimaryScore,
            Arms = [.. (body.Arms ?? []).Select((a, i) => new ExperimentArm
            {
                Name = a.Name ?? ((char)('a' + i)).ToString(),
                Version = a.Version ?? 0,
                Weight = a.Weight ?? 1,
            })],
        };

        var project = PromptsApi.Caller(http).Project;
        var prompt = await store.Prompts.GetAsync(project, draft.Prompt, cancellationToken);
        if (prompt is null)
        {
            return PromptsApi.NoPrompt(draft.Prompt);
        }

        var problems = ExperimentAssigner.Validate(draft, [.. prompt.Versions.Select(v => v.Version)]);
        if (problems.Count > 0)
        {
            return ControlPlaneBodies.Problems(problems);
        }

        Experiment experiment;
        try
        {
            experiment = await store.Prompts.CreateExperimentAsync(project, draft, NewId(), time.GetUtcNow(), cancellationToken);
        }
        catch (StoreException ex) when (ex.Code == "conflict")
        {
            return ControlPlaneBodies.Conflict(ex.Message);
        }

        await registry.ReloadProjectAsync(project, cancellationToken);
        return TypedResults.Json(experiment, PromptsJsonContext.Default.Experiment, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> GetAsync(HttpContext http, IKeelStore store, string id, CancellationToken cancellationToken)
    {
        var project = PromptsApi.Caller(http).Project;
        if (await store.Prompts.GetExperimentAsync(project, id, cancellationToken) is not { } experiment)
        {
            return NoExperiment(id);
        }

        var counts = await store.Prompts.CountExperimentAsync(project, id, cancellationToken);
        return TypedResults.Json(ExperimentAnalysis.Analyze(experiment, counts.Arms, counts.CostAvailable), PromptsJsonContext.Default.ExperimentReport);
    }

    private static async Task<IResult> StopAsync(HttpContext http, IKeelStore store, PromptRegistry registry, TimeProvider time, string id, CancellationToken cancellationToken)
    {
        var project = PromptsApi.Caller(http).Project;
        var experiment = await store.Prompts.StopExperimentAsync(project, id, time.GetUtcNow(), cancellationToken);
        if (experiment is null)
        {
            return NoExperiment(id);
        }

        await registry.ReloadProjectAsync(project, cancellationToken);
        return TypedResults.Json(experiment, PromptsJsonContext.Default.Experiment);
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, IKeelStore store, PromptRegistry registry, string id, CancellationToken cancellationToken)
    {
        var project = PromptsApi.Caller(http).Project;
        if (!await store.Prompts.DeleteExperimentAsync(project, id, cancellationToken))
        {
            return NoExperiment(id);
        }

        await registry.ReloadProjectAsync(project, cancellationToken);
        return TypedResults.NoContent();
    }

    private static string NewId() => "exp_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static IResult NoExperiment(string id) => PromptsApi.NotFound("experiment_not_found", $"There is no experiment with id '{id}'.");
}
