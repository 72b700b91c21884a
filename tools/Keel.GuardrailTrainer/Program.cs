using System.Globalization;
using System.Text.Json;
using Keel.Core.Guardrails.Injection;
using Keel.Core.Guardrails.Learning;
using Keel.Core.Guardrails.Text;
using Keel.Core.Guardrails.Toxicity;

// Trains Keel's learned guardrail scorers on the training split of the shared labelled data and writes them
// where Keel.Core embeds them. Usage (from the repository root):
//   dotnet run --project tools/Keel.GuardrailTrainer -c Release -- [--data DIR] [--out DIR] [--sweep]
// The split is DataSplit.IsHeldOut (held-out rows are never read here beyond being skipped); the decision
// threshold is chosen on out-of-fold scores of the training rows, never on held-out rows.

var data = Arg("--data") ?? DataSplit.FindDatasets(Directory.GetCurrentDirectory())
    ?? throw new InvalidOperationException("shared/datasets/guardrails not found above the current directory; pass --data DIR.");
var outDir = Arg("--out") ?? Path.Combine(Directory.GetCurrentDirectory(), "src", "Keel.Core", "Guardrails", "Models");
var sweep = args.Contains("--sweep");
// Injection operating point: the highest out-of-fold recall at a false-positive rate of at most this.
var MaxFpr = double.Parse(Arg("--max-fpr") ?? "0.025", CultureInfo.InvariantCulture);
var Seeds = int.Parse(Arg("--seeds") ?? "3", CultureInfo.InvariantCulture);
Directory.CreateDirectory(outDir);

// Ordinary text that is certainly neither an injection nor toxic: the training rows of the other data sets
// (the non-toxic rows of the toxicity set; toxic rows share too much vocabulary with jailbreaks to serve as
// "benign" for injection). The injection data's benign rows are mostly questions and requests, so without these a
// plain statement ("This movie was so bad it was almost good.") looks unlike anything benign the model has seen.
// They only ever add negatives to training; thresholds and reported figures use the task's own rows.
var piiSentences = LoadTexts(Path.Combine(data, "pii_spans.jsonl"));
var nonToxicTexts = Load(Path.Combine(data, "toxicity.jsonl")).Where(r => !r.Label).Select(r => r.Text).ToList();

// Chosen by --sweep on out-of-fold scores of the training rows. Injection: N^-0.7 scaling is the least
// sensitive to text length that still separates (mean pooling, N^-1, loses short attacks).
Train("injection", Load(Path.Combine(data, "injection.jsonl")), [.. nonToxicTexts, .. piiSentences], InjectionFeatures, Injection: true, new TrainerOptions { Power = 0.7f });
Train("toxicity", Load(Path.Combine(data, "toxicity.jsonl")), piiSentences, ToxicityFeatures, Injection: false, new TrainerOptions { Power = 0.5f });
return 0;

void Train(string name, List<(string Text, bool Label)> rows, List<string> extraNegatives, Func<string, bool, Doc> featurize, bool Injection, TrainerOptions options)
{
    var train = rows.Where(r => !DataSplit.IsHeldOut(r.Text)).ToList();
    var extraWeight = float.Parse(Arg("--extra-weight") ?? "0", CultureInfo.InvariantCulture);
    var extra = extraWeight <= 0 ? [] : extraNegatives.Where(t => !DataSplit.IsHeldOut(t)).Select(t => featurize(t, false))
        .Select(d => d with { Whole = d.Whole with { Weight = extraWeight }, Segments = [] }).ToList();
    Console.WriteLine($"{name}: {train.Count} training rows of {rows.Count} ({train.Count(r => r.Label)} positive), {extra.Count} extra negatives");
    var docs = train.Select(r => featurize(r.Text, r.Label)).ToList();

    // Rules fire regardless of the model: the threshold must leave room for their false positives.
    var ruleFlags = Injection
        ? train.Select(r => new InjectionScanner(null, rulesOnly: true).Scan(r.Text).HasFindings).ToArray()
        : train.Select(r => ToxicityScanner.RulesFlag(r.Text)).ToArray();

    {
        var ruleTp = train.Where((r, i) => r.Label && ruleFlags[i]).Count();
        var ruleFp = train.Where((r, i) => !r.Label && ruleFlags[i]).Count();
        Console.WriteLine($"  rules alone on training rows: {ruleTp}/{train.Count(r => r.Label)} attacks, {ruleFp}/{train.Count(r => !r.Label)} benign flagged");
        if (args.Contains("--show-rule-fp"))
        {
            foreach (var (r, i) in train.Select((r, i) => (r, i)).Where(x => !x.r.Label && ruleFlags[x.i]))
            {
                Console.WriteLine($"    FP: '{r.Text[..Math.Min(r.Text.Length, 160)]}'");
            }
        }
    }

    if (sweep)
    {
        foreach (var o in new[]
        {
            options,
            options with { L2 = 1e-4 },
            options with { Epochs = 20 },
            options with { Power = 0.5f },
            options with { Power = 0.6f, L2 = 1e-4 },
            options with { Power = 0.7f },
            options with { Dropout = 0.2 },
        })
        {
            var unused = 0f;
            var oof = OutOfFold(docs, extra, o, new float[1 << AnalyzedText.BucketBits], ref unused);
            Report($"  sweep {o}", oof, docs, ruleFlags, Injection);
        }
    }

    // The shipped model is the average of the five fold models (a linear model's logits average with its
    // weights): the threshold chosen on their out-of-fold scores then applies to a model calibrated like them,
    // which a model refitted on all rows (more confident) would not be.
    // Several shuffles (seeds) averaged as well: with a thousand rows, the order of SGD steps alone moves a few
    // held-out decisions; the average of 5 folds x 3 seeds is steadier than any one of them.
    var w = new float[1 << AnalyzedText.BucketBits];
    var b = 0f;
    var scores = new double[docs.Count];
    for (var seed = 0; seed < Seeds; seed++)
    {
        var ws = new float[w.Length];
        var bs = 0f;
        var s = OutOfFold(docs, extra, options with { Seed = options.Seed + seed }, ws, ref bs);
        for (var i = 0; i < w.Length; i++)
        {
            w[i] += ws[i] / Seeds;
        }
        b += bs / Seeds;
        for (var i = 0; i < s.Length; i++)
        {
            scores[i] += s[i] / Seeds;
        }
    }
    var threshold = Report("  out-of-fold", scores, docs, ruleFlags, Injection);
    // Fold the threshold into the bias so that a probability of 0.5 means "at the threshold".
    var shifted = b - (float)Math.Log(threshold / (1 - threshold));
    var model = new LinearModel(w, shifted, options.Power);
    var path = Path.Combine(outDir, name + ".bin");
    using (var file = File.Create(path))
    {
        model.Write(file);
    }
    Console.WriteLine($"  wrote {path} (threshold {threshold.ToString("0.000", CultureInfo.InvariantCulture)})");
}

// A document is one example; for injection its paragraphs are examples too: every paragraph of a benign text
// is benign, and the last paragraph of a multi-paragraph attack stands for the attack (an instruction appended
// to a document). Such an attack is not also used whole: its other paragraphs may be an innocent document
// (an e-mail), and learning them as "attack" makes innocent documents of the same kind look like attacks.
// A document's score is the highest of its own and its paragraphs'.
static List<Example> Examples(IEnumerable<Doc> docs) =>
    [.. docs.SelectMany(d => d.Segments.Where(s => s.Label is not null).Select(s => new Example(s.Features, s.Label!.Value))
        .Concat(d.Whole.Label && d.Segments.Count > 1 ? [] : [d.Whole]))];

double[] OutOfFold(List<Doc> docs, List<Doc> extra, TrainerOptions o, float[] average, ref float averageBias)
{
    const int folds = 5;
    var scores = new double[docs.Count];
    for (var k = 0; k < folds; k++)
    {
        var fit = Examples(docs.Where((_, i) => i % folds != k).Concat(extra));
        var (w, b) = LogisticTrainer.Train(fit, 1 << AnalyzedText.BucketBits, o);
        for (var j = 0; j < w.Length; j++)
        {
            average[j] += w[j] / folds;
        }
        averageBias += b / folds;
        for (var i = k; i < docs.Count; i += folds)
        {
            var logit = LogisticTrainer.Logit(w, b, docs[i].Whole.Features, o.Power);
            foreach (var s in docs[i].Segments)
            {
                if (s.Features.Length >= LinearModel.MinSegmentFeatures)
                {
                    logit = Math.Max(logit, LogisticTrainer.Logit(w, b, s.Features, o.Power));
                }
            }
            scores[i] = 1 / (1 + Math.Exp(-logit));
        }
    }
    return scores;
}

// Injection: the highest recall with an out-of-fold false-positive rate of at most MaxFpr (the target is 5 %).
// Toxicity: the best F1.
double Report(string label, double[] scores, List<Doc> examples, bool[] ruleFlags, bool injection)
{
    var best = (T: 0.5, Value: double.MinValue, Line: "");
    for (var t = 0.05; t < 0.99; t += 0.01)
    {
        int tp = 0, fp = 0, fn = 0, tn = 0;
        for (var i = 0; i < examples.Count; i++)
        {
            var flagged = scores[i] >= t || ruleFlags[i];
            if (examples[i].Whole.Label)
            {
                if (flagged) { tp++; } else { fn++; }
            }
            else if (flagged) { fp++; }
            else { tn++; }
        }
        var recall = tp / (double)Math.Max(1, tp + fn);
        var precision = tp / (double)Math.Max(1, tp + fp);
        var fpr = fp / (double)Math.Max(1, fp + tn);
        var f1 = 2 * precision * recall / Math.Max(1e-9, precision + recall);
        var value = injection ? (fpr <= MaxFpr ? recall - fpr * 0.01 : double.MinValue) : f1;
        if (value > best.Value)
        {
            best = (t, value, FormattableString.Invariant($"t={t:0.00} P={precision:0.000} R={recall:0.000} F1={f1:0.000} FPR={fpr:0.000}"));
        }
    }
    Console.WriteLine($"{label}: {best.Line}");
    return best.T;
}

static Doc InjectionFeatures(string text, bool label)
{
    using var a = AnalyzedText.Create(text);
    var features = a.Features.ToArray();
    var segments = a.Segments
        .Select((s, i) => (Features: features[s.FeatureStart..s.FeatureEnd], Label: label ? (i == a.Segments.Count - 1 ? true : (bool?)null) : false))
        .Where(s => s.Features.Length >= LinearModel.MinSegmentFeatures)
        .ToList();
    return new Doc(new Example(features, label), segments);
}

static Doc ToxicityFeatures(string text, bool label)
{
    using var a = AnalyzedText.Create(text);
    Span<int> extras = stackalloc int[256];
    var n = ToxicityScanner.Extras(a, extras, out _);
    return new Doc(new Example([.. a.Features, .. extras[..n]], label), []);
}

static List<string> LoadTexts(string path)
{
    var texts = new List<string>();
    foreach (var line in File.ReadLines(path))
    {
        if (!string.IsNullOrWhiteSpace(line))
        {
            using var doc = JsonDocument.Parse(line);
            texts.Add(doc.RootElement.GetProperty("text").GetString() ?? "");
        }
    }
    return texts;
}

static List<(string Text, bool Label)> Load(string path)
{
    var rows = new List<(string, bool)>();
    foreach (var line in File.ReadLines(path))
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            continue;
        }
        using var doc = JsonDocument.Parse(line);
        rows.Add((doc.RootElement.GetProperty("text").GetString() ?? "", doc.RootElement.GetProperty("label").GetInt32() == 1));
    }
    return rows;
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

internal sealed record Doc(Example Whole, List<(int[] Features, bool? Label)> Segments);
