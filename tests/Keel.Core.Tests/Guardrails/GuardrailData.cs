using Xunit.Abstractions;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Keel.Core.Guardrails.Learning;

namespace Keel.Core.Tests.Guardrails;

/// <summary>
/// Reads the shared labelled guardrail data at run time (never copied into the repository) and the hand-written
/// examples committed next to these tests.
/// </summary>
internal static class GuardrailData
{
    private static readonly Lazy<string> s_dir = new(() =>
        DataSplit.FindDatasets(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException(
            $"shared/datasets/guardrails was not found above {AppContext.BaseDirectory}: the repository must sit next to the workspace's shared/ folder."));

    public static string Directory => s_dir.Value;

    public static IEnumerable<JsonElement> Rows(string file) => ReadJsonl(Path.Combine(Directory, file));

    public static IEnumerable<JsonElement> Local(string file) =>
        ReadJsonl(Path.Combine(AppContext.BaseDirectory, "Guardrails", "Data", file));

    private static IEnumerable<JsonElement> ReadJsonl(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                yield return JsonDocument.Parse(line).RootElement.Clone();
            }
        }
    }
}

/// <summary>Confusion counts and the usual figures.</summary>
internal sealed class Counts
{
    public int Tp { get; set; }

    public int Fp { get; set; }

    public int Fn { get; set; }

    public int Tn { get; set; }

    public void Add(bool label, bool predicted)
    {
        if (label)
        {
            if (predicted) { Tp++; } else { Fn++; }
        }
        else if (predicted) { Fp++; }
        else { Tn++; }
    }

    public double Precision => Tp + Fp == 0 ? 1 : Tp / (double)(Tp + Fp);

    public double Recall => Tp + Fn == 0 ? 1 : Tp / (double)(Tp + Fn);

    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

    public double Fpr => Fp + Tn == 0 ? 0 : Fp / (double)(Fp + Tn);

    public static string Header => "| slice | n | pos | TP | FP | FN | precision | recall | F1 | FPR |\n|---|---|---|---|---|---|---|---|---|---|";

    public string Row(string name) => string.Format(CultureInfo.InvariantCulture,
        "| {0} | {1} | {2} | {3} | {4} | {5} | {6:0.000} | {7:0.000} | {8:0.000} | {9:0.000} |",
        name, Tp + Fp + Fn + Tn, Tp + Fn, Tp, Fp, Fn, Precision, Recall, F1, Fpr);
}

/// <summary>Collects a markdown report, prints it to the test output and to a file under the test output directory.</summary>
internal sealed class Report(ITestOutputHelper output, string name)
{
    private readonly StringBuilder _sb = new();

    public void Line(string line) => _sb.AppendLine(line);

    public void Table(string title, IEnumerable<(string Name, Counts Counts)> rows)
    {
        _sb.AppendLine().AppendLine("### " + title).AppendLine(Counts.Header);
        foreach (var (n, c) in rows)
        {
            _sb.AppendLine(c.Row(n));
        }
    }

    public void Flush()
    {
        var text = _sb.ToString();
        output.WriteLine(text);
        var dir = Path.Combine(AppContext.BaseDirectory, "guardrail-eval");
        System.IO.Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, name + ".md"), text);
    }
}
