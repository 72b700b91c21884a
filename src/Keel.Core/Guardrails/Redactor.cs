using System.Text;

namespace Keel.Core.Guardrails;

/// <summary>
/// Replaces found spans with masks. Only redactable findings (<see cref="Finding.IsRedactable"/>) are cut;
/// overlapping findings are merged, the earliest-starting one (then the longest) naming the mask.
/// </summary>
public static class Redactor
{
    /// <summary>Returns <paramref name="text"/> with each redactable finding replaced by its mask, e.g. <c>[EMAIL]</c>.</summary>
    public static string Redact(string text, IEnumerable<Finding> findings)
    {
        ArgumentNullException.ThrowIfNull(text);
        var spans = Merge(text, findings);
        if (spans.Count == 0)
        {
            return text;
        }
        var sb = new StringBuilder(text.Length);
        var at = 0;
        foreach (var f in spans)
        {
            sb.Append(text, at, f.Start - at).Append(f.Replacement);
            at = f.End;
        }
        return sb.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>
    /// Replaces each redactable finding with a numbered placeholder (<c>[EMAIL_1]</c>; the same value always gets
    /// the same placeholder) and returns the map to put the values back with <see cref="Restore"/>, e.g. in a
    /// model's answer.
    /// </summary>
    public static ReversibleRedaction RedactReversible(string text, IEnumerable<Finding> findings)
    {
        ArgumentNullException.ThrowIfNull(text);
        var spans = Merge(text, findings);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spans.Count == 0)
        {
            return new ReversibleRedaction(text, map);
        }
        var byValue = new Dictionary<string, string>(StringComparer.Ordinal);
        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        var sb = new StringBuilder(text.Length);
        var at = 0;
        foreach (var f in spans)
        {
            var value = text[f.Start..f.End];
            if (!byValue.TryGetValue(value, out var placeholder))
            {
                var label = f.Replacement!.Trim('[', ']');
                var n = counters.GetValueOrDefault(label) + 1;
                counters[label] = n;
                placeholder = $"[{label}_{n}]";
                byValue[value] = placeholder;
                map[placeholder] = value;
            }
            sb.Append(text, at, f.Start - at).Append(placeholder);
            at = f.End;
        }
        sb.Append(text, at, text.Length - at);
        return new ReversibleRedaction(sb.ToString(), map);
    }

    /// <summary>
    /// Applies the redacting findings of a verdict: <see cref="GuardrailAction.Redact"/> spans get their mask,
    /// <see cref="GuardrailAction.RedactReversible"/> spans a placeholder from <paramref name="placeholders"/> (or the
    /// mask when there is no map). Overlapping spans merge; a merged span is masked if any part of it must be.
    /// </summary>
    public static string Apply(string text, IReadOnlyList<GuardrailFinding> findings, PlaceholderMap? placeholders)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(findings);
        var spans = new List<(Finding Finding, bool Reversible)>();
        foreach (var f in findings)
        {
            if (f.Action is GuardrailAction.Redact or GuardrailAction.RedactReversible && f.Finding.IsRedactable && f.End <= text.Length)
            {
                spans.Add((f.Finding, f.Action == GuardrailAction.RedactReversible && placeholders is not null));
            }
        }
        if (spans.Count == 0)
        {
            return text;
        }
        spans.Sort(static (a, b) => a.Finding.Start != b.Finding.Start ? a.Finding.Start.CompareTo(b.Finding.Start) : b.Finding.End.CompareTo(a.Finding.End));
        var sb = new StringBuilder(text.Length);
        var at = 0;
        var i = 0;
        while (i < spans.Count)
        {
            var (first, reversible) = spans[i];
            var end = first.End;
            for (i++; i < spans.Count && spans[i].Finding.Start < end; i++)
            {
                end = Math.Max(end, spans[i].Finding.End);
                reversible &= spans[i].Reversible;
            }
            sb.Append(text, at, first.Start - at);
            sb.Append(reversible ? placeholders!.PlaceholderFor(text[first.Start..end], first.Replacement!) : first.Replacement);
            at = end;
        }
        return sb.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>Puts the original values back for every placeholder of <paramref name="map"/> found in <paramref name="text"/>.</summary>
    public static string Restore(string text, IReadOnlyDictionary<string, string> map)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(map);
        if (map.Count == 0 || !text.Contains('[', StringComparison.Ordinal))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length);
        var at = 0;
        while (at < text.Length)
        {
            var open = text.IndexOf('[', at);
            if (open < 0)
            {
                break;
            }
            var close = text.IndexOf(']', open + 1);
            if (close < 0)
            {
                break;
            }
            // A '[' inside the candidate means the real placeholder starts later.
            var inner = text.LastIndexOf('[', close, close - open + 1);
            if (map.TryGetValue(text[inner..(close + 1)], out var value))
            {
                sb.Append(text, at, inner - at).Append(value);
            }
            else
            {
                sb.Append(text, at, close + 1 - at);
            }
            at = close + 1;
        }
        return sb.Append(text, at, text.Length - at).ToString();
    }

    private static List<Finding> Merge(string text, IEnumerable<Finding> findings)
    {
        ArgumentNullException.ThrowIfNull(findings);
        var list = new List<Finding>();
        foreach (var f in findings)
        {
            if (f.IsRedactable && f.Start >= 0 && f.End <= text.Length)
            {
                list.Add(f);
            }
        }
        if (list.Count <= 1)
        {
            return list;
        }
        list.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.End.CompareTo(a.End));
        var merged = new List<Finding>(list.Count) { list[0] };
        for (var i = 1; i < list.Count; i++)
        {
            var last = merged[^1];
            var f = list[i];
            if (f.Start < last.End)
            {
                merged[^1] = last with { End = Math.Max(last.End, f.End) };
            }
            else
            {
                merged.Add(f);
            }
        }
        return merged;
    }
}

/// <summary>
/// The placeholders of one request: the same value always gets the same placeholder (<c>[EMAIL_1]</c>), numbered
/// per mask label across every text of the request. Not thread-safe; one per request.
/// </summary>
public sealed class PlaceholderMap
{
    private readonly Dictionary<string, string> _byValue = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _byPlaceholder = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    /// <summary>Placeholder → original value.</summary>
    public IReadOnlyDictionary<string, string> Values => _byPlaceholder;

    /// <summary>True when no placeholder was handed out.</summary>
    public bool IsEmpty => _byPlaceholder.Count == 0;

    /// <summary>The longest placeholder handed out (how far back a streamed answer must be held to restore one).</summary>
    public int LongestPlaceholder { get; private set; }

    /// <summary>The placeholder for <paramref name="value"/>, numbered under the label of <paramref name="mask"/> (<c>[EMAIL]</c> → <c>[EMAIL_n]</c>).</summary>
    public string PlaceholderFor(string value, string mask)
    {
        if (_byValue.TryGetValue(value, out var existing))
        {
            return existing;
        }
        var label = mask.Trim('[', ']');
        var n = _counters.GetValueOrDefault(label) + 1;
        _counters[label] = n;
        var placeholder = $"[{label}_{n}]";
        _byValue[value] = placeholder;
        _byPlaceholder[placeholder] = value;
        LongestPlaceholder = Math.Max(LongestPlaceholder, placeholder.Length);
        return placeholder;
    }

    /// <summary>Puts the original values back in <paramref name="text"/>.</summary>
    public string Restore(string text) => Redactor.Restore(text, _byPlaceholder);
}

/// <summary>The redacted text and the placeholder → original value map.</summary>
public sealed record ReversibleRedaction(string Text, IReadOnlyDictionary<string, string> Map)
{
    /// <summary>Restores the original values in <paramref name="text"/> (for example a model's answer that echoes placeholders).</summary>
    public string Restore(string text) => Redactor.Restore(text, Map);
}
