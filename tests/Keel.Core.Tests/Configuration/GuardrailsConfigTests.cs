using Keel.Core.Configuration;
using Keel.Core.Guardrails;

namespace Keel.Core.Tests.Configuration;

public sealed class GuardrailsConfigTests
{
    private static ConfigLoadResult Parse(string yaml) => ConfigLoader.Parse(yaml, "keel.yaml", _ => null);

    [Fact]
    public void Policies_Topics_Default_AndModelReference_Load()
    {
        var result = Parse("""
            models:
              a: { provider: local, model: echo, guardrails: strict }
              b: { provider: local, model: echo, guardrails: none }
              c: { provider: local, model: echo }
            guardrails:
              default: relaxed
              topics:
                medical: { keywords: [dosage], examples: ["what medicine should I take"], threshold: 0.6 }
              policies:
                strict:
                  input: { pii: redact, pii.email: redact-reversible, injection: block, injection.classifier: flag, topics.medical: block }
                  output: { pii: redact, urls: redact }
                  allowed_domains: [example.com]
                  json: { action: block, repairs: 2 }
                  max_length: { chars: 4000, action: flag }
                  scan_roles: [user]
                  stream_hold_back: 96
                relaxed:
                  input: { secrets: redact }
            """);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        var g = result.Config!.Guardrails;
        var strict = g.Policies["strict"];
        Assert.Equal(GuardrailAction.RedactReversible, strict.Input["pii.email"]);
        Assert.Equal(2, strict.Json!.Repairs);
        Assert.Equal(4000, strict.MaxLength!.Chars);
        Assert.Equal(["user"], strict.ScanRoles);
        Assert.Equal(96, strict.StreamHoldBack);
        Assert.Equal(0.6, g.Topics.Single().Threshold);

        var set = new GuardrailPolicySet(g);
        Assert.Equal("strict", set.For(result.Config.Models["a"])!.Name);
        Assert.Null(set.For(result.Config.Models["b"]));
        Assert.Equal("relaxed", set.For(result.Config.Models["c"])!.Name);
        Assert.Equal(["pii", "injection", "topics"], set.Policies["strict"].Input!.Scanners.Select(s => s.Name));
    }

    [Fact]
    public void Mistakes_AreReportedWithLineAndField()
    {
        var result = Parse("""
            models:
              a: { provider: local, model: echo, guardrails: strickt }
            guardrails:
              topics:
                empty: {}
                bad: { patterns: ["(unclosed"] }
              policies:
                strict:
                  input: { pi: redact, pii: erase, topics.nope: block }
                  output: { json: block }
                  max_length: { action: block }
                  scan_roles: [robot]
            """);

        Assert.False(result.Success);
        var errors = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.Contains("keel.yaml:2:", StringComparison.Ordinal) && e.Contains("models.a.guardrails", StringComparison.Ordinal) && e.Contains("unknown guardrail policy 'strickt'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.topics.empty", StringComparison.Ordinal) && e.Contains("at least one of", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.topics.bad.patterns", StringComparison.Ordinal) && e.Contains("not a usable regular expression", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.policies.strict.input.pi", StringComparison.Ordinal) && e.Contains("unknown scanner 'pi'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.policies.strict.input.pii", StringComparison.Ordinal) && e.Contains("unknown action 'erase'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("unknown topic 'nope'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.policies.strict.output.json", StringComparison.Ordinal) && e.Contains("unknown scanner 'json'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.policies.strict.max_length.chars", StringComparison.Ordinal) && e.Contains("is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("unknown role 'robot'", StringComparison.Ordinal));
    }

    [Fact]
    public void Advisors_ReferencesAreChecked()
    {
        var result = Parse("""
            providers:
              claude: { kind: anthropic, api_key: x }
            models:
              judge: { provider: claude, model: m }
            guardrails:
              policies:
                good:
                  input: { injection: block }
                  second_opinion: { model: judge, scanners: [injection, toxicity], mode: always, timeout: 2s }
                bad:
                  input: { injection: block }
                  second_opinion: { model: nobody, scanners: [pii], mode: sometimes }
                  moderation: { provider: claude }
            """);

        Assert.False(result.Success);
        var errors = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.Contains("guardrails.policies.bad.second_opinion.model", StringComparison.Ordinal) && e.Contains("unknown model alias 'nobody'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'pii' cannot be judged by a model", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("unknown mode 'sometimes'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("guardrails.policies.bad.moderation.provider", StringComparison.Ordinal) && e.Contains("needs an openai provider", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("policies.good", StringComparison.Ordinal));
    }
}
