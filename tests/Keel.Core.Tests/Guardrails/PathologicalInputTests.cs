using System.Diagnostics;
using Keel.Core.Guardrails;

namespace Keel.Core.Tests.Guardrails;

/// <summary>
/// Hang guards: inputs that make naive matchers backtrack or rescan. The budget is 50 ms per MB (measured by
/// bench/Keel.Benchmarks, GuardrailPathologicalBenchmarks); here a generous 2 s only catches a super-linear
/// regression without making the test flaky on a busy machine.
/// </summary>
public sealed class PathologicalInputTests
{
    public static TheoryData<string, int> Inputs => new()
    {
        // The inputs named in the budget: 1 MB each.
        { "digits", 1 << 20 },
        { "separators", 1 << 20 },
        { "brackets", 1 << 20 },
        { "dotted-digits", 1 << 20 },
        // Letter-dense soups go through the classifiers at their ordinary (linear) rate, several times slower
        // per byte than the blobs above: a quarter MB keeps the guard meaningful on a Debug build.
        { "at-signs", 1 << 18 },
        { "one-token", 1 << 18 },
        { "hex", 1 << 18 },
        { "spaced", 1 << 18 },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void AllScanners_HugeAdversarialInput_FinishesQuickly(string kind, int length)
    {
        var text = Build(kind, length);
        var engine = GuardrailScanners.CreateDefaultEngine();
        engine.Evaluate("warm up");

        var sw = Stopwatch.StartNew();
        var verdict = engine.Evaluate(text);
        sw.Stop();

        Assert.NotNull(verdict);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"{kind}: {sw.Elapsed.TotalMilliseconds:0} ms");
    }

    internal static string Build(string kind, int length) => kind switch
    {
        "digits" => new string('7', length),
        "separators" => string.Concat(Enumerable.Repeat("1-", length / 2)),
        "brackets" => new string('[', length / 2) + new string(']', length / 2),
        "at-signs" => string.Concat(Enumerable.Repeat("a@", length / 2)),
        "one-token" => string.Concat(Enumerable.Repeat("aB3+", length / 4)),
        "dotted-digits" => string.Concat(Enumerable.Repeat("1.", length / 2)),
        "hex" => string.Concat(Enumerable.Repeat("a1:", length / 3)),
        "spaced" => string.Concat(Enumerable.Repeat("i ", length / 2)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
