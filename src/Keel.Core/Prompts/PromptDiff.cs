using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Keel.Core.Prompts;

/// <summary>One line of a template diff: kept ("equal"), only in the old version ("remove") or only in the new one ("add").</summary>
public sealed record DiffLine(string Op, string Text, int? FromLine, int? ToLine);

/// <summary>A field that differs between two versions: type, model, or one parameter (values as compact JSON).</summary>
public sealed record FieldChange(string Field, string? From, string? To);

/// <summary>What changed from one version to another.</summary>
public sealed record PromptDiffResult
{
    public required string Name { get; init; }
    public required int From { get; init; }
    public required int To { get; init; }
    /// <summary>The templates' lines (a chat prompt as "[role]" lines, each followed by its content).</summary>
    public required IReadOnlyList<DiffLine> Lines { get; init; }
    public required IReadOnlyList<FieldChange> Changes { get; init; }
    /// <summary>The template diff in unified format (3 lines of context), empty when the templates are equal.</summary>
    public required string Unified { get; init; }
}

/// <summary>Line diff (Myers' O(ND) algorithm) of two versions' templates, plus their model and parameter changes.</summary>
public static class PromptDiff
{
    /// <summary>Beyond this many lines in total, the diff is "all removed, all added" rather than minimal.</summary>
    private const int MaxLines = 20_000;

    public static PromptDiffResult Compare(PromptVersion from, PromptVersion to)
    {
        var lines = DiffLines(TextForm(from), TextForm(to));
        var changes = new List<FieldChange>();
        if (from.Type != to.Type)
        {
            changes.Add(new("type", from.Type, to.Type));
        }

        if (from.Model != to.Model)
        {
            changes.Add(new("model", from.Model, to.Model));
        }

        var oldParams = Properties(from.Params);
        var newParams = Properties(to.Params);
        foreach (var key in oldParams.Keys.Union(newParams.Keys).Order(StringComparer.Ordinal))
        {
            var a = oldParams.GetValueOrDefault(key);
            var b = newParams.GetValueOrDefault(key);
            if (a != b)
            {
                changes.Add(new($"params.{key}", a, b));
            }
        }

        return new PromptDiffResult
        {
            Name = to.Name,
            From = from.Version,
            To = to.Version,
            Lines = lines,
            Changes = changes,
            Unified = Unified(lines, $"{from.Name} v{from.Version}", $"{to.Name} v{to.Version}"),
        };
    }

    /// <summary>The lines compared: a text prompt's template, or each chat message as "[role]" and its content.</summary>
    public static string[] TextForm(PromptVersion version)
    {
        if (version.Type != PromptTypes.Chat)
        {
            return SplitLines(version.Template ?? "");
        }

        var lines = new List<string>();
        foreach (var message in version.Messages ?? [])
        {
            lines.Add($"[{message.Role}]");
            lines.AddRange(SplitLines(message.Content));
        }

        return [.. lines];
    }

    /// <summary>The edit script from <paramref name="a"/> to <paramref name="b"/>, shortest first (Myers 1986).</summary>
    public static List<DiffLine> DiffLines(string[] a, string[] b)
    {
        var n = a.Length;
        var m = b.Length;
        var result = new List<DiffLine>(n + m);
        if (n + m > MaxLines)
        {
            result.AddRange(a.Select((t, i) => new DiffLine("remove", t, i + 1, null)));
            result.AddRange(b.Select((t, i) => new DiffLine("add", t, null, i + 1)));
            return result;
        }

        var max = n + m;
        var offset = max + 1;
        var v = new int[(2 * max) + 3];
        var trace = new List<int[]>();
        for (var d = 0; d <= max; d++)
        {
            trace.Add((int[])v.Clone());
            for (var k = -d; k <= d; k += 2)
            {
                var x = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
                var y = x - k;
                while (x < n && y < m && a[x] == b[y])
                {
                    x++;
                    y++;
                }

                v[offset + k] = x;
                if (x >= n && y >= m)
                {
                    return Backtrack(a, b, trace, offset, result);
                }
            }
        }

        return Backtrack(a, b, trace, offset, result);
    }

    private static List<DiffLine> Backtrack(string[] a, string[] b, List<int[]> trace, int offset, List<DiffLine> result)
    {
        var x = a.Length;
        var y = b.Length;
        for (var d = trace.Count - 1; d >= 0; d--)
        {
            var v = trace[d];
            var k = x - y;
            var prevK = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? k + 1 : k - 1;
            var prevX = v[offset + prevK];
            var prevY = prevX - prevK;
            while (x > prevX && y > prevY)
            {
                x--;
                y--;
                result.Add(new DiffLine("equal", a[x], x + 1, y + 1));
            }

            if (d > 0)
            {
                if (x == prevX)
                {
                    result.Add(new DiffLine("add", b[prevY], null, prevY + 1));
                }
                else
                {
                    result.Add(new DiffLine("remove", a[prevX], prevX + 1, null));
                }
            }

            x = prevX;
            y = prevY;
        }

        result.Reverse();
        return result;
    }

    /// <summary>Unified diff text: hunks with <paramref name="context"/> unchanged lines around each change.</summary>
    public static string Unified(IReadOnlyList<DiffLine> lines, string fromName, string toName, int context = 3)
    {
        if (lines.All(l => l.Op == "equal"))
        {
            return "";
        }

        var text = new StringBuilder();
        text.Append("--- ").Append(fromName).Append('\n');
        text.Append("+++ ").Append(toName).Append('\n');
        var i = 0;
        while (i < lines.Count)
        {
            var change = FindChange(lines, i);
            if (change < 0)
            {
                break;
            }

            var start = Math.Max(i, change - context);
            var end = change;
            // Extend the hunk while the next change is within 2 * context unchanged lines.
            while (true)
            {
                while (end < lines.Count && lines[end].Op != "equal")
                {
                    end++;
                }

                var next = FindChange(lines, end);
                if (next >= 0 && next - end <= 2 * context)
                {
                    end = next;
                    continue;
                }

                end = Math.Min(lines.Count, end + context);
                break;
            }

            AppendHunk(text, lines, start, end);
            i = end;
        }

        return text.ToString();
    }

    private static int FindChange(IReadOnlyList<DiffLine> lines, int from)
    {
        for (var i = from; i < lines.Count; i++)
        {
            if (lines[i].Op != "equal")
            {
                return i;
            }
        }

        return -1;
    }

    private static void AppendHunk(StringBuilder text, IReadOnlyList<DiffLine> lines, int start, int end)
    {
        int fromStart = 0, fromCount = 0, toStart = 0, toCount = 0;
        for (var i = start; i < end; i++)
        {
            var line = lines[i];
            if (line.FromLine is { } f)
            {
                fromStart = fromStart == 0 ? f : fromStart;
                fromCount++;
            }

            if (line.ToLine is { } t)
            {
                toStart = toStart == 0 ? t : toStart;
                toCount++;
            }
        }

        // An empty side is written as the line before the hunk, as diff -u does.
        fromStart = fromCount == 0 ? LineBefore(lines, start, l => l.FromLine) : fromStart;
        toStart = toCount == 0 ? LineBefore(lines, start, l => l.ToLine) : toStart;
        text.Append(CultureInfo.InvariantCulture, $"@@ -{fromStart},{fromCount} +{toStart},{toCount} @@\n");
        for (var i = start; i < end; i++)
        {
            text.Append(lines[i].Op switch { "add" => '+', "remove" => '-', _ => ' ' }).Append(lines[i].Text).Append('\n');
        }
    }

    private static int LineBefore(IReadOnlyList<DiffLine> lines, int start, Func<DiffLine, int?> line)
    {
        for (var i = start - 1; i >= 0; i--)
        {
            if (line(lines[i]) is { } n)
            {
                return n;
            }
        }

        return 0;
    }

    private static string[] SplitLines(string text) =>
        text.Length == 0 ? [] : text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n');

    private static Dictionary<string, string> Properties(JsonElement? parameters)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (parameters is { ValueKind: JsonValueKind.Object } p)
        {
            foreach (var property in p.EnumerateObject())
            {
                result[property.Name] = PromptValidator.CanonicalJson(property.Value)!;
            }
        }

        return result;
    }
}
