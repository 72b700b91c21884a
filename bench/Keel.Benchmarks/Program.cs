using System.Diagnostics;
using BenchmarkDotNet.Running;
using Keel.Benchmarks;
using Keel.Core.Guardrails;
using Keel.Core.Guardrails.Text;

// dotnet run -c Release --project bench/Keel.Benchmarks -- --filter '*'        (or '*Guardrail*', '*Tokenizer*', '*Routing*', ...)
// dotnet run -c Release --project bench/Keel.Benchmarks -- --fidelity   (what each round trip keeps)
// dotnet run -c Release --project bench/Keel.Benchmarks -- profile-guardrails   (quick stopwatch split, no BenchmarkDotNet)
if (args is ["--fidelity"])
{
    return Fidelity.Run();
}

if (args is ["scan", var sample])
{
    foreach (var f in GuardrailScanners.CreateDefaultEngine().Evaluate(sample).Findings)
    {
        Console.WriteLine($"{f.Scanner} {f.Action} {f.Start}-{f.End} {f.Score:0.000} '{sample[f.Start..f.End]}'");
    }
    return 0;
}
if (args is ["profile-chunk", ..])
{
    foreach (var kind in new[] { "at-signs", "one-token", "hex-colons", "spaced-letters" })
    {
        var chunk = GuardrailPathologicalBenchmarks.Pathological(kind, 8192);
        var inj = Keel.Core.Guardrails.Learning.LinearModel.LoadEmbedded("injection");
        for (var w = 0; w < 200; w++)
        {
            using var a0 = AnalyzedText.Create(chunk);
            Keel.Core.Guardrails.Injection.InjectionRules.Evaluate(a0);
        }
        var sw = Stopwatch.StartNew();
        for (var w = 0; w < 100; w++)
        {
            using var a0 = AnalyzedText.Create(chunk);
        }
        var analysis = sw.Elapsed.TotalMicroseconds / 100;
        using var a = AnalyzedText.Create(chunk);
        sw.Restart();
        for (var w = 0; w < 100; w++)
        {
            Keel.Core.Guardrails.Injection.InjectionRules.Evaluate(a);
        }
        var rules = sw.Elapsed.TotalMicroseconds / 100;
        sw.Restart();
        for (var w = 0; w < 100; w++)
        {
            inj.Score(a, []);
        }
        var dot = sw.Elapsed.TotalMicroseconds / 100;
        sw.Restart();
        for (var w = 0; w < 100; w++)
        {
            GuardrailScanners.Get("injection")!.Scan(new string(chunk.AsSpan()));
        }
        var scan = sw.Elapsed.TotalMicroseconds / 100;
        Console.WriteLine($"{kind,-14} analysis {analysis,7:0.0} us  rules {rules,7:0.0} us  dot {dot,7:0.0} us  scan {scan,7:0.0} us  tokens {a.TokenCount} features {a.FeatureCount}");
    }
    return 0;
}
if (args is ["profile-pathological", ..])
{
    foreach (var kind in new[] { "digits", "separators", "brackets", "dotted-digits", "at-signs", "one-token", "hex-colons", "spaced-letters" })
    {
        var big = GuardrailPathologicalBenchmarks.Pathological(kind, 1 << 20);
        foreach (var name in GuardrailScanners.Names)
        {
            var scanner = GuardrailScanners.Get(name)!;
            for (var w = 0; w < 30; w++)
            {
                scanner.Scan(new string(big.AsSpan(0, 20000)));
            }
            var copy = new string(big.AsSpan());
            GC.Collect();
            var sw = Stopwatch.StartNew();
            scanner.Scan(copy);
            Console.WriteLine($"{kind,-14} {name,-10} {sw.Elapsed.TotalMilliseconds,8:0.0} ms");
        }
    }
    return 0;
}
if (args is ["profile-guardrails", ..])
{
    ProfileGuardrails();
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

static void ProfileGuardrails()
{
    var text = GuardrailBenchmarks.Prose(1024);
    var copies = Enumerable.Range(0, 64).Select(_ => new string(text.AsSpan())).ToArray();
    void Time(string name, Action<string> action)
    {
        for (var i = 0; i < 2000; i++)
        {
            action(copies[i % copies.Length]);
        }
        const int n = 20000;
        // CPU time, not wall time: the machine is shared, and other processes' load should not count.
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            action(copies[i % copies.Length]);
        }
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.WriteLine($"{name,-28} {used.TotalMicroseconds / n,8:0.0} us CPU per KB ({sw.Elapsed.TotalMicroseconds / n:0.0} us wall)");
    }

    Time("analysis (fresh)", t => AnalyzedText.Create(t).Dispose());
    Time("pii", t => GuardrailScanners.Get("pii")!.Scan(t));
    Time("secrets", t => GuardrailScanners.Get("secrets")!.Scan(t));
    Time("injection (shared analysis)", t => GuardrailScanners.Get("injection")!.Scan(t));
    Time("toxicity (shared analysis)", t => GuardrailScanners.Get("toxicity")!.Scan(t));
    var analyses = copies.Select(AnalyzedText.Create).ToArray();
    var j = 0;
    var injModel = Keel.Core.Guardrails.Learning.LinearModel.LoadEmbedded("injection");
    Time("  model dot", _ => injModel.Score(analyses[j++ % analyses.Length], []));
    Time("  injection rules", _ => Keel.Core.Guardrails.Injection.InjectionRules.Evaluate(analyses[j++ % analyses.Length]));
    Time("  toxicity extras", _ =>
    {
        Span<int> extras = stackalloc int[256];
        Keel.Core.Guardrails.Toxicity.ToxicityScanner.Extras(analyses[j++ % analyses.Length], extras, out var _);
    });
    var engine = GuardrailScanners.CreateDefaultEngine();
    var k = 0;
    Time("all (fresh string)", t => engine.Evaluate(new string(copies[k++ % copies.Length].AsSpan())));
}
