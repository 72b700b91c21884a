using System.Globalization;
using System.Text.Json;
using Keel.Core.Identity;
using Keel.Core.Pipeline;
using Keel.Core.Wire;

namespace Keel.Core.Prompts;

/// <summary>
/// Renders the registry prompt a chat request names (a "prompt" object, or the compact
/// "model": "prompt:NAME@LABEL") into the request: the prompt's messages go in front of the
/// request's own, its params fill the fields the request left out, and its model applies unless the
/// request names one. Runs after admission and before resolve, which then routes the model.
/// </summary>
internal sealed class PromptStage(PromptRegistry registry) : IGatewayStage
{
    /// <summary>Fallback headers naming the end user when the request has no "user" field.</summary>
    public const string UserHeader = "x-keel-user-id";
    public const string SessionHeader = "x-keel-session-id";

    public string Name => "prompt";

    public int Order => StageOrder.Prompt;

    public bool AppliesTo(GatewayContext context) => context.Chat is { NamesPrompt: true };

    public ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        if (context.Chat is not { NamesPrompt: true } chat)
        {
            return next(context);
        }

        if (Apply(context, chat) is { } error)
        {
            context.Fail(error);
            return ValueTask.CompletedTask;
        }

        return next(context);
    }

    private GatewayError? Apply(GatewayContext context, ChatCompletionRequest chat)
    {
        if (ReadReference(chat) is not { } reference)
        {
            return Invalid("The request names a prompt but not which: give prompt.name, or \"model\": \"prompt:NAME@LABEL\".", "prompt.name");
        }

        if (reference.Error is { } referenceError)
        {
            return referenceError;
        }

        var variables = chat.Prompt?.Variables;
        if (variables is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) })
        {
            return Invalid("'prompt.variables' must be an object of variable names to values.", "prompt.variables");
        }

        var project = ProjectScope.Of(context.Identity);
        if (registry.TryResolve(project, reference.Name, reference.Label, reference.Version, EndUserOf, context, out var resolved) is { } notFound)
        {
            return notFound;
        }

        var prompt = resolved.Prompt;
        var version = prompt.Version;
        if (!prompt.TryRender(variables, out var messages, out var renderError, out var field))
        {
            return new GatewayError(400, "invalid_request_error", "missing_prompt_variable",
                $"Prompt '{version.Name}' version {version.Version} needs the variable '{renderError!.Variable}' " +
                $"({field}, {renderError.Position}); pass it in prompt.variables. The prompt's variables: {string.Join(", ", prompt.Variables)}.",
                $"prompt.variables.{renderError.Variable}");
        }

        if (chat.Messages is { Count: > 0 } own)
        {
            messages.AddRange(own);
        }

        chat.Messages = messages;
        prompt.ApplyDefaults(chat);
        if (reference.FromModel || string.IsNullOrWhiteSpace(chat.Model))
        {
            chat.Model = version.Model;
        }

        if (string.IsNullOrWhiteSpace(chat.Model))
        {
            return Invalid($"Prompt '{version.Name}' version {version.Version} has no model and the request names none: add \"model\" to the request or to the prompt.", "model");
        }

        chat.Prompt = null;
        context.RequestModified = true;
        context.RequestedModel = chat.Model;
        context.PromptName = version.Name;
        context.PromptVersion = version.Version;
        context.ExperimentId = resolved.Experiment?.Id;
        context.ExperimentArm = resolved.Arm?.Name;
        context.CurrentSpan?
            .Set("keel.prompt.name", version.Name)
            .Set("keel.prompt.version", version.Version)
            .Set("keel.prompt.label", resolved.Label)
            .Set("gen_ai.request.model", chat.Model);
        if (resolved.Experiment is { } experiment)
        {
            context.CurrentSpan?.Set("keel.experiment.id", experiment.Id).Set("keel.experiment.arm", resolved.Arm!.Name);
        }

        return null;
    }

    /// <summary>The experiment unit: the request's user, the user or session header, else the request itself (no stickiness).</summary>
    internal static string EndUserOf(GatewayContext context) =>
        NonEmpty(context.Chat?.User) ?? NonEmpty(context.GetHeader(UserHeader)) ?? NonEmpty(context.GetHeader(SessionHeader)) ?? context.TraceId;

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private sealed record Reference(string Name, string? Label, int? Version, bool FromModel, GatewayError? Error = null);

    /// <summary>The prompt object and the compact model form, merged; they may not contradict each other.</summary>
    private static Reference? ReadReference(ChatCompletionRequest chat)
    {
        var body = chat.Prompt;
        string? name = body?.Name, label = body?.Label;
        int? version = body?.Version;
        var fromModel = false;
        if (chat.Model is { } model && model.StartsWith(PromptReference.ModelPrefix, StringComparison.Ordinal))
        {
            if (!TryParseModel(model, out var modelName, out var modelLabel, out var modelVersion))
            {
                return new Reference("", null, null, true, Invalid(
                    $"Invalid prompt reference '{model}': write prompt:NAME, prompt:NAME@LABEL or prompt:NAME@VERSION.", "model"));
            }

            if ((name is not null && name != modelName) || (modelLabel is not null && label is not null && label != modelLabel) ||
                (modelVersion is not null && version is not null && version != modelVersion))
            {
                return new Reference("", null, null, true, Invalid(
                    $"'model' ({model}) and 'prompt' name different prompts or versions; give the reference once.", "prompt"));
            }

            name = modelName;
            label ??= modelLabel;
            version ??= modelVersion;
            fromModel = true;
        }

        if (name is null)
        {
            return null;
        }

        if (label is not null && version is not null)
        {
            return new Reference(name, null, null, fromModel, Invalid("Give a prompt label or a version, not both.", "prompt.version"));
        }

        if (label is not null && label != PromptLabels.Latest && !PromptValidator.IsValidLabel(label))
        {
            return new Reference(name, null, null, fromModel, Invalid($"Invalid prompt label '{label}': {PromptValidator.LabelRule}.", "prompt.label"));
        }

        if (version is < 1)
        {
            return new Reference(name, null, null, fromModel, Invalid("'prompt.version' must be 1 or more.", "prompt.version"));
        }

        return new Reference(name, label, version, fromModel);
    }

    /// <summary>"prompt:NAME", "prompt:NAME@LABEL" or "prompt:NAME@VERSION".</summary>
    internal static bool TryParseModel(string model, out string name, out string? label, out int? version)
    {
        var reference = model.AsSpan(PromptReference.ModelPrefix.Length);
        var at = reference.LastIndexOf('@');
        var namePart = at < 0 ? reference : reference[..at];
        name = namePart.ToString();
        label = null;
        version = null;
        if (!PromptValidator.IsValidName(name))
        {
            return false;
        }

        if (at < 0)
        {
            return true;
        }

        var selector = reference[(at + 1)..];
        if (int.TryParse(selector, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            version = number;
            return number >= 1;
        }

        label = selector.ToString();
        return label == PromptLabels.Latest || PromptValidator.IsValidLabel(label);
    }

    private static GatewayError Invalid(string message, string param) =>
        GatewayError.InvalidRequest(message, param, "invalid_prompt_reference");
}
