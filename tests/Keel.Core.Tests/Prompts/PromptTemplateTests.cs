using System.Text.Json;
using Keel.Core.Prompts;

namespace Keel.Core.Tests.Prompts;

public sealed class PromptTemplateTests
{
    private static PromptTemplate Compile(string source)
    {
        Assert.True(PromptTemplate.TryParse(source, out var template, out var error), error?.ToString());
        return template;
    }

    private static string Render(string source, string variablesJson)
    {
        var template = Compile(source);
        using var document = JsonDocument.Parse(variablesJson);
        Assert.True(template.TryRender(document.RootElement, out var text, out var error), error?.Message);
        return text;
    }

    private static RenderError RenderFails(string source, string variablesJson)
    {
        var template = Compile(source);
        using var document = JsonDocument.Parse(variablesJson);
        Assert.False(template.TryRender(document.RootElement, out _, out var error));
        return error!;
    }

    private static TemplateError ParseFails(string source)
    {
        Assert.False(PromptTemplate.TryParse(source, out _, out var error));
        return error!;
    }

    [Fact]
    public void TryRender_Variables_AreReplacedWithSpacesInsideBracesAllowed()
    {
        Assert.Equal("You answer for Acme. Q: why?", Render("You answer for {{company}}. Q: {{ question }}", """{"company":"Acme","question":"why?"}"""));
    }

    [Fact]
    public void TryRender_HtmlCharacters_AreNeverEscaped()
    {
        const string value = """<b>Tom & "Jerry"</b> it's""";
        var json = JsonSerializer.Serialize(new { x = value });

        Assert.Equal(value, Render("{{x}}", json));
        Assert.Equal(value, Render("{{{x}}}", json));
        Assert.Equal(value, Render("{{&x}}", json));
    }

    [Fact]
    public void TryRender_NonAsciiNamesAndValues_RoundTrip()
    {
        Assert.Equal("こんにちは、花子さん 👋 — Ünïcödé", Render("こんにちは、{{名前}}さん {{emoji}} — {{ü}}", """{"名前":"花子","emoji":"👋","ü":"Ünïcödé"}"""));
    }

    [Fact]
    public void TryRender_NumbersBooleansNullAndObjects_RenderAsJsonText()
    {
        Assert.Equal("3 0.25 true false  {\"a\":[1,2]}", Render("{{n}} {{f}} {{t}} {{no}} {{nothing}} {{o}}", """{"n":3,"f":0.25,"t":true,"no":false,"nothing":null,"o":{"a":[1,2]}}"""));
    }

    [Fact]
    public void TryRender_DottedNames_WalkObjects()
    {
        Assert.Equal("Ana (gold)", Render("{{user.name}} ({{user.tier.name}})", """{"user":{"name":"Ana","tier":{"name":"gold"}}}"""));
    }

    [Fact]
    public void TryRender_ListSection_RendersOncePerItemAndStandaloneTagsTakeTheirLines()
    {
        const string source = "Orders:\n{{#orders}}\n- {{id}}: {{total}} EUR\n{{/orders}}\nThanks.";

        var text = Render(source, """{"orders":[{"id":"A1","total":10},{"id":"B2","total":7.5}]}""");

        Assert.Equal("Orders:\n- A1: 10 EUR\n- B2: 7.5 EUR\nThanks.", text);
    }

    [Fact]
    public void TryRender_ListOfStrings_DotIsTheItem()
    {
        Assert.Equal("[a][b][c]", Render("{{#tags}}[{{.}}]{{/tags}}", """{"tags":["a","b","c"]}"""));
    }

    [Theory]
    [InlineData("true", "VIP: Ana|")]
    [InlineData("false", "|regular")]
    [InlineData("null", "|regular")]
    [InlineData("\"\"", "|regular")]
    [InlineData("0", "|regular")]
    [InlineData("[]", "|regular")]
    [InlineData("\"yes\"", "VIP: Ana|")]
    public void TryRender_ConditionalAndInvertedSections_FollowMustacheTruthiness(string vip, string expected)
    {
        Assert.Equal(expected, Render("{{#vip}}VIP: {{name}}{{/vip}}|{{^vip}}regular{{/vip}}", $$"""{"vip":{{vip}},"name":"Ana"}"""));
    }

    [Fact]
    public void TryRender_NameInsideSection_FallsBackToOuterScopes()
    {
        Assert.Equal("Acme: a, Acme: b, ", Render("{{#items}}{{company}}: {{name}}, {{/items}}", """{"company":"Acme","items":[{"name":"a"},{"name":"b"}]}"""));
    }

    [Fact]
    public void TryRender_Comments_RenderNothing()
    {
        Assert.Equal("a\nb", Render("a\n{{! a note for reviewers }}\nb", "{}"));
    }

    [Fact]
    public void TryRender_CrLfLines_StandaloneSectionKeepsTheOtherLines()
    {
        Assert.Equal("x\r\n- 1\r\ny", Render("x\r\n{{#l}}\r\n- {{.}}\r\n{{/l}}\r\ny", """{"l":[1]}"""));
    }

    [Fact]
    public void TryRender_MissingVariable_NamesItWithItsPosition()
    {
        var error = RenderFails("Hello {{name}},\nyour order {{order_id}} shipped.", """{"name":"Ana"}""");

        Assert.Equal("order_id", error.Variable);
        Assert.Equal(new TemplatePosition(27, 2, 12), error.Position);
        Assert.Contains("missing variable 'order_id'", error.Message);
    }

    [Fact]
    public void TryRender_MissingVariableInsideListItem_IsAnError()
    {
        var error = RenderFails("{{#items}}{{name}} {{price}}\n{{/items}}", """{"items":[{"name":"a","price":1},{"name":"b"}]}""");

        Assert.Equal("price", error.Variable);
        Assert.Equal(1, error.Position.Line);
    }

    [Fact]
    public void TryRender_MissingSectionVariable_IsAnErrorNotAnEmptySection()
    {
        Assert.Equal("vip", RenderFails("{{#vip}}x{{/vip}}", "{}").Variable);
    }

    [Fact]
    public void TryRender_NoVariablesAtAll_FailsOnTheFirstName()
    {
        var template = Compile("static text {{x}}");

        Assert.False(template.TryRender(null, out _, out var error));
        Assert.Equal("x", error!.Variable);
        Assert.True(Compile("only static text").TryRender(null, out var text, out _));
        Assert.Equal("only static text", text);
    }

    [Fact]
    public void Variables_ListsTopLevelNamesAndSectionsInOrderOfFirstUse()
    {
        var template = Compile("{{company}} {{#orders}}{{id}}{{/orders}} {{user.name}} {{company}} {{^vip}}{{x}}{{/vip}}");

        Assert.Equal(["company", "orders", "user", "vip"], template.Variables);
    }

    [Theory]
    [InlineData("Hi {{name", "unclosed tag", 1, 4)]
    [InlineData("line one\nHi {{{name}}", "unclosed tag", 2, 4)]
    [InlineData("a {{#items}}\n{{x}}", "never closed", 1, 3)]
    [InlineData("{{#a}}{{/b}}", "does not close the open section '{{#a}}'", 1, 7)]
    [InlineData("x {{/a}}", "never opened", 1, 3)]
    [InlineData("x\n  {{}}", "empty tag", 2, 3)]
    [InlineData("{{first name}}", "invalid variable name 'first name'", 1, 1)]
    [InlineData("{{a..b}}", "invalid variable name", 1, 1)]
    [InlineData("{{> header}}", "partials", 1, 1)]
    [InlineData("{{=<% %>=}}", "delimiters", 1, 1)]
    public void TryParse_InvalidTemplate_SaysWhatAndWhere(string source, string message, int line, int column)
    {
        var error = ParseFails(source);

        Assert.Contains(message, error.Message);
        Assert.Equal(line, error.Position.Line);
        Assert.Equal(column, error.Position.Column);
    }

    [Fact]
    public void TryParse_StrayClosingBraces_AreText()
    {
        Assert.Equal("a }} b", Render("a }} b", "{}"));
    }
}
