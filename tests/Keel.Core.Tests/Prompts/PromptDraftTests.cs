using System.Text.Json;
using Keel.Core.Prompts;
using Keel.Core.Wire;

namespace Keel.Core.Tests.Prompts;

/// <summary>Validation, hashing, the push file, label history and how a version's params meet a request.</summary>
public sealed class PromptDraftTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static PromptDraft Chat(string? parameters = null, params string[] labels) => new()
    {
        Name = "support-reply",
        Type = PromptTypes.Chat,
        Messages = [new() { Role = "system", Content = "You answer for {{company}}." }, new() { Role = "user", Content = "{{question}}" }],
        Model = "gpt-4o-mini",
        Params = parameters is null ? null : Json(parameters),
        Labels = labels,
    };

    [Fact]
    public void Validate_GoodChatDraft_HasNoProblems()
    {
        Assert.Empty(PromptValidator.Validate(Chat("""{"temperature":0.2,"response_format":{"type":"json_object"}}""", "staging", "production")));
    }

    [Fact]
    public void Validate_BadDraft_ReportsEveryProblemWithItsField()
    {
        var draft = Chat("""{"temperature":5,"model":"x"}""", "latest", "Prod") with
        {
            Name = "bad name",
            Messages = [new() { Role = "robot", Content = "hi {{#x}}" }],
        };

        var problems = PromptValidator.Validate(draft);

        Assert.Contains(problems, p => p.Field == "name");
        Assert.Contains(problems, p => p.Field == "messages[0].role");
        Assert.Contains(problems, p => p.Field == "messages[0].content" && p.Position is { Line: 1, Column: 4 });
        Assert.Contains(problems, p => p.Field == "params.temperature");
        Assert.Contains(problems, p => p.Field == "params.model");
        Assert.Equal(2, problems.Count(p => p.Field == "labels"));
    }

    [Theory]
    [InlineData("support-reply", true)]
    [InlineData("v2.summarise_en", true)]
    [InlineData("-x", false)]
    [InlineData("a@b", false)]
    [InlineData("a/b", false)]
    [InlineData("", false)]
    public void IsValidName_Rules(string name, bool valid) => Assert.Equal(valid, PromptValidator.IsValidName(name));

    [Theory]
    [InlineData("production", true)]
    [InlineData("canary-eu_1", true)]
    [InlineData("3", false)]
    [InlineData("Production", false)]
    public void IsValidLabel_Rules(string label, bool valid) => Assert.Equal(valid, PromptValidator.IsValidLabel(label));

    [Fact]
    public void ContentHash_IgnoresParamKeyOrderButNotValues()
    {
        var a = PromptValidator.ContentHash("text", "t", null, "m", Json("""{"a":1,"b":{"y":2,"x":1}}"""));
        var b = PromptValidator.ContentHash("text", "t", null, "m", Json("""{"b":{"x":1,"y":2},"a":1}"""));
        var c = PromptValidator.ContentHash("text", "t", null, "m", Json("""{"a":2,"b":{"x":1,"y":2}}"""));

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void ApplyDefaults_RequestFieldsWin_PromptFillsTheRest()
    {
        var version = new PromptVersion
        {
            Name = "p", Version = 1, Type = PromptTypes.Text, Template = "x", CreatedAt = DateTimeOffset.UnixEpoch, ContentHash = "",
            Params = Json("""{"temperature":0.2,"max_tokens":50,"seed":7,"reasoning_effort":"low","response_format":{"type":"json_object"}}"""),
        };
        var prompt = CompiledPrompt.Compile(version);
        var request = new ChatCompletionRequest { Temperature = 0.9, MaxCompletionTokens = 10 };

        prompt.ApplyDefaults(request);

        Assert.Equal(0.9, request.Temperature);
        Assert.Equal(10, request.MaxCompletionTokens);
        Assert.Null(request.MaxTokens);
        Assert.Equal(7, request.Seed);
        Assert.Equal("json_object", request.ResponseFormat!.Type);
        Assert.Equal("low", request.Extra!["reasoning_effort"].GetString());
    }

    [Fact]
    public void PromptFile_IssueExample_Parses()
    {
        const string yaml = """
            name: support-reply
            type: chat
            messages:
              - { role: system, content: "You answer for {{company}}. Be brief." }
              - { role: user, content: "{{question}}" }
            model: gpt-4o-mini
            params: { temperature: 0.2, stop: ["\n\n"], metadata: { team: "7" } }
            labels: [staging]
            message: "shorter system prompt"
            """;

        var result = PromptFile.Parse(yaml, "support.yaml");

        Assert.True(result.Success, string.Join("\n", result.Errors));
        var draft = result.Draft!;
        Assert.Equal("support-reply", draft.Name);
        Assert.Equal(2, draft.Messages!.Count);
        Assert.Equal(0.2, draft.Params!.Value.GetProperty("temperature").GetDouble());
        Assert.Equal(JsonValueKind.String, draft.Params.Value.GetProperty("metadata").GetProperty("team").ValueKind);
        Assert.Equal(["staging"], draft.Labels);
        Assert.Equal("shorter system prompt", draft.Message);
    }

    [Fact]
    public void PromptFile_Errors_HaveFileLineAndField()
    {
        const string yaml = """
            name: support-reply
            messages:
              - { role: system, content: "You answer for {{company}. Be brief." }
              - { role: bot, content: "{{question}}", extra: 1 }
            params: { temperature: hot }
            colour: blue
            """;

        var result = PromptFile.Parse(yaml, "p.yaml");

        Assert.False(result.Success);
        var lines = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(lines, l => l.StartsWith("p.yaml:3:", StringComparison.Ordinal) && l.Contains("messages[0].content: unclosed tag", StringComparison.Ordinal) && l.Contains("template line 1, column 16", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("p.yaml:4:", StringComparison.Ordinal) && l.Contains("messages[1].extra", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("p.yaml:6:1: colour: unknown field", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("p.yaml:5:", StringComparison.Ordinal) && l.Contains("params", StringComparison.Ordinal));
    }

    [Fact]
    public void PromptFile_WriteThenParse_GivesTheSameContent()
    {
        var version = new PromptVersion
        {
            Name = "digest", Version = 4, Type = PromptTypes.Text, CreatedAt = DateTimeOffset.UnixEpoch, ContentHash = "",
            Template = "Summarise:\n{{#items}}\n- {{.}}\n{{/items}}\nIn {{language}}: \"quoted\" ü",
            Model = "local/echo",
            Params = Json("""{"temperature":0.5,"stop":["END"],"metadata":{"k":"v"}}"""),
            Message = "first",
        };

        var text = PromptFile.Write(version, ["production"]);
        var result = PromptFile.Parse(text, "round.yaml");

        Assert.True(result.Success, text + "\n" + string.Join("\n", result.Errors));
        var draft = result.Draft!;
        Assert.Equal(version.Template, draft.Template);
        Assert.Equal(["production"], draft.Labels);
        Assert.Equal(
            PromptValidator.ContentHash(version.Type, version.Template, null, version.Model, version.Params),
            PromptValidator.ContentHash(draft.Type, draft.Template, draft.Messages, draft.Model, draft.Params));
    }

    [Theory]
    [InlineData("a\nb\n")]
    [InlineData("a\nb\n\n")]
    [InlineData("  indented first\nx")]
    [InlineData("tab\tand trailing space \nnext")]
    [InlineData("# not a comment: {{x}}\n- not a list\n")]
    public void PromptFile_WriteThenParse_KeepsMultiLineTemplatesExactly(string template)
    {
        var version = new PromptVersion { Name = "t", Version = 1, Type = PromptTypes.Text, Template = template, CreatedAt = DateTimeOffset.UnixEpoch, ContentHash = "" };

        var result = PromptFile.Parse(PromptFile.Write(version), "t.yaml");

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(template, result.Draft!.Template);
    }

    [Fact]
    public void RollbackTarget_WalksBackOneMoveAtATime()
    {
        static LabelMove Move(int? from, int? to, string action) =>
            new() { Name = "p", Label = "production", FromVersion = from, ToVersion = to, Action = action, At = DateTimeOffset.UnixEpoch };

        List<LabelMove> history = [Move(null, 1, LabelActions.Push), Move(1, 2, LabelActions.Promote), Move(2, 3, LabelActions.Promote)];
        Assert.Equal(2, LabelHistory.RollbackTarget(history));

        history.Add(Move(3, 2, LabelActions.Rollback));
        Assert.Equal(1, LabelHistory.RollbackTarget(history));

        history.Add(Move(2, 1, LabelActions.Rollback));
        Assert.Null(LabelHistory.RollbackTarget(history));

        history.Add(Move(1, 4, LabelActions.Promote));
        Assert.Equal(1, LabelHistory.RollbackTarget(history));
    }
}
