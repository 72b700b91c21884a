namespace Keel.Core.Guardrails;

/// <summary>
/// One guardrail check over plain text. Implementations are stateless after construction, thread-safe,
/// synchronous and allocate nothing for text they have nothing to say about, so the same instance serves
/// the request path, the scan API and the CLI.
/// </summary>
public interface IScanner
{
    /// <summary>The scanner's family name (<c>pii</c>, <c>secrets</c>, <c>injection</c>, <c>toxicity</c>); see <see cref="GuardrailScanners"/>.</summary>
    string Name { get; }

    /// <summary>Scans <paramref name="text"/>; findings carry exact UTF-16 offsets into it.</summary>
    ScanResult Scan(string text);
}
