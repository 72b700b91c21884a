using Keel.Core.Configuration;

namespace Keel.Core.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    private static readonly Func<string, string?> NoEnv = _ => null;

    [Fact]
    public void Parse_ContractExample_LoadsProvidersAndModelsWithDefaults()
    {
        var yaml = """
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1, api_key: "${OPENAI_API_KEY}" }
              claude: { kind: anthropic, api_key: "${ANTHROPIC_API_KEY}" }
            models:
              gpt-4o-mini: { provider: openai }                      # upstream model name defaults to the alias
              fast: { provider: claude, model: claude-3-5-haiku-latest }
            """;
        var env = new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-test-1", ["ANTHROPIC_API_KEY"] = "sk-ant-2" };

        var result = ConfigLoader.Parse(yaml, "keel.yaml", n => env.GetValueOrDefault(n));

        Assert.True(result.Success, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.Equal("sk-test-1", config.Providers["openai"].ApiKey);
        Assert.Equal("https://api.anthropic.com/v1", config.Providers["claude"].BaseUrl);
        Assert.Equal("gpt-4o-mini", config.Models["gpt-4o-mini"].Deployments[0].Model);
        Assert.Equal("claude-3-5-haiku-latest", config.Models["fast"].Deployments[0].Model);
        Assert.Contains("local/echo", config.Models.Keys);
        Assert.Equal(ProviderKinds.Local, config.Providers["local"].Kind);
        Assert.True(config.Server.InlineIo);
    }

    [Fact]
    public void Parse_InlineIoOff_KeepsTheOtherServerSettings()
    {
        var result = ConfigLoader.Parse("server:\n  max_request_body_bytes: 4096\n  inline_io: false\n", "k.yaml", NoEnv);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.False(result.Config!.Server.InlineIo);
        Assert.Equal(4096, result.Config.Server.MaxRequestBodyBytes);
    }

    [Fact]
    public void Parse_SeveralMistakes_ReportsEveryErrorWithLineAndField()
    {
        var yaml = """
            providers:
              openai: { kind: opena, api_key: x }
              other: { kind: openai, bse_url: http://x }
            models:
              chat: { provider: nowhere }
            """;

        var result = ConfigLoader.Parse(yaml, "keel.yaml", NoEnv);

        Assert.False(result.Success);
        var messages = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.StartsWith("keel.yaml:2:", StringComparison.Ordinal) && m.Contains("providers.openai.kind: unknown provider kind 'opena'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("keel.yaml:3:", StringComparison.Ordinal) && m.Contains("providers.other.bse_url: unknown field 'bse_url'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("keel.yaml:5:", StringComparison.Ordinal) && m.Contains("models.chat.provider: unknown provider 'nowhere'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_UnsetEnvironmentVariable_IsAnErrorNamingTheVariableButNotAValue()
    {
        var result = ConfigLoader.Parse("providers:\n  p: { kind: openai, api_key: \"${MISSING_KEY}\" }\n", "k.yaml", NoEnv);

        var error = Assert.Single(result.Errors);
        Assert.Equal("providers.p.api_key", error.Field);
        Assert.Equal(2, error.Line);
        Assert.Contains("MISSING_KEY is not set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EnvironmentVariableWithDefault_UsesTheDefault()
    {
        var result = ConfigLoader.Parse("providers:\n  p: { kind: openai, base_url: \"${BASE:-http://127.0.0.1:9/v1}\" }\n", "k.yaml", NoEnv);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal("http://127.0.0.1:9/v1", result.Config!.Providers["p"].BaseUrl);
    }

    [Fact]
    public void Parse_InvalidYaml_ReportsThePosition()
    {
        var result = ConfigLoader.Parse("providers:\n  p: { kind: openai\n", "k.yaml", NoEnv);

        var error = Assert.Single(result.Errors);
        Assert.True(error.Line >= 2);
        Assert.StartsWith("invalid YAML", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reserved", "providers:\n  local: { kind: openai }\n", "reserved")]
    [InlineData("azure needs a version", "providers:\n  az: { kind: azure, base_url: https://x.openai.azure.com/openai }\n", "api_version")]
    [InlineData("bad url", "providers:\n  p: { kind: openai, base_url: not-a-url }\n", "not an absolute http(s) URL")]
    [InlineData("bad timeout", "providers:\n  p: { kind: openai, timeout: soon }\n", "not a duration")]
    [InlineData("unknown local model", "models:\n  m: { provider: local, model: gpt }\n", "echo, extractive and hash-embed")]
    [InlineData("root not a map", "- a\n- b\n", "must be a mapping")]
    [InlineData("inline_io not a bool", "server:\n  inline_io: sometimes\n", "k.yaml:2:14: server.inline_io: 'sometimes' must be true or false")]
    public void Parse_InvalidValue_ExplainsHowToFixIt(string because, string yaml, string expected)
    {
        var result = ConfigLoader.Parse(yaml, "k.yaml", NoEnv);

        Assert.False(result.Success, because);
        Assert.Contains(result.Errors, e => e.ToString().Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_MasterKeyFromEnvironment_IsUsedWhenConfigHasNone()
    {
        var result = ConfigLoader.Parse("", "k.yaml", n => n == "KEEL_MASTER_KEY" ? "mk-123456" : null);

        Assert.Equal("mk-123456", result.Config!.Auth.MasterKey);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5", 1_500)]
    public void TryParseDuration_ValidText_Parses(string text, double milliseconds)
    {
        Assert.True(ConfigLoader.TryParseDuration(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds);
    }
}
