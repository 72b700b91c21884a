using System.Text.Json;
using Keel.Core.Prompts;

namespace Keel.Core.Tests.Prompts;

public sealed class PromptDiffTests
{
    private static PromptVersion Version(int number, string template, string? model = "m", string? parameters = null) => new()
    {
        Name = "p",
        Version = number,
        Type = PromptTypes.Text,
        Template = template,
        Model = model,
        Params = parameters is null ? null : JsonDocument.Parse(parameters).RootElement.Clone(),
        CreatedAt = DateTimeOffset.UnixEpoch,
        ContentHash = "",
    };

    [Fact]
    public void DiffLines_ClassicMyersExample_IsAShortestEditScript()
    {
        // Myers' paper: ABCABBA -> CBABAC takes 5 edits (D = 5), keeping 4 lines.
        string[] a = ["A", "B", "C", "A", "B", "B", "A"];
        string[] b = ["C", "B", "A", "B", "A", "C"];

        var lines = PromptDiff.DiffLines(a, b);

        Assert.Equal(5, lines.Count(l => l.Op != "equal"));
        Assert.Equal(a, lines.Where(l => l.Op != "add").Select(l => l.Text));
        Assert.Equal(b, lines.Where(l => l.Op != "remove").Select(l => l.Text));
    }

    [Fact]
    public void Compare_TemplateAndParams_ReportsLineAndFieldChanges()
    {
        var from = Version(3, "You are helpful.\nAnswer: {{q}}\nBe brief.", "gpt-4o-mini", """{"temperature":0.2,"max_tokens":100}""");
        var to = Version(5, "You are helpful.\nAnswer in French: {{q}}\nBe brief.", "gpt-4o", """{"temperature":0.7,"seed":1,"max_tokens":100}""");

        var diff = PromptDiff.Compare(from, to);

        Assert.Equal(
            [("equal", "You are helpful."), ("remove", "Answer: {{q}}"), ("add", "Answer in French: {{q}}"), ("equal", "Be brief.")],
            diff.Lines.Select(l => (l.Op, l.Text)));
        Assert.Equal(
            [new FieldChange("model", "gpt-4o-mini", "gpt-4o"), new FieldChange("params.seed", null, "1"), new FieldChange("params.temperature", "0.2", "0.7")],
            diff.Changes);
        Assert.Equal("--- p v3\n+++ p v5\n@@ -1,3 +1,3 @@\n You are helpful.\n-Answer: {{q}}\n+Answer in French: {{q}}\n Be brief.\n", diff.Unified);
    }

    [Fact]
    public void Unified_DistantChanges_MakeSeparateHunksWithThreeLinesOfContext()
    {
        var a = Enumerable.Range(1, 20).Select(i => $"line {i}").ToArray();
        var b = a.ToArray();
        b[1] = "changed 2";
        b[17] = "changed 18";

        var text = PromptDiff.Unified(PromptDiff.DiffLines(a, b), "a", "b");

        Assert.Contains("@@ -1,5 +1,5 @@", text);
        Assert.Contains("@@ -15,6 +15,6 @@", text);
        Assert.Equal(2, text.Split('\n').Count(l => l.StartsWith("@@", StringComparison.Ordinal)));
    }

    [Fact]
    public void Compare_ChatPrompts_DiffsRolesAndContents()
    {
        var older = Version(1, "") with { Type = PromptTypes.Chat, Template = null, Messages = [new() { Role = "system", Content = "Be brief." }, new() { Role = "user", Content = "{{q}}" }] };
        var newer = older with { Version = 2, Messages = [new() { Role = "system", Content = "Be very brief." }, new() { Role = "user", Content = "{{q}}" }] };

        var diff = PromptDiff.Compare(older, newer);

        Assert.Equal(["[system]", "-Be brief.", "+Be very brief.", "[user]", "{{q}}"],
            diff.Lines.Select(l => l.Op switch { "add" => "+" + l.Text, "remove" => "-" + l.Text, _ => l.Text }));
        Assert.Empty(diff.Changes);
    }

    [Fact]
    public void Compare_IdenticalVersions_HaveNoChanges()
    {
        var diff = PromptDiff.Compare(Version(1, "a\nb"), Version(2, "a\nb"));

        Assert.All(diff.Lines, l => Assert.Equal("equal", l.Op));
        Assert.Empty(diff.Changes);
        Assert.Equal("", diff.Unified);
    }
}
