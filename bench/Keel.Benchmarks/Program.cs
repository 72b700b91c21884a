using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Keel.Benchmarks -- --filter '*Tokenizer*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
