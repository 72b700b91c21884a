using BenchmarkDotNet.Running;
using Keel.Benchmarks;

// dotnet run -c Release --project bench/Keel.Benchmarks -- --filter '*'        (or '*Tokenizer*', '*Routing*', ...)
// dotnet run -c Release --project bench/Keel.Benchmarks -- --fidelity   (what each round trip keeps)
if (args is ["--fidelity"])
{
    return Fidelity.Run();
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
