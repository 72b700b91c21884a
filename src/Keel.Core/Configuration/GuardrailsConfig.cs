using System.Collections.Frozen;
using Keel.Core.Guardrails;
using Keel.Core.Guardrails.Topics;

namespace Keel.Core.Configuration;

/// <summary>The <c>guardrails:</c> section of keel.yaml: named policies, banned topics, and the default policy.</summary>
public sealed record GuardrailsConfig
{
    /// <summary>The policy for models that do not name one; null = none.</summary>
    public string? Default { get; init; }

    /// <summary>Policies by name.</summary>
    public FrozenDictionary<string, GuardrailPolicyConfig> Policies { get; init; } = FrozenDictionary<string, GuardrailPolicyConfig>.Empty;

    /// <summary>Banned topics, usable by every policy as <c>topics</c> (all) or <c>topics.NAME</c>.</summary>
    public IReadOnlyList<TopicDefinition> Topics { get; init; } = [];
}

/// <summary>One named policy: what is scanned on the way in and on the way out, and what happens to findings.</summary>
public sealed record GuardrailPolicyConfig
{
    public required string Name { get; init; }

    /// <summary>Finding name or dotted prefix → action, for the request's messages. The scanners run are the families named.</summary>
    public FrozenDictionary<string, GuardrailAction> Input { get; init; } = FrozenDictionary<string, GuardrailAction>.Empty;

    /// <summary>Finding name or dotted prefix → action, for the model's answer.</summary>
    public FrozenDictionary<string, GuardrailAction> Output { get; init; } = FrozenDictionary<string, GuardrailAction>.Empty;

    /// <summary>Hosts URLs in answers may point at (the <c>urls</c> output scanner); empty = none.</summary>
    public IReadOnlyList<string> AllowedDomains { get; init; } = [];

    /// <summary>JSON validity (and JSON-Schema conformance) of answers when the request's response_format asks for JSON.</summary>
    public JsonCheckConfig? Json { get; init; }

    /// <summary>Longest answer allowed, in characters; null = no limit.</summary>
    public MaxLengthConfig? MaxLength { get; init; }

    /// <summary>Findings scored below this are ignored.</summary>
    public double MinScore { get; init; }

    /// <summary>Message roles whose text the input scanners read.</summary>
    public IReadOnlyList<string> ScanRoles { get; init; } = ["user", "tool"];

    /// <summary>Characters of a streamed answer held back so that a value split across chunks is still caught.</summary>
    public int StreamHoldBack { get; init; } = 64;

    /// <summary>A configured model asked to confirm (or to look for) injection or toxicity in the request.</summary>
    public SecondOpinionConfig? SecondOpinion { get; init; }

    /// <summary>An OpenAI-compatible moderation endpoint consulted for toxicity in the request.</summary>
    public ModerationConfig? Moderation { get; init; }
}

/// <summary>How a model is used as a guardrail classifier.</summary>
public sealed record SecondOpinionConfig
{
    /// <summary>The model alias that answers (any configured alias).</summary>
    public required string Model { get; init; }

    /// <summary>The scanner families it judges: <c>injection</c>, <c>toxicity</c>.</summary>
    public IReadOnlyList<string> Scanners { get; init; } = ["injection"];

    /// <summary>
    /// <c>confirm</c>: asked only when a local scanner of those families found something, which it keeps or clears
    /// (fewer false positives); <c>always</c>: asked about every scanned text, and a "yes" is a finding of its own.
    /// </summary>
    public string Mode { get; init; } = SecondOpinionModes.Confirm;

    /// <summary>How long the answer may take; past it (or on any error) the local verdict stands.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The second-opinion modes.</summary>
public static class SecondOpinionModes
{
    public const string Confirm = "confirm";
    public const string Always = "always";
}

/// <summary>A provider's moderation endpoint (<c>POST {base_url}/moderations</c>).</summary>
public sealed record ModerationConfig
{
    /// <summary>An <c>openai</c> provider from <c>providers</c> (OpenAI or a compatible server).</summary>
    public required string Provider { get; init; }

    /// <summary>The moderation model.</summary>
    public string Model { get; init; } = "omni-moderation-latest";

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>What to do when an answer that should be JSON is not.</summary>
public sealed record JsonCheckConfig
{
    /// <summary>Block or flag once the repairs are used up.</summary>
    public GuardrailAction Action { get; init; } = GuardrailAction.Block;

    /// <summary>How many times the model is asked again, told what was wrong (non-streaming answers only).</summary>
    public int Repairs { get; init; } = 1;
}

/// <summary>The longest answer allowed.</summary>
public sealed record MaxLengthConfig
{
    public required int Chars { get; init; }
    public GuardrailAction Action { get; init; } = GuardrailAction.Block;
}
