using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Keel.Tests.Common;
using Microsoft.Data.Sqlite;

namespace Keel.FunctionalTests;

/// <summary>The prompt registry through its API and the gateway, against the fake provider.</summary>
public sealed class PromptRegistryTests
{
    private static string Config(FakeProvider fake) => $$"""
        providers:
          up: { kind: openai, base_url: "{{fake.BaseUrl}}" }
        models:
          gpt-test: { provider: up }
          other: { provider: up, model: other-upstream }
        """;

    private const string SupportV1 = """
        {"name":"support","messages":[{"role":"system","content":"You answer for {{company}}."},{"role":"user","content":"{{question}}"}],
         "model":"gpt-test","params":{"temperature":0.2,"max_tokens":300},"labels":["production"],"message":"first"}
        """;

    private const string SupportV2 = """
        {"name":"support","messages":[{"role":"system","content":"You answer for {{company}}. Be brief."},{"role":"user","content":"{{question}}"}],
         "model":"gpt-test","params":{"temperature":0.5},"labels":["staging"],"message":"brief"}
        """;

    private const string Variables = """{"company":"Acme","question":"Where is my order?"}""";

    private static async Task<JsonNode> PushAsync(KeelTestServer keel, string json, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var response = await keel.PostJsonAsync("/api/prompts", json);
        var body = await KeelTestServer.ReadJsonAsync(response);
        Assert.True(expected == response.StatusCode, body.ToJsonString());
        return body;
    }

    private static async Task<JsonNode> ChatAsync(KeelTestServer keel, string json, HttpStatusCode expected = HttpStatusCode.OK, string? user = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(json) };
        if (user is not null)
        {
            request.Headers.Add("x-keel-user-id", user);
        }

        using var response = await keel.Client.SendAsync(request);
        var body = await KeelTestServer.ReadJsonAsync(response);
        Assert.True(expected == response.StatusCode, body.ToJsonString());
        body["_trace_id"] = KeelTestServer.TraceIdOf(response);
        return body;
    }

    private static string SystemPromptSent(FakeProvider fake) => (string)fake.Requests.Last().Json!["messages"]![0]!["content"]!;

    [Fact]
    public async Task Chat_PromptObject_RendersMessagesModelAndParamsAndRecordsTheVersion()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        var pushed = await PushAsync(keel, SupportV1);
        Assert.True((bool)pushed["created"]!);
        Assert.Equal(1, (int)pushed["version"]!["version"]!);
        Assert.Equal("""["company","question"]""", pushed["version"]!["variables"]!.ToJsonString());

        var answer = await ChatAsync(keel, $$$"""{"prompt":{"name":"support","label":"production","variables":{{{Variables}}}}}""");

        var sent = Assert.Single(fake.Requests).Json!;
        Assert.Equal("gpt-test", (string?)sent["model"]);
        Assert.Equal("""[{"role":"system","content":"You answer for Acme."},{"role":"user","content":"Where is my order?"}]""", sent["messages"]!.ToJsonString());
        Assert.Equal(0.2, (double)sent["temperature"]!);
        Assert.Equal(300, (int)sent["max_tokens"]!);
        Assert.Null(sent["prompt"]);
        Assert.Equal("fake reply to: Where is my order?", (string?)answer["choices"]![0]!["message"]!["content"]);

        var trace = await keel.GetTraceAsync((string)answer["_trace_id"]!);
        Assert.Equal("support", trace.PromptName);
        Assert.Equal(1, trace.PromptVersion);
        Assert.Equal("gpt-test", trace.Model);
        var span = Assert.Single(trace.Spans, s => s.Name == "prompt");
        Assert.Equal("production", span.Attributes.GetProperty("keel.prompt.label").GetString());
    }

    [Fact]
    public async Task Chat_CompactModelForm_PutsPromptInFrontOfMessagesAndRequestFieldsWin()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        await ChatAsync(keel, $$$"""
            {"model":"prompt:support@1","messages":[{"role":"assistant","content":"Hello"},{"role":"user","content":"And the refund?"}],
             "temperature":0.9,"prompt":{"variables":{{{Variables}}}}}
            """);

        var sent = Assert.Single(fake.Requests).Json!;
        Assert.Equal("gpt-test", (string?)sent["model"]);
        Assert.Equal(["system", "user", "assistant", "user"], sent["messages"]!.AsArray().Select(m => (string)m!["role"]!));
        Assert.Equal("And the refund?", (string?)sent["messages"]![3]!["content"]);
        Assert.Equal(0.9, (double)sent["temperature"]!);
    }

    [Fact]
    public async Task Chat_PromptObjectWithModel_RequestModelOverridesThePrompts()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        await ChatAsync(keel, $$$"""{"model":"other","prompt":{"name":"support","variables":{{{Variables}}}}}""");

        Assert.Equal("other-upstream", (string?)Assert.Single(fake.Requests).Json!["model"]);
    }

    [Fact]
    public async Task Chat_PromptWithStream_StreamsTheRenderedRequest()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        using var response = await keel.PostJsonAsync("/v1/chat/completions", $$$"""{"stream":true,"prompt":{"name":"support","variables":{{{Variables}}}}}""");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.EndsWith("data: [DONE]\n\n", text);
        var sent = Assert.Single(fake.Requests).Json!;
        Assert.True((bool)sent["stream"]!);
        Assert.Equal("You answer for Acme.", (string?)sent["messages"]![0]!["content"]);
        Assert.Equal(1, (await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response))).PromptVersion);
    }

    [Fact]
    public async Task Api_WithMasterKey_NeedsTheKey()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake) + "\nauth:\n  master_key: sk-keel-test-master\n");

        using var anonymous = await keel.PostJsonAsync("/api/prompts", SupportV1);
        using var withKey = await keel.PostJsonAsync("/api/prompts", SupportV1, key: "sk-keel-test-master");
        using var experiments = await keel.Client.GetAsync("/api/experiments");

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Created, withKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, experiments.StatusCode);
    }

    [Fact]
    public async Task LabelMove_PromoteAndRollback_AreSeenByTheVeryNextRequest()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);
        await PushAsync(keel, SupportV2);
        var chat = $$$"""{"model":"prompt:support@production","prompt":{"variables":{{{Variables}}}}}""";

        await ChatAsync(keel, chat);
        Assert.Equal("You answer for Acme.", SystemPromptSent(fake));

        using (var promote = await keel.Client.PutAsync("/api/prompts/support/labels/production", new StringContent("""{"version":2}""")))
        {
            Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
            var move = await KeelTestServer.ReadJsonAsync(promote);
            Assert.Equal(1, (int)move["from_version"]!);
            Assert.Equal(2, (int)move["to_version"]!);
        }

        await ChatAsync(keel, chat);
        Assert.Equal("You answer for Acme. Be brief.", SystemPromptSent(fake));

        using (var rollback = await keel.Client.PostAsync("/api/prompts/support/labels/production/rollback", null))
        {
            Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
            Assert.Equal(1, (int)(await KeelTestServer.ReadJsonAsync(rollback))["to_version"]!);
        }

        var afterRollback = await ChatAsync(keel, chat);
        Assert.Equal("You answer for Acme.", SystemPromptSent(fake));
        Assert.Equal(1, (await keel.GetTraceAsync((string)afterRollback["_trace_id"]!)).PromptVersion);

        using var again = await keel.Client.PostAsync("/api/prompts/support/labels/production/rollback", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        var history = await keel.Client.GetFromJsonAsync<JsonNode>("/api/prompts/support/labels/production/history");
        Assert.Equal(["push", "promote", "rollback"], history!["data"]!.AsArray().Select(m => (string)m!["action"]!));
    }

    [Fact]
    public async Task Push_IdenticalContent_ReturnsTheExistingVersionNotCreated()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        var again = await PushAsync(keel, SupportV1.Replace("\"first\"", "\"same content, other message\"", StringComparison.Ordinal), HttpStatusCode.OK);

        Assert.False((bool)again["created"]!);
        Assert.Equal(1, (int)again["version"]!["version"]!);
        var listed = await keel.Client.GetFromJsonAsync<JsonNode>("/api/prompts");
        var prompt = Assert.Single(listed!["data"]!.AsArray());
        Assert.Equal(1, (int)prompt!["latest_version"]!);
        Assert.Equal(1, (int)prompt["labels"]!["production"]!);
    }

    [Theory]
    [InlineData("""{"prompt":{"name":"nope"}}""", 404, "prompt_not_found", "prompt.name")]
    [InlineData("""{"prompt":{"name":"support","version":9,"variables":{}}}""", 404, "prompt_version_not_found", "prompt.version")]
    [InlineData("""{"model":"prompt:support@canary"}""", 404, "prompt_label_not_found", "prompt.label")]
    [InlineData("""{"prompt":{"name":"support","variables":{"company":"Acme"}}}""", 400, "missing_prompt_variable", "prompt.variables.question")]
    [InlineData("""{"prompt":{"name":"support","variables":[1]}}""", 400, "invalid_prompt_reference", "prompt.variables")]
    [InlineData("""{"model":"prompt:","messages":[]}""", 400, "invalid_prompt_reference", "model")]
    [InlineData("""{"prompt":{"name":"support","label":"production","version":1}}""", 400, "invalid_prompt_reference", "prompt.version")]
    public async Task Chat_BadPromptReference_IsAnOpenAiStyleError(string body, int status, string code, string param)
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        var error = (await ChatAsync(keel, body, (HttpStatusCode)status))["error"]!;

        Assert.Equal(code, (string?)error["code"]);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Chat_MissingVariable_MessageNamesItAndWhere()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        var error = (await ChatAsync(keel, """{"prompt":{"name":"support","variables":{"company":"Acme"}}}""", HttpStatusCode.BadRequest))["error"]!;

        Assert.Equal("Prompt 'support' version 1 needs the variable 'question' (messages[1].content, line 1, column 1); pass it in prompt.variables. The prompt's variables: company, question.",
            (string?)error["message"]);
    }

    [Fact]
    public async Task Push_InvalidTemplate_Is400WithThePosition()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));

        using var response = await keel.PostJsonAsync("/api/prompts", """{"name":"bad","template":"Hello\n{{#items}}- {{name}}\n{{/item}}"}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await KeelTestServer.ReadJsonAsync(response))["error"]!;
        Assert.Equal("invalid_template", (string?)error["code"]);
        Assert.Equal("template", (string?)error["param"]);
        Assert.Equal("template: '{{/item}}' does not close the open section '{{#items}}' (opened at line 2, column 1) at line 3, column 1", (string?)error["message"]);
    }

    [Fact]
    public async Task Api_UnknownPromptVersionOrLabel_Are404()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        foreach (var (path, code) in new[]
        {
            ("/api/prompts/nope", "prompt_not_found"),
            ("/api/prompts/support/versions/7", "prompt_version_not_found"),
            ("/api/prompts/support/labels/canary", "prompt_label_not_found"),
            ("/api/prompts/support/diff?from=1&to=4", "prompt_version_not_found"),
            ("/api/experiments/exp_missing", "experiment_not_found"),
        })
        {
            using var response = await keel.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal(code, (string?)(await KeelTestServer.ReadJsonAsync(response))["error"]!["code"]);
        }

        using var promote = await keel.Client.PutAsync("/api/prompts/support/labels/production", new StringContent("""{"version":5}"""));
        Assert.Equal(HttpStatusCode.NotFound, promote.StatusCode);
    }

    [Fact]
    public async Task Diff_TwoVersions_ShowsTemplateLinesAndParamChanges()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);
        await PushAsync(keel, SupportV2);

        var diff = await keel.Client.GetFromJsonAsync<JsonNode>("/api/prompts/support/diff?from=1&to=staging");

        Assert.Equal(2, (int)diff!["to"]!);
        Assert.Contains("-You answer for {{company}}.\n+You answer for {{company}}. Be brief.\n", (string?)diff["unified"]);
        var changes = diff["changes"]!.AsArray().Select(c => ((string)c!["field"]!, (string?)c["from"], (string?)c["to"])).ToList();
        Assert.Equal([("params.max_tokens", "300", null), ("params.temperature", "0.2", "0.5")], changes);
    }

    [Fact]
    public async Task Render_WithoutCallingTheModel_ReturnsMessages()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);

        using var response = await keel.PostJsonAsync("/api/prompts/support/render", $$$"""{"variables":{{{Variables}}}}""");

        var rendered = await KeelTestServer.ReadJsonAsync(response);
        Assert.Equal("You answer for Acme.", (string?)rendered["messages"]![0]!["content"]);
        Assert.Equal("production", (string?)rendered["label"]);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Experiment_SplitsTheLabelStickyPerUserAndReportsArmsWithTheTest()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);
        await PushAsync(keel, SupportV2);
        using var created = await keel.PostJsonAsync("/api/experiments",
            """{"name":"brevity","prompt":"support","label":"production","arms":[{"name":"control","version":1,"weight":50},{"name":"brief","version":2,"weight":50}],"primary_score":"helpful"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (string)(await KeelTestServer.ReadJsonAsync(created))["id"]!;

        var chat = $$$"""{"model":"prompt:support","prompt":{"variables":{{{Variables}}}}}""";
        var traces = new List<(string User, string TraceId)>();
        for (var i = 0; i < 40; i++)
        {
            var user = "user-" + i.ToString(CultureInfo.InvariantCulture);
            traces.Add((user, (string)(await ChatAsync(keel, chat, user: user))["_trace_id"]!));
        }

        var recorded = new List<Keel.Core.Recording.TraceRecord>();
        foreach (var (_, traceId) in traces)
        {
            recorded.Add(await keel.GetTraceAsync(traceId));
        }

        Assert.All(recorded, t => Assert.Equal(id, t.ExperimentId));
        Assert.All(recorded, t => Assert.Equal(t.ExperimentArm == "control" ? 1 : 2, t.PromptVersion));
        Assert.Equal(2, recorded.Select(t => t.ExperimentArm).Distinct().Count());

        // Sticky: the same users again land in the same arms.
        for (var i = 0; i < 10; i++)
        {
            var again = await keel.GetTraceAsync((string)(await ChatAsync(keel, chat, user: traces[i].User))["_trace_id"]!);
            Assert.Equal(recorded[i].ExperimentArm, again.ExperimentArm);
        }

        // Feedback: the brief arm is helpful more often.
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(keel.Directory, "data", "keel.db")}"))
        {
            await db.OpenAsync();
            var n = 0;
            foreach (var trace in recorded)
            {
                var helpful = trace.ExperimentArm == "brief" || n++ % 3 == 0;
                await using var insert = db.CreateCommand();
                insert.CommandText = """
                    INSERT INTO scores (score_id, trace_id, project_id, name, data_type, value, string_value, source, created_at)
                    VALUES ($id, $trace, 'default', 'helpful', 'boolean', $v, $s, 'api', 0)
                    """;
                insert.Parameters.AddWithValue("$id", Guid.NewGuid().ToString("n"));
                insert.Parameters.AddWithValue("$trace", trace.TraceId);
                insert.Parameters.AddWithValue("$v", helpful ? 1.0 : 0.0);
                insert.Parameters.AddWithValue("$s", helpful ? "true" : "false");
                await insert.ExecuteNonQueryAsync();
            }
        }

        var report = await keel.Client.GetFromJsonAsync<JsonNode>($"/api/experiments/{id}");

        var arms = report!["arms"]!.AsArray();
        Assert.Equal(["control", "brief"], arms.Select(a => (string)a!["arm"]!));
        Assert.Equal(50, arms.Sum(a => (int)a!["requests"]!));
        Assert.All(arms, a => Assert.Equal(0, (int)a!["errors"]!));
        Assert.All(arms, a => Assert.True((double)a!["latency_p50_ms"]! > 0));
        Assert.Equal(1.0, (double)arms[1]!["scores"]![0]!["mean"]!);
        var comparison = Assert.Single(report["comparisons"]!.AsArray())!;
        Assert.Equal("two-proportion z-test", (string?)comparison["test"]);
        Assert.Equal("brief", (string?)comparison["arm"]);
        Assert.True((double)comparison["difference"]! > 0.5);
        Assert.True((bool)comparison["significant"]!);
        Assert.True((bool)report["cost_available"]!); // the traces table has cost_usd since the observability work
        Assert.All(arms, a => Assert.Equal(0.0, (double)a!["cost_usd"]!)); // the fake's model has no price: known, and zero

        using var stop = await keel.Client.PostAsync($"/api/experiments/{id}/stop", null);
        Assert.Equal("stopped", (string?)(await KeelTestServer.ReadJsonAsync(stop))["status"]);
        var afterStop = await keel.GetTraceAsync((string)(await ChatAsync(keel, $$$"""{"prompt":{"name":"support","variables":{{{Variables}}}}}""", user: "user-1"))["_trace_id"]!);
        Assert.Null(afterStop.ExperimentId);
        Assert.Equal(1, afterStop.PromptVersion);
    }

    [Fact]
    public async Task Experiment_SecondOnTheSameLabel_Is409()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);
        await PushAsync(keel, SupportV2);
        const string body = """{"prompt":"support","arms":[{"version":1},{"version":2}]}""";

        using var first = await keel.PostJsonAsync("/api/experiments", body);
        using var second = await keel.PostJsonAsync("/api/experiments", body);
        using var badArm = await keel.PostJsonAsync("/api/experiments", """{"prompt":"support","label":"staging","arms":[{"version":1},{"version":8}]}""");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badArm.StatusCode);
        Assert.Equal("arms[1].version", (string?)(await KeelTestServer.ReadJsonAsync(badArm))["error"]!["param"]);
    }

    [Fact]
    public async Task Registry_WriteFromAnotherReplica_IsServedAfterTheRefresh()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var keel = await KeelTestServer.StartAsync(Config(fake));
        await PushAsync(keel, SupportV1);
        await PushAsync(keel, SupportV2);
        var store = (Keel.Core.Storage.IKeelStore)keel.Services.GetService(typeof(Keel.Core.Storage.IKeelStore))!;

        // A write that bypasses this replica's API, as another replica's would.
        await store.Prompts.SetLabelAsync("default", "support", "production", 2, "promote", "other-replica", DateTimeOffset.UtcNow, CancellationToken.None);
        var registry = (Keel.Core.Prompts.PromptRegistry)keel.Services.GetService(typeof(Keel.Core.Prompts.PromptRegistry))!;
        await registry.RefreshAsync(CancellationToken.None);

        await ChatAsync(keel, $$$"""{"prompt":{"name":"support","variables":{{{Variables}}}}}""");
        Assert.Equal("You answer for Acme. Be brief.", SystemPromptSent(fake));
    }
}
