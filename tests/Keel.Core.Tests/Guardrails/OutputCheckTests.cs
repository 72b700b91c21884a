using System.Text.Json;
using Keel.Core.Guardrails;
using Keel.Core.Guardrails.Output;
using Keel.Core.Guardrails.Topics;

namespace Keel.Core.Tests.Guardrails;

public sealed class StreamGuardTests
{
    private static readonly GuardrailEngine PiiRedact = new([GuardrailScanners.Get("pii")!], new GuardrailPolicy
    {
        Actions = new Dictionary<string, GuardrailAction> { ["pii"] = GuardrailAction.Redact },
    });

    private static string Run(StreamGuard guard, IEnumerable<string> pieces, List<string>? steps = null)
    {
        var output = new System.Text.StringBuilder();
        foreach (var piece in pieces)
        {
            var step = guard.Push(piece);
            Assert.Null(step.BlockedBy);
            steps?.Add(step.Text);
            output.Append(step.Text);
        }
        output.Append(guard.Flush().Text);
        return output.ToString();
    }

    private static IEnumerable<string> Cut(string text, int size)
    {
        for (var i = 0; i < text.Length; i += size)
        {
            yield return text.Substring(i, Math.Min(size, text.Length - i));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(1000)]
    public void SplitValues_AreRedactedWhateverTheChunking(int size)
    {
        const string answer = "Reach me at dana.white@example.net or +44 20 7946 0958; IBAN GB82 WEST 1234 5698 7654 32. Bye.";
        var text = Run(new StreamGuard(PiiRedact, null, holdBack: 32), Cut(answer, size));
        Assert.Equal("Reach me at [EMAIL] or [PHONE]; IBAN [IBAN]. Bye.", text);
    }

    [Fact]
    public void CleanText_FlowsWithOnlyTheHoldBackDelay()
    {
        var steps = new List<string>();
        var words = Enumerable.Range(0, 200).Select(i => $"word{i} ");
        var text = Run(new StreamGuard(PiiRedact, null, holdBack: 16), words, steps);
        Assert.Equal(string.Concat(words), text);
        // Text leaves as soon as it is past the hold-back window plus one release step (16 + 32 characters, about
        // seven of these words), and keeps leaving in steps: the guard does not buffer the whole answer.
        Assert.True(steps.Take(8).Sum(s => s.Length) > 0);
        Assert.True(steps.Count(s => s.Length > 0) > 40);
    }

    [Fact]
    public void ChineseText_IsNotHeldAsOneRun()
    {
        var steps = new List<string>();
        var pieces = Enumerable.Repeat("我们今天讨论一下产品的发布计划", 20).ToList();
        Run(new StreamGuard(PiiRedact, null, holdBack: 16), pieces, steps);
        Assert.True(steps.Take(5).Sum(s => s.Length) > 0);
    }

    [Fact]
    public void Placeholders_AreRestored_EvenWhenSplit()
    {
        var map = new PlaceholderMap();
        var placeholder = map.PlaceholderFor("eve@example.com", "[EMAIL]");
        var text = Run(new StreamGuard(null, map, holdBack: 0), Cut($"Write to {placeholder} today, {placeholder}!", 2));
        Assert.Equal("Write to eve@example.com today, eve@example.com!", text);
    }

    [Fact]
    public void Block_StopsTheStream_AndNothingOfTheBlockedTextWasSent()
    {
        var engine = new GuardrailEngine([new TopicScanner([new TopicDefinition { Name = "weapons", Keywords = ["nerve agent"] }])], new GuardrailPolicy
        {
            Actions = new Dictionary<string, GuardrailAction> { ["topics"] = GuardrailAction.Block },
        });
        var guard = new StreamGuard(engine, null, holdBack: 16);
        var sent = "";
        GuardrailFinding? blocked = null;
        foreach (var piece in Cut("Here is a long harmless preamble that goes on and on for a while. Then: nerve agent synthesis, step by step.", 3))
        {
            var step = guard.Push(piece);
            sent += step.Text;
            if (step.BlockedBy is { } b)
            {
                blocked = b;
                break;
            }
        }
        blocked ??= guard.Flush().BlockedBy;
        Assert.Equal("topics.weapons", blocked?.Scanner);
        Assert.DoesNotContain("nerve", sent, StringComparison.Ordinal);
        Assert.StartsWith("Here is a long", sent, StringComparison.Ordinal);
    }
}

public sealed class JsonSchemaValidatorTests
{
    private static JsonElement Schema(string json) => JsonDocument.Parse(json).RootElement;

    private const string Person = """
        {"type":"object","required":["name","age","tags"],"additionalProperties":false,
         "properties":{"name":{"type":"string","minLength":1},"age":{"type":"integer","minimum":0},
           "tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2},
           "address":{"$ref":"#/$defs/address"}},
         "$defs":{"address":{"type":"object","required":["city"],"properties":{"city":{"type":["string","null"]}}}}}
        """;

    [Theory]
    [InlineData("""{"name":"Ann","age":3,"tags":["a"]}""", null)]
    [InlineData("""{"name":"Ann","age":3,"tags":[],"address":{"city":null}}""", null)]
    [InlineData("""{"name":"Ann","age":3.5,"tags":[]}""", "$.age: expected integer")]
    [InlineData("""{"name":"","age":3,"tags":[]}""", "$.name: is 0 characters long")]
    [InlineData("""{"name":"Ann","age":-1,"tags":[]}""", "$.age: -1 is less than the minimum 0")]
    [InlineData("""{"name":"Ann","age":3}""", "$: missing required property 'tags'")]
    [InlineData("""{"name":"Ann","age":3,"tags":["c"]}""", "$.tags[0]:")]
    [InlineData("""{"name":"Ann","age":3,"tags":["a","b","a"]}""", "$.tags: has 3 items")]
    [InlineData("""{"name":"Ann","age":3,"tags":[],"x":1}""", "$: property 'x' is not allowed")]
    [InlineData("""{"name":"Ann","age":3,"tags":[],"address":{}}""", "$.address: missing required property 'city'")]
    [InlineData("""{"name":"Ann",""", "not valid JSON")]
    public void Validates(string json, string? expected)
    {
        var error = JsonSchemaValidator.Validate(json, Schema(Person));
        if (expected is null)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.NotNull(error);
            Assert.StartsWith(expected, error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AnyOf_OneOf_Not()
    {
        var schema = Schema("""{"anyOf":[{"type":"string"},{"type":"number"}],"not":{"const":"x"}}""");
        Assert.Null(JsonSchemaValidator.Validate("\"y\"", schema));
        Assert.Null(JsonSchemaValidator.Validate("2", schema));
        Assert.Contains("anyOf", JsonSchemaValidator.Validate("true", schema), StringComparison.Ordinal);
        Assert.Contains("not", JsonSchemaValidator.Validate("\"x\"", schema), StringComparison.Ordinal);
        var one = Schema("""{"oneOf":[{"type":"integer"},{"type":"number"}]}""");
        Assert.Contains("matches 2 of oneOf", JsonSchemaValidator.Validate("3", one), StringComparison.Ordinal);
        Assert.Null(JsonSchemaValidator.Validate("3.5", one));
    }

    [Fact]
    public void RefCycle_IsReported_NotAStackOverflow()
    {
        var schema = Schema("""{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}}""");
        Assert.Contains("deeper than", JsonSchemaValidator.Validate("1", schema), StringComparison.Ordinal);
    }
}

public sealed class UrlScannerTests
{
    [Fact]
    public void AllowList_DomainAndSubdomains_WildcardOnlySubdomains()
    {
        var scanner = new UrlScanner(["example.com", "*.corp.test"]);
        const string text = "a https://example.com/x b http://docs.example.com:8080/y?q=1 c https://corp.test/ d https://api.corp.test e https://evil.com/example.com f https://user@notexample.com.";
        var found = scanner.Scan(text).Findings.Select(f => text[f.Start..f.End]).ToList();
        Assert.Equal(["https://corp.test/", "https://evil.com/example.com", "https://user@notexample.com"], found);
    }

    [Fact]
    public void NoUrl_NoFinding() => Assert.False(new UrlScanner([]).Scan("ratio 3://4 and mailto:x").HasFindings);
}

public sealed class TopicScannerTests
{
    private static readonly TopicScanner Scanner = new([
        new TopicDefinition { Name = "medical", Keywords = ["dosage", "诊断"], Patterns = [@"\bprescri\w+"], Examples = ["which medicine should I take for my headache"] },
    ]);

    [Theory]
    [InlineData("What dosage is safe?", true)]
    [InlineData("Can you prescribe something?", true)]
    [InlineData("请帮我诊断一下", true)]
    [InlineData("Which medicine should I take for a headache?", true)]
    [InlineData("The dosages table", false)] // keyword on word boundaries only
    [InlineData("What is the capital of France?", false)]
    [InlineData("Book me a table for two tonight.", false)]
    public void Finds(string text, bool expected) => Assert.Equal(expected, Scanner.Scan(text).HasFindings);

    [Fact]
    public void InvalidPattern_IsReported() => Assert.NotNull(TopicScanner.ValidatePattern("(unclosed"));
}

public sealed class StreamGuardProseTests
{
    [Fact]
    public void LongMixedProse_InTokenSizedChunks_MatchesScanningItWhole()
    {
        string[] parts =
        [
            "Hi team, I looked into the billing issue from yesterday and here is what I found. ",
            "The customer wrote from jane.roe@example.org and asked us to call back on +44 20 7946 0958 after 5pm. ",
            "Their order 20240517-3341 shipped on 2024-05-17 but the tracking page shows an error. ",
            "We also saw requests from 203.0.113.42 failing with a 502 while the deploy was running. ",
            "The config uses api_key = ${PAYMENTS_KEY} and the commit 9f2c4e1a7b3d5f60 fixed the retry loop. ",
        ];
        var answer = string.Concat(Enumerable.Repeat(string.Concat(parts), 5));
        var engine = new GuardrailEngine([GuardrailScanners.Get("pii")!, GuardrailScanners.Get("secrets")!], new GuardrailPolicy
        {
            Actions = new Dictionary<string, GuardrailAction> { ["pii"] = GuardrailAction.Redact, ["secrets"] = GuardrailAction.Redact },
        });
        foreach (var size in new[] { 1, 4, 13 })
        {
            var guard = new StreamGuard(engine, null, holdBack: 64);
            var sent = new System.Text.StringBuilder();
            for (var i = 0; i < answer.Length; i += size)
            {
                sent.Append(guard.Push(answer.Substring(i, Math.Min(size, answer.Length - i))).Text);
            }
            sent.Append(guard.Flush().Text);
            Assert.Equal(engine.Evaluate(answer).Text, sent.ToString());
        }
    }
}
