using System.Text;

namespace Keel.Core.Guardrails.Output;

/// <summary>What a <see cref="StreamGuard"/> lets out after a piece of the answer.</summary>
/// <param name="Text">Text safe to send now (redacted, placeholders restored); may be empty.</param>
/// <param name="BlockedBy">The finding that blocks the answer, if one does: send nothing more.</param>
public readonly record struct StreamGuardStep(string Text, GuardrailFinding? BlockedBy);

/// <summary>
/// Output scanning for a streamed answer. Text is held back until it is safe to send: at least
/// <c>holdBack</c> characters stay unsent, and so does a trailing run of non-space ASCII (an e-mail address, a
/// key, a URL, a placeholder being written) up to 4,096 characters, so that a value split across chunks is seen
/// whole and redacted. Every push rescans the unsent text plus some sent context, so the classifiers judge
/// sentences, not fragments; text is released in steps of at least 32 characters so the window is not rescanned
/// for every token. Placeholders of a reversible input redaction are restored in what is sent.
/// Not thread-safe: one per answer.
/// </summary>
public sealed class StreamGuard
{
    private const int Context = 160;

    // Scanning after every token would rescan the window hundreds of times per answer; text is released in steps
    // of at least this many characters instead (the client sees it a few tokens later, nothing more).
    private const int MinStep = 32;
    private const int MaxHeldRun = 4096;

    private readonly GuardrailEngine? _engine;
    private readonly PlaceholderMap? _placeholders;
    private readonly int _holdBack;
    private readonly StringBuilder _raw = new();
    private readonly Dictionary<(string, int), GuardrailFinding> _findings = [];
    private int _sent;
    private bool _blocked;

    /// <summary>Creates a guard scanning with <paramref name="engine"/> (null: only restore placeholders).</summary>
    public StreamGuard(GuardrailEngine? engine, PlaceholderMap? placeholders, int holdBack)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(holdBack);
        _engine = engine;
        _placeholders = placeholders is { IsEmpty: false } ? placeholders : null;
        _holdBack = holdBack;
    }

    /// <summary>Every finding made so far, in order of position (flags, redactions, and the block if any).</summary>
    public IReadOnlyList<GuardrailFinding> Findings => [.. _findings.Values.OrderBy(static f => f.Start)];

    /// <summary>Characters of the answer so far.</summary>
    public int Length => _raw.Length;

    /// <summary>The answer as the model wrote it so far (before redaction).</summary>
    public string RawText => _raw.ToString();

    /// <summary>Adds a piece of the answer; returns what may be sent now.</summary>
    public StreamGuardStep Push(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ObjectDisposedException.ThrowIf(_blocked, this);
        _raw.Append(delta);
        return Advance(final: false);
    }

    /// <summary>The answer is complete: returns the rest.</summary>
    public StreamGuardStep Flush()
    {
        ObjectDisposedException.ThrowIf(_blocked, this);
        return Advance(final: true);
    }

    private StreamGuardStep Advance(bool final)
    {
        var length = _raw.Length;
        var safe = final ? length : SafePoint(length);
        if (!final && safe - _sent < MinStep)
        {
            return new StreamGuardStep("", null);
        }
        if (_engine is null)
        {
            return Emit(safe, []);
        }

        var windowStart = Math.Max(0, _sent - Context);
        var window = _raw.ToString(windowStart, length - windowStart);
        var verdict = _engine.Evaluate(window);
        var active = new List<GuardrailFinding>();
        foreach (var local in verdict.Findings)
        {
            var f = local with { Finding = local.Finding with { Start = local.Start + windowStart, End = local.End + windowStart } };
            if (f.End <= _sent && f.Start < _sent)
            {
                continue; // wholly in text already sent and judged then
            }
            if (f.Action == GuardrailAction.Block)
            {
                _blocked = true;
                _findings[Key(f)] = f;
                return new StreamGuardStep("", f);
            }
            if (!final && f.Start < safe && f.End > safe && f.Action != GuardrailAction.Flag)
            {
                safe = Math.Max(_sent, f.Start); // do not cut a value in two: hold it until it is complete
            }
            active.Add(f);
        }
        foreach (var f in active)
        {
            if (f.Start < safe || final)
            {
                _findings[Key(f)] = f;
            }
        }
        return Emit(safe, active);
    }

    // A span finding is one per place; a whole-text judgement (a classifier) is one per scanner however often the
    // sliding window sees it.
    private static (string, int) Key(GuardrailFinding f) => (f.Scanner, f.Finding.IsRedactable ? f.Start : -1);

    private StreamGuardStep Emit(int safe, List<GuardrailFinding> findings)
    {
        if (safe <= _sent)
        {
            return new StreamGuardStep("", null);
        }
        var segment = _raw.ToString(_sent, safe - _sent);
        var clipped = new List<GuardrailFinding>();
        foreach (var f in findings)
        {
            if (f.Action is GuardrailAction.Redact or GuardrailAction.RedactReversible && f.End > _sent && f.Start < safe)
            {
                var start = Math.Max(f.Start, _sent) - _sent;
                var end = Math.Min(f.End, safe) - _sent;
                clipped.Add(f with { Finding = f.Finding with { Start = start, End = end }, Action = GuardrailAction.Redact });
            }
        }
        var text = clipped.Count > 0 ? Redactor.Apply(segment, clipped, placeholders: null) : segment;
        if (_placeholders is not null)
        {
            text = _placeholders.Restore(text);
        }
        _sent = safe;
        return new StreamGuardStep(text, null);
    }

    /// <summary>How far the text may be sent: hold back the window and any unfinished run of non-space ASCII.</summary>
    private int SafePoint(int length)
    {
        var safe = Math.Max(_sent, length - _holdBack);
        var runStart = length;
        while (runStart > 0 && length - runStart < MaxHeldRun)
        {
            var c = _raw[runStart - 1];
            if (c >= 0x80 || char.IsWhiteSpace(c))
            {
                break;
            }
            runStart--;
        }
        return Math.Max(_sent, Math.Min(safe, runStart));
    }
}
