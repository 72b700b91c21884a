using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Keel.Core.Tokenization;

namespace Keel.Benchmarks;

/// <summary>
/// Tokenizer throughput on the corpus of tests/Keel.Core.Tests/Tokenization/fixtures.json (the cases
/// marked "corpus": Keel's docs and code, Python, many scripts, emoji). bench/tokenizer/js-tiktoken.mjs
/// times js-tiktoken on the same text. Corpus: one call on all of it joined with blank lines;
/// Messages: one call per case, as a gateway counts message by message.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private string _corpus = "";
    private string[] _messages = [];
    private BpeTokenizer _tokenizer = null!;

    [Params(TokenEncodings.O200kBase, TokenEncodings.Cl100kBase)]
    public string Encoding { get; set; } = TokenEncodings.O200kBase;

    [GlobalSetup]
    public void Setup()
    {
        _messages = [.. CorpusCases()];
        _corpus = string.Join("\n\n", _messages);
        _tokenizer = BpeTokenizer.TryGet(Encoding, out var tokenizer) ? tokenizer : throw new InvalidOperationException(Encoding);
        _tokenizer.Encode(_corpus);
    }

    [Benchmark]
    public int[] EncodeCorpus() => _tokenizer.Encode(_corpus);

    [Benchmark]
    public int CountCorpus() => _tokenizer.CountTokens(_corpus);

    [Benchmark]
    public int EncodeMessages()
    {
        var total = 0;
        foreach (var message in _messages)
        {
            total += _tokenizer.Encode(message).Length;
        }

        return total;
    }

    /// <summary>The first-use cost: decompress the embedded vocabulary and build its hash table.</summary>
    [Benchmark]
    public int LoadVocabulary() => BpeTokenizer.Load(Encoding).VocabularySize;

    /// <summary>The UTF-8 bytes each benchmark tokenizes per operation.</summary>
    internal static long BytesPerOperation(string benchmark)
    {
        var cases = CorpusCases();
        return benchmark == nameof(EncodeMessages)
            ? cases.Sum(c => (long)System.Text.Encoding.UTF8.GetByteCount(c))
            : System.Text.Encoding.UTF8.GetByteCount(string.Join("\n\n", cases));
    }

    internal static List<string> CorpusCases()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Keel.slnx")))
        {
            directory = directory.Parent;
        }

        var path = Path.Combine(
            directory?.FullName ?? throw new InvalidOperationException("Run the benchmarks from inside the Keel repository."),
            "tests", "Keel.Core.Tests", "Tokenization", "fixtures.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return [.. document.RootElement.GetProperty("cases").EnumerateArray()
            .Where(c => c.TryGetProperty("corpus", out var corpus) && corpus.GetBoolean())
            .Select(c => c.GetProperty("text").GetString()!)];
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(15));
            AddColumn(new ThroughputColumn());
        }
    }

    /// <summary>MB/s (10^6 bytes of UTF-8 input per second) from the median time.</summary>
    private sealed class ThroughputColumn : IColumn
    {
        public string Id => nameof(ThroughputColumn);
        public string ColumnName => "MB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Megabytes (10^6) of UTF-8 input tokenized per second, from the median";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var statistics = summary[benchmarkCase]?.ResultStatistics;
            if (statistics is null || benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(LoadVocabulary))
            {
                return "-";
            }

            var bytes = BytesPerOperation(benchmarkCase.Descriptor.WorkloadMethod.Name);
            return (bytes / (statistics.Median / 1e9) / 1e6).ToString("F1", CultureInfo.InvariantCulture);
        }

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;
    }
}
