using System.Globalization;
using Xunit;

namespace Keel.Tests.Common;

/// <summary>A strict reader of the Prometheus text exposition format, for tests of <c>GET /metrics</c>.</summary>
public static class PrometheusText
{
    /// <summary>One sample line of the text format: name, labels, value.</summary>
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>
    /// A strict reader of the exposition format: every sample belongs to the family declared by the
    /// closest # TYPE above it, label values are unescaped, every line is well formed.
    /// </summary>
    public static (List<Sample> Samples, Dictionary<string, string> Types) Parse(string text)
    {
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        string? family = null;
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Equal(4, parts.Length);
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram" });
                Assert.True(types.TryAdd(parts[2], parts[3]), $"family {parts[2]} declared twice");
                family = parts[2];
                continue;
            }

            var name = new string([.. line.TakeWhile(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':')]);
            Assert.NotNull(family);
            Assert.True(name == family || (types[family] == "histogram" && (name == family + "_bucket" || name == family + "_sum" || name == family + "_count")), $"sample {name} outside its family {family}");
            var rest = line[name.Length..];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (rest.StartsWith('{'))
            {
                var i = 1;
                while (rest[i] != '}')
                {
                    var eq = rest.IndexOf('=', i);
                    var label = rest[i..eq];
                    Assert.Equal('"', rest[eq + 1]);
                    var value = new System.Text.StringBuilder();
                    var j = eq + 2;
                    for (; rest[j] != '"'; j++)
                    {
                        if (rest[j] == '\\')
                        {
                            j++;
                            value.Append(rest[j] switch { 'n' => '\n', var c => c });
                        }
                        else
                        {
                            value.Append(rest[j]);
                        }
                    }

                    labels[label] = value.ToString();
                    i = rest[j + 1] == ',' ? j + 2 : j + 1;
                }

                rest = rest[(i + 1)..];
            }

            Assert.StartsWith(" ", rest, StringComparison.Ordinal);
            var number = rest[1..];
            var parsed = number == "+Inf" ? double.PositiveInfinity : double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
            samples.Add(new Sample(name, labels, parsed));
        }

        return (samples, types);
    }

    /// <summary>The value of the one sample named <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    public static double Value(this List<Sample> samples, string name, params (string Label, string Value)[] labels) =>
        samples.Single(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Value;
}
