using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Keel.Cli.Commands;

/// <summary><c>keel keys</c>, <c>keel projects</c>, <c>keel audit</c>: clients of a running Keel's access-control API.</summary>
internal static class AccessCommands
{
    public static Command Keys()
    {
        var options = new ClientOptions();
        var command = new Command("keys", "Create, list and revoke virtual keys (secrets are shown once, at creation).");
        options.AddTo(command);
        command.Subcommands.Add(CreateKey(options));
        command.Subcommands.Add(ListKeys(options));
        command.Subcommands.Add(RevokeKey(options));
        return command;
    }

    public static Command Projects()
    {
        var options = new ClientOptions();
        var command = new Command("projects", "Create and list projects (tenants).");
        options.AddTo(command);

        var name = new Argument<string>("name") { Description = "The project's name." };
        var create = new Command("create", "Create a project (admin keys only).") { name };
        var limits = new LimitOptions(create);
        create.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name) };
            limits.AddTo(body, parse);
            var project = await client.PostAsync("api/projects", body, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(project);
            }
            else
            {
                Console.WriteLine($"Created project {project["name"]} ({project["id"]}).");
            }
            return 0;
        }));

        var list = new Command("list", "List the projects the key can see.");
        list.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var page = await client.GetAsync("api/projects", cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(page);
                return 0;
            }
            Table.Print(["ID", "NAME", "CREATED", "LIMITS"], page["data"]!.AsArray().Select(p => (IReadOnlyList<string>)
                [(string)p!["id"]!, (string)p["name"]!, Time(p["created_at"]), p["limits"]?.ToJsonString() ?? "-"]));
            return 0;
        }));
        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        return command;
    }

    public static Command Users()
    {
        var options = new ClientOptions();
        var command = new Command("users", "End users of your applications (the 'user' field or x-keel-user-id).");
        options.AddTo(command);
        var user = new Argument<string>("user-id") { Description = "The end user's id, as your application sent it." };
        var project = new Option<string?>("--project") { Description = "Only this project (admin keys; default: every project)." };
        var erase = new Command("erase", "Erase everything stored about one end user (their traces and scores); the erasure is audited.") { user, project };
        erase.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var body = new JsonObject { ["user_id"] = parse.GetValue(user) };
            if (parse.GetValue(project) is { } p)
            {
                body["project"] = p;
            }
            var result = await client.PostAsync("api/erasure", body, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(result);
            }
            else
            {
                Console.WriteLine($"Erased {result["traces_deleted"]} traces and {result["scores_deleted"]} scores of that user.");
            }
            return 0;
        }));
        command.Subcommands.Add(erase);
        return command;
    }

    public static Command Audit()
    {
        var options = new ClientOptions();
        var limit = new Option<int>("--limit", "-n") { Description = "How many entries (newest first).", DefaultValueFactory = _ => 50 };
        var action = new Option<string?>("--action") { Description = "Only this action, e.g. key.revoke, prompt.rollback." };
        var project = new Option<string?>("--project") { Description = "Only this project (admin keys)." };
        var command = new Command("audit", "Show the audit log: who changed what, when, before and after.") { limit, action, project };
        options.AddTo(command);
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var query = $"api/audit?limit={parse.GetValue(limit).ToString(CultureInfo.InvariantCulture)}";
            if (parse.GetValue(action) is { } a)
            {
                query += "&action=" + Uri.EscapeDataString(a);
            }
            if (parse.GetValue(project) is { } p)
            {
                query += "&project=" + Uri.EscapeDataString(p);
            }
            var page = await client.GetAsync(query, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(page);
                return 0;
            }
            Table.Print(["TIME", "ACTOR", "ROLE", "PROJECT", "ACTION", "TARGET"], page["data"]!.AsArray().Select(e => (IReadOnlyList<string>)
                [Time(e!["at"]), (string)e["actor"]!, (string)e["actor_role"]!, (string?)e["project"] ?? "-", (string)e["action"]!, $"{e["target_type"]}:{e["target_id"]}"]));
            return 0;
        }));
        return command;
    }

    private static Command CreateKey(ClientOptions options)
    {
        var name = new Argument<string>("name") { Description = "A label for the key, e.g. the application that uses it." };
        var role = new Option<string>("--role", "-r") { Description = "admin, project_admin, developer, viewer or gateway.", DefaultValueFactory = _ => "developer" };
        var project = new Option<string?>("--project", "-p") { Description = "The project (default: the caller's, or 'default')." };
        var expires = new Option<string?>("--expires") { Description = "When the key stops working: a duration (30d, 12h) or a time (2027-01-31T00:00:00Z)." };
        var command = new Command("create", "Create a key. The secret is printed once; Keel keeps only its hash.") { name, role, project, expires };
        var limits = new LimitOptions(command);
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["role"] = parse.GetValue(role) };
            if (parse.GetValue(project) is { } p)
            {
                body["project"] = p;
            }
            if (parse.GetValue(expires) is { } e)
            {
                body["expires_at"] = ParseExpiry(e);
            }
            limits.AddTo(body, parse);
            var key = await client.PostAsync("api/keys", body, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(key);
                return 0;
            }
            Console.WriteLine($"Created {key["role"]} key '{key["name"]}' ({key["id"]}){(key["project"] is { } proj ? $" in project {proj}" : "")}.");
            Console.WriteLine();
            Console.WriteLine($"    {key["key"]}");
            Console.WriteLine();
            Console.WriteLine("Copy it now: it is not shown again. Use it as 'Authorization: Bearer KEY' or KEEL_API_KEY.");
            return 0;
        }));
        return command;
    }

    private static Command ListKeys(ClientOptions options)
    {
        var project = new Option<string?>("--project", "-p") { Description = "Only this project (admin keys)." };
        var command = new Command("list", "List keys (prefix, role, project, state; never the secret).") { project };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var path = parse.GetValue(project) is { } p ? $"api/keys?project={Uri.EscapeDataString(p)}" : "api/keys";
            var page = await client.GetAsync(path, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(page);
                return 0;
            }
            Table.Print(["ID", "NAME", "PREFIX", "ROLE", "PROJECT", "STATE", "CREATED"], page["data"]!.AsArray().Select(k => (IReadOnlyList<string>)
                [(string)k!["id"]!, (string)k["name"]!, (string)k["prefix"]! + "…", (string)k["role"]!, (string?)k["project"] ?? "(all)", State(k), Time(k["created_at"])]));
            return 0;
        }));
        return command;
    }

    private static Command RevokeKey(ClientOptions options)
    {
        var id = new Argument<string>("id") { Description = "The key's id (from 'keel keys list')." };
        var command = new Command("revoke", "Revoke a key: its next request is refused.") { id };
        command.SetAction((parse, cancellationToken) => KeelClient.RunAsync(options, parse, async (client, json) =>
        {
            var key = await client.SendAsync(HttpMethod.Delete, $"api/keys/{KeelClient.Segment(parse.GetValue(id)!)}", null, cancellationToken);
            if (json)
            {
                KeelClient.PrintJson(key);
            }
            else
            {
                Console.WriteLine($"Revoked key '{key["name"]}' ({key["prefix"]}…).");
            }
            return 0;
        }));
        return command;
    }

    private static string State(JsonNode key) =>
        key["revoked_at"] is not null ? "revoked"
        : key["expires_at"] is { } e && DateTimeOffset.Parse((string)e!, CultureInfo.InvariantCulture) <= DateTimeOffset.UtcNow ? "expired"
        : "active";

    private static string Time(JsonNode? node) =>
        node is null ? "-" : DateTimeOffset.Parse((string)node!, CultureInfo.InvariantCulture).UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    /// <summary>30d, 12h, 45m, or an ISO 8601 time; a one-line error otherwise.</summary>
    internal static string ParseExpiry(string text)
    {
        if (text.Length > 1 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            TimeSpan? span = text[^1] switch { 'd' => TimeSpan.FromDays(n), 'h' => TimeSpan.FromHours(n), 'm' => TimeSpan.FromMinutes(n), _ => null };
            if (span is { } s)
            {
                return DateTimeOffset.UtcNow.Add(s).ToString("O", CultureInfo.InvariantCulture);
            }
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        }
        throw new KeelClientException($"--expires '{text}' is neither a duration (30d, 12h, 45m) nor a time (2027-01-31T00:00:00Z).");
    }

    /// <summary>The limit flags shared by keys and projects.</summary>
    private sealed class LimitOptions
    {
        private readonly Option<int?> _rpm = new("--rpm") { Description = "Requests per minute." };
        private readonly Option<int?> _tpm = new("--tpm") { Description = "Tokens per minute." };
        private readonly Option<int?> _concurrent = new("--max-concurrent") { Description = "Requests in flight at once." };
        private readonly Option<double?> _daily = new("--daily-budget") { Description = "USD per UTC day." };
        private readonly Option<double?> _monthly = new("--monthly-budget") { Description = "USD per calendar month." };
        private readonly Option<string?> _models = new("--models") { Description = "Comma-separated model aliases allowed (default: all)." };

        public LimitOptions(Command command)
        {
            command.Options.Add(_rpm);
            command.Options.Add(_tpm);
            command.Options.Add(_concurrent);
            command.Options.Add(_daily);
            command.Options.Add(_monthly);
            command.Options.Add(_models);
        }

        public void AddTo(JsonObject body, ParseResult parse)
        {
            var limits = new JsonObject();
            if (parse.GetValue(_rpm) is { } rpm)
            {
                limits["rpm"] = rpm;
            }
            if (parse.GetValue(_tpm) is { } tpm)
            {
                limits["tpm"] = tpm;
            }
            if (parse.GetValue(_concurrent) is { } concurrent)
            {
                limits["max_concurrent"] = concurrent;
            }
            if (parse.GetValue(_daily) is { } daily)
            {
                limits["daily_budget_usd"] = daily;
            }
            if (parse.GetValue(_monthly) is { } monthly)
            {
                limits["monthly_budget_usd"] = monthly;
            }
            if (parse.GetValue(_models) is { } models)
            {
                limits["models"] = new JsonArray([.. models.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => (JsonNode)m)]);
            }
            if (limits.Count > 0)
            {
                body["limits"] = limits;
            }
        }
    }
}
