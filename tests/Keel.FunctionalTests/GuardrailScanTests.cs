using System.Net;
using System.Text.Json.Nodes;

namespace Keel.FunctionalTests;

/// <summary>The scan API and <c>keel guard scan</c>: policies tested on text, no model called.</summary>
public sealed class GuardrailScanTests
{
    private const string Yaml = """
        guardrails:
          topics:
            pricing: { keywords: [discount code] }
          policies:
            support:
              input: { pii: redact, topics: block }
              output: { pii.email: flag }
              max_length: { chars: 10, action: block }
        """;

    [Fact]
    public async Task ScanApi_SingleText_ReturnsVerdictFindingsAndRedactedText()
    {
        await using var keel = await KeelTestServer.StartAsync(Yaml);

        using var response = await keel.PostJsonAsync("/v1/guardrails/scan", """{"input":"mail ann@example.com now","policy":"support"}""");
        var json = await KeelTestServer.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("support", (string?)json["policy"]);
        Assert.True((bool)json["flagged"]!);
        Assert.False((bool)json["blocked"]!);
        Assert.Equal("mail [EMAIL] now", (string?)json["text"]);
        var finding = json["findings"]![0]!;
        Assert.Equal(("pii.email", "redact", 5, 20), ((string?)finding["scanner"], (string?)finding["action"], (int)finding["start"]!, (int)finding["end"]!));
    }

    [Fact]
    public async Task ScanApi_ArrayAndOutputDirection()
    {
        await using var keel = await KeelTestServer.StartAsync(Yaml);

        using var response = await keel.PostJsonAsync("/v1/guardrails/scan", """{"input":["any discount code?","hi"],"policy":"support"}""");
        var results = (await KeelTestServer.ReadJsonAsync(response))["results"]!.AsArray();
        using var output = await keel.PostJsonAsync("/v1/guardrails/scan", """{"input":"write to ann@example.com","policy":"support","direction":"output"}""");
        var outJson = await KeelTestServer.ReadJsonAsync(output);

        Assert.True((bool)results[0]!["blocked"]!);
        Assert.Equal("topics.pricing", (string?)results[0]!["findings"]![0]!["scanner"]);
        Assert.False((bool)results[1]!["flagged"]!);
        Assert.True((bool)outJson["blocked"]!); // over max_length
        Assert.Equal("write to ann@example.com", (string?)outJson["text"]); // e-mail only flagged on output
        Assert.Contains(outJson["findings"]!.AsArray(), f => (string?)f!["scanner"] == "max_length.exceeded");
    }

    [Theory]
    [InlineData("""{"policy":"support"}""", 400, "'input' is required")]
    [InlineData("""{"input":42}""", 400, "'input' must be a string or an array")]
    [InlineData("""{"input":"x","direction":"sideways"}""", 400, "'direction' must be")]
    [InlineData("""{"input":"x","policy":"nope"}""", 404, "Unknown guardrail policy 'nope'")]
    [InlineData("""{"input":""", 400, "not valid JSON")]
    public async Task ScanApi_BadInput_ClearError(string body, int status, string message)
    {
        await using var keel = await KeelTestServer.StartAsync(Yaml);

        using var response = await keel.PostJsonAsync("/v1/guardrails/scan", body);
        var json = await KeelTestServer.ReadJsonAsync(response);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, (string?)json["error"]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_LinesJson_OneObjectPerLine_WithTheContractShape()
    {
        var directory = Directory.CreateTempSubdirectory("keel-guard-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "keel.yaml"), Yaml);
            var (code, stdout, stderr) = await KeelCli.RunAsync("mail ann@example.com\r\nfine text\nany discount code?\n", directory,
                "guard", "scan", "--policy", "support", "--lines", "--json");

            Assert.True(code == 0, stderr);
            var lines = stdout.TrimEnd('\n').Split('\n');
            Assert.Equal(3, lines.Length);
            var first = JsonNode.Parse(lines[0])!.AsObject();
            Assert.Equal(["flagged", "blocked", "findings", "text"], first.Select(p => p.Key));
            Assert.Equal("mail [EMAIL]", (string?)first["text"]);
            var f = first["findings"]![0]!.AsObject();
            Assert.Equal(["scanner", "action", "start", "end", "score"], f.Select(p => p.Key));
            Assert.False((bool)JsonNode.Parse(lines[1])!["flagged"]!);
            Assert.True((bool)JsonNode.Parse(lines[2])!["blocked"]!);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Cli_HumanOutput_AndUnknownPolicy()
    {
        var (code, stdout, _) = await KeelCli.RunAsync("card 4111 1111 1111 1111 ok", null, "guard", "scan");
        var (badCode, _, badErr) = await KeelCli.RunAsync("x", null, "guard", "scan", "--policy", "nope");

        Assert.Equal(0, code);
        Assert.Contains("pii.credit_card", stdout, StringComparison.Ordinal);
        Assert.Contains("card [CREDIT_CARD] ok", stdout, StringComparison.Ordinal);
        Assert.Equal(2, badCode);
        Assert.Contains("Unknown guardrail policy 'nope'", badErr, StringComparison.Ordinal);
    }
}
