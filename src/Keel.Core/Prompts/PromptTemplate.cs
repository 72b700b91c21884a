using System.Text;
using System.Text.Json;

namespace Keel.Core.Prompts;

/// <summary>A place in a template: 1-based line and column, 0-based character offset.</summary>
public readonly record struct TemplatePosition(int Offset, int Line, int Column)
{
    public override string ToString() => $"line {Line}, column {Column}";

    internal static TemplatePosition At(string text, int offset)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset && i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return new TemplatePosition(offset, line, offset - lineStart + 1);
    }
}

/// <summary>Why a template could not be compiled, and where.</summary>
public sealed record TemplateError(string Message, TemplatePosition Position)
{
    public override string ToString() => $"{Message} at {Position}";
}

/// <summary>Why rendering failed: a variable the template needs was not supplied.</summary>
public sealed record RenderError(string Variable, string Message, TemplatePosition Position);

/// <summary>
/// A strict Mustache template, compiled once: <c>{{name}}</c>, dotted names (<c>{{user.name}}</c>),
/// <c>{{.}}</c>, sections <c>{{#items}}…{{/items}}</c> (lists and conditionals), inverted sections
/// <c>{{^items}}…{{/items}}</c>, comments <c>{{! … }}</c>, and <c>{{{name}}}</c> / <c>{{&amp;name}}</c>
/// (the same as <c>{{name}}</c>: prompts are not HTML, so nothing is ever HTML-escaped).
/// Strict: a name that no scope supplies is an error naming it, never an empty string.
/// Partials and delimiter changes are refused at compile time. Section tags and comments alone on
/// their line take the line with them (Mustache "standalone" rule), so lists render cleanly.
/// </summary>
public sealed class PromptTemplate
{
    private readonly Node[] _nodes;

    private PromptTemplate(string source, Node[] nodes, IReadOnlyList<string> variables)
    {
        Source = source;
        _nodes = nodes;
        Variables = variables;
    }

    /// <summary>The template text as written.</summary>
    public string Source { get; }

    /// <summary>
    /// The names the caller must supply, in order of first use: names used outside any section and
    /// the names of top-level sections. Names inside a section are looked up in the section's item
    /// first, so they are checked when rendering.
    /// </summary>
    public IReadOnlyList<string> Variables { get; }

    /// <summary>Compiles a template, or says what is wrong and where.</summary>
    public static bool TryParse(string source, out PromptTemplate template, out TemplateError? error)
    {
        var parser = new Parser(source);
        var nodes = parser.Parse(out error);
        if (error is not null)
        {
            template = null!;
            return false;
        }

        var variables = new List<string>();
        foreach (var node in nodes)
        {
            if (node is VariableNode or SectionNode && node.Path is [var first, ..] && !variables.Contains(first))
            {
                variables.Add(first);
            }
        }

        template = new PromptTemplate(source, nodes, variables);
        return true;
    }

    /// <summary>Renders with <paramref name="variables"/> (a JSON object, or null for none).</summary>
    public bool TryRender(JsonElement? variables, out string text, out RenderError? error)
    {
        var builder = RenderBuffer.Rent(Source.Length);
        var scopes = new Scopes(variables);
        error = RenderNodes(_nodes, builder, ref scopes);
        text = error is null ? builder.ToString() : "";
        RenderBuffer.Return(builder);
        return error is null;
    }

    private RenderError? RenderNodes(Node[] nodes, StringBuilder output, ref Scopes scopes)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode t:
                    output.Append(t.Text);
                    break;
                case VariableNode v:
                    if (!scopes.TryLookup(v.Path, out var value))
                    {
                        return Missing(v, scopes);
                    }

                    Append(output, value);
                    break;
                case SectionNode s:
                    if (!scopes.TryLookup(s.Path, out var sectionValue))
                    {
                        return Missing(s, scopes);
                    }

                    if (s.Inverted)
                    {
                        if (!IsTruthy(sectionValue) && RenderNodes(s.Children, output, ref scopes) is { } invertedError)
                        {
                            return invertedError;
                        }
                    }
                    else if (sectionValue.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var item in sectionValue.EnumerateArray())
                        {
                            scopes.Push(item);
                            var itemError = RenderNodes(s.Children, output, ref scopes);
                            scopes.Pop();
                            if (itemError is not null)
                            {
                                return itemError;
                            }
                        }
                    }
                    else if (IsTruthy(sectionValue))
                    {
                        scopes.Push(sectionValue);
                        var childError = RenderNodes(s.Children, output, ref scopes);
                        scopes.Pop();
                        if (childError is not null)
                        {
                            return childError;
                        }
                    }

                    break;
            }
        }

        return null;
    }

    private static RenderError Missing(Node node, Scopes scopes)
    {
        var where = scopes.Depth > 1 ? " (looked up in the enclosing sections and the variables)" : "";
        return new RenderError(node.Name, $"missing variable '{node.Name}'{where}", node.Position);
    }

    /// <summary>JavaScript truthiness, as mustache.js: false, null, "", 0 and [] are false.</summary>
    private static bool IsTruthy(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.False or JsonValueKind.Null or JsonValueKind.Undefined => false,
        JsonValueKind.String => value.GetString()!.Length > 0,
        JsonValueKind.Number => value.GetDouble() != 0,
        JsonValueKind.Array => value.GetArrayLength() > 0,
        _ => true,
    };

    private static void Append(StringBuilder output, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                output.Append(value.GetString());
                break;
            case JsonValueKind.True:
                output.Append("true");
                break;
            case JsonValueKind.False:
                output.Append("false");
                break;
            case JsonValueKind.Null or JsonValueKind.Undefined:
                break;
            default:
                // Numbers as written; objects and arrays as their JSON text.
                output.Append(value.GetRawText());
                break;
        }
    }

    /// <summary>The lookup stack: the variables object at the bottom, one entry per open section.</summary>
    private struct Scopes(JsonElement? root)
    {
        private JsonElement[]? _stack;
        private int _count;

        public readonly int Depth => _count + 1;

        public void Push(JsonElement value)
        {
            _stack ??= new JsonElement[4];
            if (_count == _stack.Length)
            {
                Array.Resize(ref _stack, _count * 2);
            }

            _stack[_count++] = value;
        }

        public void Pop() => _count--;

        public readonly bool TryLookup(string[] path, out JsonElement value)
        {
            if (path.Length == 0)
            {
                // "{{.}}": the innermost item.
                if (_count > 0)
                {
                    value = _stack![_count - 1];
                    return true;
                }

                value = default;
                return root is not null;
            }

            for (var i = _count - 1; i >= -1; i--)
            {
                var scope = i >= 0 ? _stack![i] : root ?? default;
                if (scope.ValueKind == JsonValueKind.Object && scope.TryGetProperty(path[0], out value))
                {
                    return Walk(path, ref value);
                }
            }

            value = default;
            return false;
        }

        private static bool Walk(string[] path, ref JsonElement value)
        {
            for (var i = 1; i < path.Length; i++)
            {
                if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(path[i], out value))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>One StringBuilder per thread, reused: rendering allocates only the result.</summary>
    private static class RenderBuffer
    {
        [ThreadStatic] private static StringBuilder? t_cached;

        public static StringBuilder Rent(int capacity)
        {
            var builder = t_cached ?? new StringBuilder(Math.Max(256, capacity + capacity / 4));
            t_cached = null;
            builder.Clear();
            return builder;
        }

        public static void Return(StringBuilder builder)
        {
            if (builder.Capacity <= 64 * 1024)
            {
                t_cached = builder;
            }
        }
    }

    private abstract class Node(string name, string[] path, TemplatePosition position)
    {
        public string Name { get; } = name;
        public string[] Path { get; } = path;
        public TemplatePosition Position { get; } = position;
    }

    private sealed class TextNode(string text) : Node("", [], default)
    {
        public string Text { get; } = text;
    }

    private sealed class VariableNode(string name, string[] path, TemplatePosition position) : Node(name, path, position);

    private sealed class SectionNode(string name, string[] path, TemplatePosition position, bool inverted, Node[] children) : Node(name, path, position)
    {
        public bool Inverted { get; } = inverted;
        public Node[] Children { get; } = children;
    }

    private sealed class Parser(string source)
    {
        private int _textStart;

        private sealed class Frame(string name, string[] path, TemplatePosition position, bool inverted)
        {
            public string Name { get; } = name;
            public string[] Path { get; } = path;
            public TemplatePosition Position { get; } = position;
            public bool Inverted { get; } = inverted;
            public List<Node> Nodes { get; } = [];
        }

        public Node[] Parse(out TemplateError? error)
        {
            error = null;
            var stack = new Stack<Frame>();
            var root = new Frame("", [], default, false);
            stack.Push(root);
            var i = 0;
            while (true)
            {
                var open = source.IndexOf("{{", i, StringComparison.Ordinal);
                if (open < 0)
                {
                    AddText(stack.Peek(), _textStart, source.Length);
                    break;
                }

                var triple = open + 2 < source.Length && source[open + 2] == '{';
                var closer = triple ? "}}}" : "}}";
                var close = source.IndexOf(closer, open + (triple ? 3 : 2), StringComparison.Ordinal);
                if (close < 0)
                {
                    error = new TemplateError($"unclosed tag: '{Snippet(open)}' has no closing '{closer}'", Pos(open));
                    return [];
                }

                var end = close + closer.Length;
                var inner = source.AsSpan(open + (triple ? 3 : 2), close - open - (triple ? 3 : 2)).Trim();
                var sigil = triple ? '{' : inner.Length > 0 && "#^/!&>=".Contains(inner[0], StringComparison.Ordinal) ? inner[0] : '\0';
                var name = (sigil is '\0' or '{' ? inner : inner[1..].Trim()).ToString();
                var position = Pos(open);

                if (sigil is '>' or '=')
                {
                    error = new TemplateError(sigil == '>'
                        ? $"partials ('{Snippet(open)}') are not supported; put the text in the template"
                        : $"changing delimiters ('{Snippet(open)}') is not supported", position);
                    return [];
                }

                // Sections, closers and comments alone on their line take the line with them.
                var standaloneCapable = sigil is '#' or '^' or '/' or '!';
                var (textEnd, next) = standaloneCapable ? Standalone(open, end) : (open, end);
                AddText(stack.Peek(), _textStart, textEnd);
                _textStart = next;
                i = next;

                if (sigil == '!')
                {
                    continue;
                }

                if (ParsePath(name) is not { } path)
                {
                    error = new TemplateError(name.Length == 0
                        ? $"empty tag '{Snippet(open)}': write a variable name between the braces"
                        : $"invalid variable name '{name}': use letters, digits, '_' and '-', with '.' between nested names", position);
                    return [];
                }

                switch (sigil)
                {
                    case '#' or '^':
                        stack.Push(new Frame(name, path, position, sigil == '^'));
                        break;
                    case '/':
                        var frame = stack.Peek();
                        if (frame == root)
                        {
                            error = new TemplateError($"'{{{{/{name}}}}}' closes a section that was never opened", position);
                            return [];
                        }

                        if (frame.Name != name)
                        {
                            error = new TemplateError(
                                $"'{{{{/{name}}}}}' does not close the open section '{{{{{(frame.Inverted ? '^' : '#')}{frame.Name}}}}}' (opened at {frame.Position})", position);
                            return [];
                        }

                        stack.Pop();
                        stack.Peek().Nodes.Add(new SectionNode(frame.Name, frame.Path, frame.Position, frame.Inverted, [.. frame.Nodes]));
                        break;
                    default:
                        stack.Peek().Nodes.Add(new VariableNode(name, path, position));
                        break;
                }
            }

            if (stack.Peek() != root)
            {
                var frame = stack.Peek();
                error = new TemplateError($"section '{{{{{(frame.Inverted ? '^' : '#')}{frame.Name}}}}}' is never closed: add '{{{{/{frame.Name}}}}}'", frame.Position);
                return [];
            }

            return [.. root.Nodes];
        }

        /// <summary>
        /// When the tag at [open, end) is the only thing on its line besides blanks, the text before it
        /// stops at the line start and the text after it resumes on the next line.
        /// </summary>
        private (int TextEnd, int Next) Standalone(int open, int end)
        {
            var lineStart = open;
            while (lineStart > 0 && source[lineStart - 1] is ' ' or '\t')
            {
                lineStart--;
            }

            if (lineStart > 0 && source[lineStart - 1] != '\n')
            {
                return (open, end);
            }

            var after = end;
            while (after < source.Length && source[after] is ' ' or '\t' or '\r')
            {
                after++;
            }

            if (after < source.Length && source[after] != '\n')
            {
                return (open, end);
            }

            return (Math.Max(lineStart, _textStart), Math.Min(after + 1, source.Length));
        }

        private void AddText(Frame frame, int start, int end)
        {
            if (end > start)
            {
                frame.Nodes.Add(new TextNode(source[start..end]));
            }
        }

        private TemplatePosition Pos(int offset) => TemplatePosition.At(source, offset);

        private string Snippet(int open)
        {
            var end = source.IndexOf('\n', open);
            var length = Math.Min((end < 0 ? source.Length : end) - open, 40);
            return source.Substring(open, length);
        }

        /// <summary>"." is the current item (empty path); otherwise dot-separated names of letters, digits, '_' and '-'.</summary>
        private static string[]? ParsePath(string name)
        {
            if (name == ".")
            {
                return [];
            }

            if (name.Length == 0)
            {
                return null;
            }

            var parts = name.Split('.');
            foreach (var part in parts)
            {
                if (part.Length == 0)
                {
                    return null;
                }

                foreach (var c in part)
                {
                    if (!char.IsLetterOrDigit(c) && c is not ('_' or '-'))
                    {
                        return null;
                    }
                }
            }

            return parts;
        }
    }
}
