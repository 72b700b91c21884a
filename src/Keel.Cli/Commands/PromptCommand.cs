using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Keel.Core.Prompts;
using Keel.Server.Apis;

namespace Keel.Cli.Commands;

/// <summary>
/// keel prompt push | pull | list | show | promote | rollback | diff: clients of a running Keel's
/// /api/prompts, so prompts can live in Git and be pushed by CI.
/// </summary>
internal static class PromptCommand
{
    public static Command Create()
    {
        var options = new ClientOptions();
        var command = new Command("prompt", "Manage prompts in a running Keel: versions, labels, rollback, diff.")
        {
            Push(options), Pull(options), List(options), Show(options), Promote(options), Rollback(options), Diff(options),
        };
        options.AddTo(command);
        return command;
    }

    private static Command Push(ClientOptions options)
    {
        var file = new Argument<string>("file") { Description = "The prompt file (YAML): name, type, messages or template, model, params, labels, message." };
        var label = new Option<string[]>("--label", "-l") { Description = "Also point this label at the pushed version (repeatable).", AllowMultipleArgumentsPerToken = false };
        var command = new Command("push", "Create a version from a prompt file (an identical push creates nothing) and move its labels.") { file, label };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var path = parse.GetValue(file)!;
            var loaded = PromptFile.Load(path);
            if (!loaded.Success)
            {
                foreach (var error in loaded.Errors)
                {
                    await Console.Error.WriteLineAsync($"error: {error}");
                }

                await Console.Error.WriteLineAsync($"{loaded.Errors.Count} error(s) in {path}.");
                return 1;
            }

            var draft = loaded.Draft!;
            var labels = draft.Labels.Concat(parse.GetValue(label) ?? []).Distinct(StringComparer.Ordinal).ToList();
            var result = await client.PostAsync("/api/prompts", ToJson(draft with { Labels = labels }), cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(result);
                return 0;
            }

            var version = (int)result["version"]!["version"]!;
            Console.WriteLine((bool)result["created"]!
                ? $"{draft.Name}: created version {version}"
                : $"{draft.Name}: unchanged (version {version} has the same content)");
            foreach (var move in result["label_moves"]!.AsArray())
            {
                Console.WriteLine($"  {move!["label"]}: {Describe((int?)move["from_version"])} -> {move["to_version"]}");
            }

            return 0;
        }));
        return command;
    }

    private static Command Pull(ClientOptions options)
    {
        var name = new Argument<string>("name") { Description = "The prompt's name." };
        var (label, version) = Selector();
        var output = new Option<string?>("--output", "-o") { Description = "Write the prompt file here instead of printing it." };
        var command = new Command("pull", "Print (or write) a version as a prompt file, ready to edit and push back.") { name, label, version, output };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var found = await client.GetAsync(SelectorPath(parse.GetValue(name)!, parse.GetValue(label), parse.GetValue(version)), cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(found);
                return 0;
            }

            var text = PromptFile.Write(found.Deserialize(PromptsJsonContext.Default.PromptVersion)!);
            if (parse.GetValue(output) is { } path)
            {
                await File.WriteAllTextAsync(path, text, cancellationToken);
                Console.WriteLine($"{parse.GetValue(name)}: version {found["version"]} written to {path}");
            }
            else
            {
                Console.Write(text);
            }

            return 0;
        }));
        return command;
    }

    private static Command List(ClientOptions options)
    {
        var command = new Command("list", "List the prompts: newest version, labels, last change.");
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var list = await client.GetAsync("/api/prompts", cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(list);
                return 0;
            }

            Table.Print(["NAME", "TYPE", "LATEST", "LABELS", "UPDATED"], list["data"]!.AsArray().Select(p => (IReadOnlyList<string>)
            [
                (string)p!["name"]!, (string)p["type"]!, p["latest_version"]!.ToString(), Labels(p["labels"]!.AsObject()), Time(p["updated_at"]),
            ]));
            return 0;
        }));
        return command;
    }

    private static Command Show(ClientOptions options)
    {
        var name = new Argument<string>("name") { Description = "The prompt's name." };
        var command = new Command("show", "Show a prompt's labels and versions.") { name };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var prompt = await client.GetAsync($"/api/prompts/{KeelClient.Segment(parse.GetValue(name)!)}", cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(prompt);
                return 0;
            }

            Console.WriteLine($"{prompt["name"]} ({prompt["type"]})  labels: {Labels(prompt["labels"]!.AsObject())}");
            Console.WriteLine();
            Table.Print(["VERSION", "CREATED", "AUTHOR", "LABELS", "MESSAGE"], prompt["versions"]!.AsArray().Select(v => (IReadOnlyList<string>)
            [
                v!["version"]!.ToString(), Time(v["created_at"]), (string?)v["author"] ?? "", string.Join(",", v["labels"]!.AsArray().Select(l => (string)l!)),
                (string?)v["message"] ?? "",
            ]));
            return 0;
        }));
        return command;
    }

    private static Command Promote(ClientOptions options)
    {
        var name = new Argument<string>("name") { Description = "The prompt's name." };
        var version = new Argument<int>("version") { Description = "The version the label should point at." };
        var label = new Option<string>("--label", "-l") { Description = "The label to move, e.g. production.", Required = true };
        var command = new Command("promote", "Point a label at a version (recorded in the label's history).") { name, version, label };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var move = await client.PutAsync(LabelPath(parse.GetValue(name)!, parse.GetValue(label)!), new JsonObject { ["version"] = parse.GetValue(version) }, cancellationToken);
            PrintMove(move, json, "");
            return 0;
        }));
        return command;
    }

    private static Command Rollback(ClientOptions options)
    {
        var name = new Argument<string>("name") { Description = "The prompt's name." };
        var label = new Option<string>("--label", "-l") { Description = "The label to move back, e.g. production.", Required = true };
        var command = new Command("rollback", "Move a label back to the version it pointed at before its last move.") { name, label };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var move = await client.PostAsync(LabelPath(parse.GetValue(name)!, parse.GetValue(label)!) + "/rollback", null, cancellationToken);
            PrintMove(move, json, "rolled back ");
            return 0;
        }));
        return command;
    }

    private static Command Diff(ClientOptions options)
    {
        var name = new Argument<string>("name") { Description = "The prompt's name." };
        var from = new Argument<string>("from") { Description = "The older version: 3, v3, or a label." };
        var to = new Argument<string>("to") { Description = "The newer version: 5, v5, or a label." };
        var command = new Command("diff", "Show what changed between two versions: template lines, model and params.") { name, from, to };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var query = $"from={Uri.EscapeDataString(parse.GetValue(from)!)}&to={Uri.EscapeDataString(parse.GetValue(to)!)}";
            var diff = await client.GetAsync($"/api/prompts/{KeelClient.Segment(parse.GetValue(name)!)}/diff?{query}", cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(diff);
                return 0;
            }

            var unified = (string?)diff["unified"] ?? "";
            var changes = diff["changes"]!.AsArray();
            if (unified.Length == 0 && changes.Count == 0)
            {
                Console.WriteLine($"{diff["name"]}: v{diff["from"]} and v{diff["to"]} have the same content.");
                return 0;
            }

            Console.Write(unified);
            foreach (var change in changes)
            {
                Console.WriteLine($"{change!["field"]}: {(string?)change["from"] ?? "(none)"} -> {(string?)change["to"] ?? "(none)"}");
            }

            return 0;
        }));
        return command;
    }

    /// <summary>--label / --version, for verbs that pick one version.</summary>
    internal static (Option<string?> Label, Option<int?> Version) Selector() =>
        (new Option<string?>("--label", "-l") { Description = "The label to read (default production; latest is the newest version)." },
         new Option<int?>("--version") { Description = "The version number to read (instead of a label)." });

    internal static string SelectorPath(string name, string? label, int? version) => version is { } v
        ? $"/api/prompts/{KeelClient.Segment(name)}/versions/{v.ToString(CultureInfo.InvariantCulture)}"
        : LabelPath(name, label ?? PromptLabels.Production);

    private static string LabelPath(string name, string label) => $"/api/prompts/{KeelClient.Segment(name)}/labels/{KeelClient.Segment(label)}";

    private static void PrintMove(JsonNode move, bool json, string verb)
    {
        if (json)
        {
            KeelClient.PrintJson(move);
            return;
        }

        var from = (int?)move["from_version"];
        var to = (int?)move["to_version"];
        Console.WriteLine(from == to
            ? $"{move["name"]}: {move["label"]} already at version {to}"
            : $"{move["name"]}: {move["label"]} {verb}{Describe(from)} -> {to}");
    }

    private static string Describe(int? version) => version is { } v ? v.ToString(CultureInfo.InvariantCulture) : "(none)";

    private static string Labels(JsonObject labels) =>
        labels.Count == 0 ? "-" : string.Join(", ", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));

    internal static string Time(JsonNode? value) =>
        value is not null && DateTimeOffset.TryParse((string?)value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            ? time.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)
            : "";

    /// <summary>A draft as the POST /api/prompts body.</summary>
    private static JsonObject ToJson(PromptDraft draft)
    {
        var body = new JsonObject { ["name"] = draft.Name, ["type"] = draft.Type };
        if (draft.Template is not null)
        {
            body["template"] = draft.Template;
        }

        if (draft.Messages is not null)
        {
            body["messages"] = new JsonArray([.. draft.Messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]);
        }

        body["model"] = draft.Model;
        body["params"] = draft.Params is { } p ? JsonNode.Parse(p.GetRawText()) : null;
        body["labels"] = new JsonArray([.. draft.Labels.Select(l => (JsonNode)JsonValue.Create(l))]);
        body["message"] = draft.Message;
        body["author"] = draft.Author;
        return body;
    }
}
