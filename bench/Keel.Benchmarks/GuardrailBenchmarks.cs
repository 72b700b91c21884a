using System.Text;
using BenchmarkDotNet.Attributes;
using Keel.Core.Guardrails;

namespace Keel.Benchmarks;

/// <summary>
/// Cost of the default input guardrail scanners (pii, secrets, injection, toxicity) per request text.
/// Budget: ≤ 100 µs per KB together, linear in size; pathological 1 MB inputs (digits, separators, brackets,
/// '@' runs, one long token) ≤ 50 ms. The texts are synthetic (built here), not taken from any dataset.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class GuardrailBenchmarks
{
    private static readonly IScanner s_pii = GuardrailScanners.Get(GuardrailScanners.Pii)!;
    private static readonly IScanner s_secrets = GuardrailScanners.Get(GuardrailScanners.Secrets)!;
    private static readonly IScanner s_injection = GuardrailScanners.Get(GuardrailScanners.Injection)!;
    private static readonly IScanner s_toxicity = GuardrailScanners.Get(GuardrailScanners.Toxicity)!;
    private static readonly GuardrailEngine s_engine = GuardrailScanners.CreateDefaultEngine();

    private string _text = "";

    [Params(1, 4, 16)]
    public int Kilobytes { get; set; }

    [GlobalSetup]
    public void Setup() => _text = Prose(Kilobytes * 1024);

    [Benchmark]
    public int Pii() => s_pii.Scan(_text).Findings.Count;

    [Benchmark]
    public int Secrets() => s_secrets.Scan(_text).Findings.Count;

    // A fresh copy each time: the classifiers share one analysis per string, and the benchmark must not
    // measure that cache, except in AllScanners where sharing it is the point.
    [Benchmark]
    public int Injection() => s_injection.Scan(new string(_text.AsSpan())).Findings.Count;

    [Benchmark]
    public int Toxicity() => s_toxicity.Scan(new string(_text.AsSpan())).Findings.Count;

    [Benchmark(Baseline = true)]
    public int AllScanners() => s_engine.Evaluate(new string(_text.AsSpan())).Findings.Count;

    /// <summary>Chat-like prose with a little of everything the scanners look for.</summary>
    internal static string Prose(int length)
    {
        string[] parts =
        [
            "Hi team, I looked into the billing issue from yesterday and here is what I found. ",
            "The customer wrote from jane.roe@example.org and asked us to call back on +44 20 7946 0958 after 5pm. ",
            "Their order 20240517-3341 shipped on 2024-05-17 but the tracking page shows an error. ",
            "Could you summarise the thread below and suggest a polite reply? Please keep it short. ",
            "We also saw requests from 203.0.113.42 failing with a 502 while the deploy was running. ",
            "The config uses api_key = ${PAYMENTS_KEY} and the commit 9f2c4e1a7b3d5f60 fixed the retry loop. ",
            "Honestly the old dashboard was a mess, but the new one is much better and faster to load. ",
            "Remember to kill the stuck worker process before restarting the queue, then check the logs. ",
        ];
        var sb = new StringBuilder(length + 200);
        var i = 0;
        while (sb.Length < length)
        {
            sb.Append(parts[i++ % parts.Length]);
        }
        return sb.ToString(0, length);
    }
}

/// <summary>Inputs built to make naive matchers backtrack or loop: each must scan in ≤ 50 ms per MB.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class GuardrailPathologicalBenchmarks
{
    private static readonly GuardrailEngine s_engine = GuardrailScanners.CreateDefaultEngine();
    private string _text = "";

    [Params("digits", "separators", "brackets", "dotted-digits", "at-signs", "one-token", "hex-colons", "spaced-letters")]
    public string Input { get; set; } = "digits";

    [GlobalSetup]
    public void Setup() => _text = Pathological(Input, 1 << 20);

    [Benchmark]
    public int AllScanners1MB() => s_engine.Evaluate(new string(_text.AsSpan())).Findings.Count;

    internal static string Pathological(string kind, int length) => kind switch
    {
        "digits" => new string('7', length),
        "separators" => string.Concat(Enumerable.Repeat("1-", length / 2)),
        "brackets" => new string('[', length / 2) + new string(']', length / 2),
        "at-signs" => string.Concat(Enumerable.Repeat("a@", length / 2)),
        "one-token" => string.Concat(Enumerable.Repeat("aB3+", length / 4)),
        "dotted-digits" => string.Concat(Enumerable.Repeat("1.", length / 2)),
        "hex-colons" => string.Concat(Enumerable.Repeat("a1:", length / 3)),
        "spaced-letters" => string.Concat(Enumerable.Repeat("i ", length / 2)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>
/// Output guardrails on a streamed answer: a 2 KB answer arriving in 4-character chunks (about the size of one
/// token), scanned through <see cref="Keel.Core.Guardrails.Output.StreamGuard"/> with the PII and secrets scanners
/// redacting and a 64-character hold-back, against scanning the whole answer once.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class StreamGuardBenchmarks
{
    private static readonly GuardrailEngine s_engine = new(
        [GuardrailScanners.Get(GuardrailScanners.Pii)!, GuardrailScanners.Get(GuardrailScanners.Secrets)!],
        new GuardrailPolicy { Actions = new Dictionary<string, GuardrailAction> { ["pii"] = GuardrailAction.Redact, ["secrets"] = GuardrailAction.Redact } });

    private string[] _chunks = [];
    private string _answer = "";

    [GlobalSetup]
    public void Setup()
    {
        _answer = GuardrailBenchmarks.Prose(2048);
        _chunks = [.. Enumerable.Range(0, (_answer.Length + 3) / 4).Select(i => _answer.Substring(i * 4, Math.Min(4, _answer.Length - i * 4)))];
    }

    [Benchmark(Baseline = true)]
    public int WholeAnswerOnce() => s_engine.Evaluate(_answer).Text.Length;

    [Benchmark]
    public int StreamedInChunks()
    {
        var guard = new Keel.Core.Guardrails.Output.StreamGuard(s_engine, null, holdBack: 64);
        var sent = 0;
        foreach (var chunk in _chunks)
        {
            sent += guard.Push(chunk).Text.Length;
        }
        return sent + guard.Flush().Text.Length;
    }
}
