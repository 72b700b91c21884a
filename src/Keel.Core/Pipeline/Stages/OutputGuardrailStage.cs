using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Keel.Core.Guardrails;
using Keel.Core.Guardrails.Output;
using Keel.Core.Wire;

namespace Keel.Core.Pipeline.Stages;

/// <summary>
/// Checks the model's answer with the output side of the model's guardrail policy (scanners, JSON validity and
/// schema when the request asked for JSON, maximum length) and puts back the values an input guardrail replaced
/// with placeholders. A complete answer is checked whole; an answer that does not parse as the JSON the request
/// asked for is sent back to the model with the problem (<c>json.repairs</c> times) before the policy's action
/// applies. A stream is checked as it flows through a <see cref="StreamGuard"/> with a hold-back window; a block
/// mid-stream ends it with an SSE error event.
/// </summary>
internal sealed class OutputGuardrailStage(Telemetry.KeelMetrics metrics) : IGatewayStage
{
    private static readonly JsonSerializerOptions ChunkJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Name => "output_guardrails";

    public int Order => StageOrder.OutputGuardrails;

    public bool AppliesTo(GatewayContext context) =>
        context.Chat is not null && context.Route is { } route && context.Snapshot.Guardrails.For(route.Config) is { } policy
        && (policy.ChecksOutput || GuardrailRequestState.Find(context) is { Placeholders.IsEmpty: false });

    public async ValueTask InvokeAsync(GatewayContext context, GatewayStageDelegate next)
    {
        // AppliesTo guaranteed a chat request whose policy checks the answer or has placeholders to restore.
        var chat = context.Chat!;
        var policy = context.Snapshot.Guardrails.For(context.Route!.Config)!;
        var state = GuardrailRequestState.Get(context, policy);
        var placeholders = state.Placeholders.IsEmpty ? null : state.Placeholders;

        var jsonWanted = policy.Config.Json is not null && chat.ResponseFormat?.Type is "json_object" or "json_schema";
        var schema = jsonWanted && chat.ResponseFormat!.JsonSchema is { ValueKind: JsonValueKind.Object } js && js.TryGetProperty("schema", out var s) ? s : (JsonElement?)null;
        var repairsLeft = jsonWanted ? policy.Config.Json!.Repairs : 0;
        var span = context.CurrentSpan;
        var findings = new List<GuardrailFinding>();
        var repairs = 0;
        while (true)
        {
            await next(context);
            if (context.Error is not null)
            {
                return;
            }

            if (context.Response is StreamingResponse stream)
            {
                span?.Set("keel.guardrails.stream_hold_back", policy.Config.StreamHoldBack);
                if (span is not null)
                {
                    span.EndsLater = true;
                }
                context.Response = new StreamingResponse
                {
                    StatusCode = stream.StatusCode,
                    Chunks = GuardStreamAsync(stream.Chunks, context, policy, placeholders, jsonWanted ? schema ?? default : null, jsonWanted, span),
                };
                return;
            }

            if (context.Response is not JsonBodyResponse body)
            {
                return;
            }

            var outcome = CheckBody(body, policy, placeholders, jsonWanted, schema, findings);
            if (outcome.Json?.Problem is { } problem && repairsLeft > 0)
            {
                repairsLeft--;
                repairs++;
                span?.Set("keel.guardrails.repairs", repairs);
                AskForRepair(context, chat, outcome.Answer ?? "", problem);
                findings.Clear();
                continue;
            }

            if (outcome.Json is { Problem: not null } json)
            {
                findings.Add(new GuardrailFinding(new Finding(json.FindingName, 0, 0, 1.0), policy.Config.Json!.Action));
            }
            var blocking = findings.FirstOrDefault(static f => f.Action == GuardrailAction.Block);
            GuardrailSpans.Describe(span, policy, findings, blocked: blocking.Scanner is not null, metrics);
            if (blocking.Scanner is not null)
            {
                context.Response = null;
                context.Fail(GuardrailSpans.Blocked(policy, blocking.Scanner, null, "answer"));
                return;
            }
            if (outcome.Body is { } rewritten)
            {
                context.Response = new JsonBodyResponse { StatusCode = body.StatusCode, Body = rewritten, Usage = body.Usage };
            }
            return;
        }
    }

    private readonly record struct BodyOutcome(byte[]? Body, string? Answer, JsonCheck? Json);

    /// <summary>Scans, redacts and restores each choice's message content; says whether the first answer is the JSON asked for.</summary>
    private static BodyOutcome CheckBody(
        JsonBodyResponse response, CompiledGuardrailPolicy policy, PlaceholderMap? placeholders, bool jsonWanted, JsonElement? schema, List<GuardrailFinding> findings)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(response.Body.Span);
        }
        catch (JsonException)
        {
            return default; // not a chat completion Keel can read; the call stage already vouched for its shape
        }
        if (root?["choices"] is not JsonArray choices)
        {
            return default;
        }

        var changed = false;
        string? firstAnswer = null;
        JsonCheck? json = null;
        foreach (var choice in choices)
        {
            if (choice?["message"] is not JsonObject message || message["content"] is not JsonValue contentNode
                || !contentNode.TryGetValue<string>(out var content))
            {
                continue;
            }
            if (firstAnswer is null)
            {
                firstAnswer = content;
                json = jsonWanted ? JsonSchemaValidator.Check(content, schema) : null;
            }
            var text = content;
            if (policy.Output is { } engine)
            {
                var verdict = engine.Evaluate(text);
                findings.AddRange(verdict.Findings);
                text = verdict.Text;
            }
            if (policy.Config.MaxLength is { } max && text.Length > max.Chars)
            {
                findings.Add(new GuardrailFinding(new Finding("max_length.exceeded", max.Chars, text.Length, 1.0), max.Action));
            }
            if (placeholders is not null)
            {
                text = placeholders.Restore(text);
            }
            if (!ReferenceEquals(text, content) && text != content)
            {
                message["content"] = text;
                changed = true;
            }
        }
        return new BodyOutcome(changed ? Serialize(root) : null, firstAnswer, json);
    }

    private static byte[] Serialize(JsonNode root) => JsonSerializer.SerializeToUtf8Bytes(root, ChunkJson);

    /// <summary>Appends the bad answer and what is wrong with it, and asks again.</summary>
    private static void AskForRepair(GatewayContext context, ChatCompletionRequest chat, string answer, string problem)
    {
        chat.Messages ??= [];
        chat.Messages.Add(new ChatMessage { Role = "assistant", Content = new MessageContent(answer) });
        chat.Messages.Add(new ChatMessage
        {
            Role = "user",
            Content = new MessageContent($"Your previous answer is not the JSON that was asked for ({problem}). Reply again with only the corrected JSON, no other text."),
        });
        context.RequestModified = true;
        context.Response = null;
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> GuardStreamAsync(
        IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, GatewayContext context, CompiledGuardrailPolicy policy, PlaceholderMap? placeholders,
        JsonElement? schema, bool jsonWanted, Span? span, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var guards = new Dictionary<int, StreamGuard>();
        var flushed = new HashSet<int>();
        JsonObject? template = null;
        var blocked = false;
        try
        {
            await foreach (var chunk in chunks.WithCancellation(cancellationToken))
            {
                JsonNode? root;
                try
                {
                    root = JsonNode.Parse(chunk.Span);
                }
                catch (JsonException)
                {
                    root = null;
                }
                if (root?["choices"] is not JsonArray { Count: > 0 } choices)
                {
                    yield return chunk; // usage-only chunks and anything Keel cannot read pass as they are
                    continue;
                }
                template ??= (JsonObject)root.DeepClone();
                var changed = false;
                foreach (var choice in choices)
                {
                    if (choice is not JsonObject c)
                    {
                        continue;
                    }
                    var index = c["index"] is JsonValue iv && iv.TryGetValue<int>(out var ix) ? ix : 0;
                    var guard = guards.TryGetValue(index, out var g) ? g : guards[index] = new StreamGuard(policy.Output, placeholders, policy.Config.StreamHoldBack);
                    var step = new StreamGuardStep("", null);
                    string? piece = null;
                    var hasContent = c["delta"] is JsonObject delta && delta["content"] is JsonValue cv && cv.TryGetValue(out piece);
                    if (hasContent)
                    {
                        step = guard.Push(piece!);
                    }
                    var finishing = c["finish_reason"] is JsonValue fv && fv.GetValueKind() == JsonValueKind.String;
                    if (step.BlockedBy is null && finishing && flushed.Add(index))
                    {
                        var rest = guard.Flush();
                        step = new StreamGuardStep(step.Text + rest.Text, rest.BlockedBy);
                    }
                    if (step.BlockedBy is { } block)
                    {
                        blocked = true;
                        throw new UpstreamStreamException(GuardrailSpans.Blocked(policy, block.Scanner, null, "answer"));
                    }
                    if (LengthExceeded(policy, guard) is { } over)
                    {
                        blocked = true;
                        throw new UpstreamStreamException(GuardrailSpans.Blocked(policy, over, null, "answer"));
                    }
                    if (hasContent || step.Text.Length > 0)
                    {
                        ((JsonObject)(c["delta"] ??= new JsonObject()))["content"] = step.Text;
                        changed = true;
                    }
                }
                yield return changed ? Serialize(root) : chunk;
            }

            // A stream that ended without a finish_reason still owes the client what was held back.
            foreach (var (index, guard) in guards)
            {
                if (flushed.Contains(index))
                {
                    continue;
                }
                var rest = guard.Flush();
                if (rest.BlockedBy is { } block)
                {
                    blocked = true;
                    throw new UpstreamStreamException(GuardrailSpans.Blocked(policy, block.Scanner, null, "answer"));
                }
                if (rest.Text.Length > 0 && template is not null)
                {
                    var extra = (JsonObject)template.DeepClone();
                    extra["choices"] = new JsonArray(new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["content"] = rest.Text }, ["finish_reason"] = null });
                    yield return Serialize(extra);
                }
            }
        }
        finally
        {
            var findings = guards.Values.SelectMany(static g => g.Findings).ToList();
            if (!blocked && jsonWanted && guards.TryGetValue(0, out var first) && JsonSchemaValidator.Check(first.RawText, schema) is { Problem: not null } check)
            {
                // A stream cannot be taken back or repaired: a JSON problem is recorded, not acted on.
                findings.Add(new GuardrailFinding(new Finding(check.FindingName, 0, 0, 1.0), GuardrailAction.Flag));
            }
            if (!blocked && policy.Config.MaxLength is { Action: GuardrailAction.Flag } max && guards.Values.Any(g => g.Length > max.Chars))
            {
                findings.Add(new GuardrailFinding(new Finding("max_length.exceeded", max.Chars, max.Chars, 1.0), GuardrailAction.Flag));
            }
            GuardrailSpans.Describe(span, policy, findings, blocked, metrics);
            span?.End();
        }
    }

    private static string? LengthExceeded(CompiledGuardrailPolicy policy, StreamGuard guard) =>
        policy.Config.MaxLength is { Action: GuardrailAction.Block } max && guard.Length > max.Chars ? "max_length.exceeded" : null;
}
