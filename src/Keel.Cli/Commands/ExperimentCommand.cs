using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Keel.Cli.Commands;

/// <summary>keel experiment create | show | list | stop: A/B/n splits of a prompt label, through /api/experiments.</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var options = new ClientOptions();
        var command = new Command("experiment", "A/B/n experiments: split a prompt label's traffic between versions and compare the arms.")
        {
            CreateVerb(options), Show(options), List(options), Stop(options),
        };
        options.AddTo(command);
        return command;
    }

    private static Command CreateVerb(ClientOptions options)
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "The prompt whose label traffic is split.", Required = true };
        var label = new Option<string?>("--label", "-l") { Description = "The label to split (default production)." };
        var arms = new Option<string[]>("--arm")
        {
            Description = "An arm: VERSION[:WEIGHT] or NAME=VERSION[:WEIGHT] (repeat, 2 to 10; the first is the control). Weight defaults to 1.",
            Required = true,
        };
        var score = new Option<string?>("--primary-score") { Description = "The score the significance test compares (a boolean or numeric score name)." };
        var name = new Option<string?>("--name") { Description = "A name for people (default PROMPT@LABEL)." };
        var command = new Command("create", "Start an experiment: from the next request on, the label's traffic is split, sticky per end user.")
        {
            prompt, label, arms, score, name,
        };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var armList = new JsonArray();
            foreach (var text in parse.GetValue(arms) ?? [])
            {
                if (ParseArm(text) is not { } arm)
                {
                    await Console.Error.WriteLineAsync($"error: --arm '{text}' is not VERSION[:WEIGHT] or NAME=VERSION[:WEIGHT], e.g. --arm 3:50 or --arm brief=4:50.");
                    return 2;
                }

                armList.Add(arm);
            }

            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["prompt"] = parse.GetValue(prompt),
                ["label"] = parse.GetValue(label),
                ["arms"] = armList,
                ["primary_score"] = parse.GetValue(score),
            };
            var experiment = await client.PostAsync("/api/experiments", body, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(experiment);
                return 0;
            }

            var split = string.Join(", ", experiment["arms"]!.AsArray().Select(a => $"{a!["name"]}=v{a["version"]} ({a["weight"]})"));
            Console.WriteLine($"{experiment["id"]}: {experiment["prompt"]}@{experiment["label"]} split {split}");
            return 0;
        }));
        return command;
    }

    private static Command Show(ClientOptions options)
    {
        var id = new Argument<string>("id") { Description = "The experiment id (exp_...)." };
        var command = new Command("show", "Results per arm (requests, errors, latency, tokens, cost, scores) and the test on the primary score.") { id };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var report = await client.GetAsync($"/api/experiments/{KeelClient.Segment(parse.GetValue(id)!)}", cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(report);
                return 0;
            }

            var experiment = report["experiment"]!;
            var primary = (string?)experiment["primary_score"];
            var withCost = (bool)report["cost_available"]!;
            var target = $"{experiment["prompt"]}@{experiment["label"]}";
            var title = (string?)experiment["name"] == target ? target : $"{experiment["name"]} ({target})";
            Console.WriteLine($"{experiment["id"]} {title}: {experiment["status"]}, primary score {primary ?? "(none)"}");
            Console.WriteLine();
            List<string> headers = ["ARM", "VERSION", "WEIGHT", "REQUESTS", "ERRORS", "P50 MS", "P95 MS", "TOKENS IN", "TOKENS OUT"];
            if (withCost)
            {
                headers.Add("COST USD");
            }

            headers.Add("SCORES (mean, n)");
            Table.Print(headers, report["arms"]!.AsArray().Select(a =>
            {
                List<string> row =
                [
                    (string)a!["arm"]!, a["version"]!.ToString(), Number(a["weight"]), a["requests"]!.ToString(), a["errors"]!.ToString(),
                    Number(a["latency_p50_ms"]), Number(a["latency_p95_ms"]), a["input_tokens"]!.ToString(), a["output_tokens"]!.ToString(),
                ];
                if (withCost)
                {
                    row.Add(Number(a["cost_usd"], "0.######"));
                }

                row.Add(string.Join(", ", a["scores"]!.AsArray().Select(s => $"{s!["name"]} {Number(s["mean"], "0.###")} (n={s["count"]})")));
                return (IReadOnlyList<string>)row;
            }));

            if (report["note"] is { } note)
            {
                Console.WriteLine();
                Console.WriteLine(note.ToString());
            }

            foreach (var c in report["comparisons"]!.AsArray())
            {
                Console.WriteLine();
                var line = $"{c!["arm"]} vs {c["control"]} on {c["score"]}: ";
                Console.WriteLine(c["p_value"] is null
                    ? line + (string?)c["note"]
                    : line + $"difference {Signed(c["difference"])}, {c["test"]} statistic {Number(c["statistic"], "0.###")}" +
                      (c["degrees_of_freedom"] is { } df ? $" (df {Number(df, "0.#")})" : "") +
                      $", p = {Number(c["p_value"], "0.####")}: {((bool)c["significant"]! ? "significant at 5 %" : "not significant")}");
            }

            return 0;
        }));
        return command;
    }

    private static Command List(ClientOptions options)
    {
        var command = new Command("list", "List experiments, newest first.");
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var list = await client.GetAsync("/api/experiments", cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(list);
                return 0;
            }

            Table.Print(["ID", "NAME", "PROMPT", "LABEL", "STATUS", "ARMS", "CREATED"], list["data"]!.AsArray().Select(e => (IReadOnlyList<string>)
            [
                (string)e!["id"]!, (string)e["name"]!, (string)e["prompt"]!, (string)e["label"]!, (string)e["status"]!,
                string.Join(", ", e["arms"]!.AsArray().Select(a => $"{a!["name"]}=v{a["version"]}")), PromptCommand.Time(e["created_at"]),
            ]));
            return 0;
        }));
        return command;
    }

    private static Command Stop(ClientOptions options)
    {
        var id = new Argument<string>("id") { Description = "The experiment id (exp_...)." };
        var command = new Command("stop", "Stop an experiment: the label serves its own version again from the next request.") { id };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var experiment = await client.PostAsync($"/api/experiments/{KeelClient.Segment(parse.GetValue(id)!)}/stop", null, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(experiment);
            }
            else
            {
                Console.WriteLine($"{experiment["id"]}: {experiment["status"]}");
            }

            return 0;
        }));
        return command;
    }

    /// <summary>"3", "3:50", "brief=4", "brief=4:50".</summary>
    internal static JsonObject? ParseArm(string text)
    {
        var arm = new JsonObject();
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq == 0)
        {
            return null;
        }

        if (eq > 0)
        {
            arm["name"] = text[..eq];
            text = text[(eq + 1)..];
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var versionText = colon < 0 ? text : text[..colon];
        if (!int.TryParse(versionText.TrimStart('v'), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return null;
        }

        arm["version"] = version;
        if (colon >= 0)
        {
            if (!double.TryParse(text[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            {
                return null;
            }

            arm["weight"] = weight;
        }

        return arm;
    }

    private static string Number(JsonNode? value, string format = "0.##") =>
        value is null ? "-" : ((double)value).ToString(format, CultureInfo.InvariantCulture);

    private static string Signed(JsonNode? value) =>
        value is null ? "-" : ((double)value).ToString("+0.####;-0.####;0", CultureInfo.InvariantCulture);
}
