using System.Collections.Frozen;
using Keel.Core.Guardrails.Injection;
using Keel.Core.Guardrails.Pii;
using Keel.Core.Guardrails.Secrets;
using Keel.Core.Guardrails.Toxicity;

namespace Keel.Core.Guardrails;

/// <summary>
/// The built-in scanners by name. Instances are created once and shared (the learned models load lazily from
/// embedded resources on first use).
/// </summary>
public static class GuardrailScanners
{
    /// <summary>E-mail, phone, card, IBAN, US SSN, IP, Chinese ID numbers (<c>pii.*</c> findings, redactable).</summary>
    public const string Pii = "pii";

    /// <summary>Provider API keys, private keys, JWTs, connection-string passwords, high-entropy tokens (<c>secrets.*</c>, redactable).</summary>
    public const string Secrets = "secrets";

    /// <summary>Prompt injection and jailbreaks, English and Chinese, including encoded and invisible payloads (<c>injection.*</c>).</summary>
    public const string Injection = "injection";

    /// <summary>Toxic, hateful and threatening text, English and Chinese (<c>toxicity.*</c>).</summary>
    public const string Toxicity = "toxicity";

    private static readonly Lazy<FrozenDictionary<string, IScanner>> s_all = new(static () => new IScanner[]
    {
        new PiiScanner(),
        new SecretsScanner(),
        new InjectionScanner(),
        new ToxicityScanner(),
    }.ToFrozenDictionary(static s => s.Name, StringComparer.Ordinal));

    /// <summary>Every built-in scanner name, in the default run order.</summary>
    public static IReadOnlyList<string> Names { get; } = [Pii, Secrets, Injection, Toxicity];

    /// <summary>Returns the shared built-in scanner named <paramref name="name"/>, or null when there is none.</summary>
    public static IScanner? Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return s_all.Value.GetValueOrDefault(name);
    }

    /// <summary>The scanners run on requests by default: all four.</summary>
    public static IReadOnlyList<IScanner> DefaultInput() => [.. Names.Select(n => s_all.Value[n])];

    /// <summary>An engine over the default input scanners with <paramref name="policy"/> (default: <see cref="GuardrailPolicy.Default"/>).</summary>
    public static GuardrailEngine CreateDefaultEngine(GuardrailPolicy? policy = null) => new(DefaultInput(), policy);
}
