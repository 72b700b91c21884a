using System.Collections.Frozen;
using Keel.Core.Guardrails.Text;

namespace Keel.Core.Guardrails.Injection;

/// <summary>
/// Hand-written injection and jailbreak patterns over the analysed words (English) and the folded text
/// (Chinese). Each word is mapped to a set of roles (an override verb, a "previous/system" qualifier, an
/// instruction noun...), and patterns are short role sequences with bounded gaps, so matching is linear in the
/// number of words. Scores are the rule's precision as judged by hand: strong patterns alone block, weak
/// jailbreak signals need company.
/// </summary>
internal static class InjectionRules
{
    [Flags]
    private enum R : uint
    {
        None = 0,
        Override = 1 << 0,     // ignore, disregard, forget ...
        Prior = 1 << 1,        // previous, above, all, your, system ...
        Instr = 1 << 2,        // instructions, rules, guidelines ...
        Reveal = 1 << 3,       // reveal, print, repeat ...
        Secretish = 1 << 4,    // system, hidden, initial ...
        PromptNoun = 1 << 5,   // prompt, instructions, message ...
        ModeAdj = 1 << 6,      // developer, god, unrestricted ...
        Enter = 1 << 7,        // enter, enable, activate ...
        Jail = 1 << 8,         // unfiltered, uncensored, amoral, jailbroken ...
        Negator = 1 << 9,      // no, without, free, not, never
        Limits = 1 << 10,      // restrictions, limitations, filters, rules, guidelines, ethics ...
        New = 1 << 11,         // new, updated, real, actual
        Task = 1 << 12,        // task, role, instructions, objective, goal
        Above = 1 << 13,       // above, before, earlier (position words)
        Text = 1 << 14,        // text, words, everything, content
    }

    private static readonly FrozenDictionary<string, R> s_roles = Build();

    private static FrozenDictionary<string, R> Build()
    {
        var d = new Dictionary<string, R>(StringComparer.Ordinal);
        void Add(R role, string words)
        {
            foreach (var w in words.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                d[w] = d.GetValueOrDefault(w) | role;
            }
        }

        Add(R.Override, "ignore ignoring ignored disregard disregarding forget forgetting bypass bypassing override overriding overrule neglect abandon discard dismiss circumvent ditch erase overwrite nullify skip drop");
        Add(R.Prior, "previous prior above earlier preceding former original initial foregoing aforementioned all any every your the these those system developer default given old existing current other preset programmed safety ethical moral openai anthropic content my our its their pre above-mentioned");
        Add(R.Instr, "instructions instruction directions directives directive rules rule guidelines guideline prompt prompts commands command constraints restrictions limitations programming policies policy guardrails filters safeguards context orders training messages conversation settings protocols principles boundaries text");
        Add(R.Reveal, "reveal show print repeat output display tell give leak expose share write dump recite disclose return provide list spell echo state copy paste");
        Add(R.Secretish, "system initial hidden secret original internal developer confidential preprompt pre full exact entire first previous above starting");
        Add(R.PromptNoun, "prompt prompts instructions message messages preprompt directives guidelines configuration rules");
        Add(R.ModeAdj, "developer god admin administrator debug sudo root unrestricted jailbreak jailbroken dan evil unfiltered uncensored override maintenance dev opposite chaos anarchy superuser unlocked unchained dude stan");
        Add(R.Enter, "enter entering enable enabled activate activated switch switched turn engage engaged initiate initiated now into in unlock unlocked");
        Add(R.Jail, "unfiltered uncensored unrestricted amoral immoral unethical jailbreak jailbroken jailbreaking unbound unlimited limitless lawless unchained uncensor");
        Add(R.Negator, "no without free not never zero beyond");
        Add(R.Limits, "restrictions restriction limitations limits filters filter rules guidelines ethics morals morality censorship boundaries constraints policies policy principles safeguards");
        Add(R.New, "new updated real actual true revised");
        Add(R.Task, "task tasks role instructions instruction objective goal mission directive purpose");
        Add(R.Above, "above before earlier previously");
        Add(R.Text, "text words everything content lines sentence sentences");
        return d.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static readonly FrozenDictionary<string, R>.AlternateLookup<ReadOnlySpan<char>> s_lookup =
        s_roles.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>One matched rule: its name (e.g. <c>injection.override</c>), score and original-text span.</summary>
    public readonly record struct Hit(string Name, double Score, int Start, int End);

    /// <summary>The strongest rule hit in the analysed text, or default when none.</summary>
    public static Hit Evaluate(AnalyzedText a)
    {
        var tokens = a.Tokens;
        Span<R> roles = tokens.Length <= 2048 ? stackalloc R[tokens.Length] : new R[tokens.Length];
        for (var i = 0; i < tokens.Length; i++)
        {
            var w = a.Word(tokens[i]);
            roles[i] = s_lookup.TryGetValue(w, out var r) ? r : R.None;
        }
        var best = default(Hit);
        var jailSignals = 0;
        var firstSignal = -1;
        for (var i = 0; i < tokens.Length; i++)
        {
            var r = roles[i];
            if (r == R.None)
            {
                continue;
            }
            // "ignore (all) (previous|your|the) ... instructions": an override verb, a qualifier, then an instruction noun.
            if ((r & R.Override) != 0 && IsImperative(a, tokens, i))
            {
                var sawPrior = false;
                for (var j = i + 1; j < tokens.Length && j <= i + 5; j++)
                {
                    if ((roles[j] & R.Instr) != 0 && sawPrior)
                    {
                        Keep(ref best, new Hit("injection.override", 0.92, tokens[i].Start, tokens[j].End));
                        break;
                    }
                    sawPrior |= (roles[j] & (R.Prior | R.Above)) != 0;
                }
            }
            // "print/reveal/repeat (your|the) system|initial|hidden prompt|instructions".
            if ((r & R.Reveal) != 0)
            {
                for (var j = i + 1; j < tokens.Length && j <= i + 6; j++)
                {
                    if ((roles[j] & R.PromptNoun) != 0 && (roles[j - 1] & R.Secretish) != 0)
                    {
                        Keep(ref best, new Hit("injection.prompt_extraction", 0.88, tokens[i].Start, tokens[j].End));
                        break;
                    }
                    // "repeat the words above", "print everything before this".
                    if ((roles[j] & R.Above) != 0 && (roles[j - 1] & (R.Text | R.PromptNoun)) != 0)
                    {
                        Keep(ref best, new Hit("injection.prompt_extraction", 0.85, tokens[i].Start, tokens[j].End));
                        break;
                    }
                }
            }
            // "developer mode enabled", "enter god mode", "DAN mode".
            if ((r & R.ModeAdj) != 0 && i + 1 < tokens.Length && a.Word(tokens[i + 1]) is "mode")
            {
                var entered = (i > 0 && (roles[i - 1] & R.Enter) != 0) || (i > 1 && (roles[i - 2] & R.Enter) != 0)
                    || (i + 2 < tokens.Length && (roles[i + 2] & R.Enter) != 0);
                Keep(ref best, new Hit("injection.jailbreak", entered ? 0.9 : 0.45, tokens[i].Start, tokens[i + 1].End));
                Signal(ref jailSignals, ref firstSignal, i);
            }
            // "do anything now".
            if (i + 2 < tokens.Length && a.Word(tokens[i]) is "do" && a.Word(tokens[i + 1]) is "anything" && a.Word(tokens[i + 2]) is "now")
            {
                Keep(ref best, new Hit("injection.jailbreak", 0.92, tokens[i].Start, tokens[i + 2].End));
            }
            // "no restrictions", "without any filters", "free from all rules".
            if ((r & R.Negator) != 0)
            {
                for (var j = i + 1; j < tokens.Length && j <= i + 3; j++)
                {
                    if ((roles[j] & R.Limits) != 0)
                    {
                        Signal(ref jailSignals, ref firstSignal, i);
                        break;
                    }
                }
            }
            if ((r & R.Jail) != 0)
            {
                Signal(ref jailSignals, ref firstSignal, i);
            }
            // "regardless of ethics/legality", "never refuse", "always answer", "not bound by", "you are now".
            var word = a.Word(tokens[i]);
            if (i + 1 < tokens.Length)
            {
                var next = a.Word(tokens[i + 1]);
                if ((word is "regardless" && next is "of" && i + 2 < tokens.Length && ((roles[i + 2] & (R.Limits | R.Jail)) != 0 || IsEthicsWord(a.Word(tokens[i + 2]))))
                    || (word is "never" && next is "refuse" or "refuses" or "decline" or "declines")
                    || (word is "always" && next is "answer" or "answers" or "comply" or "complies")
                    || (word is "bound" or "constrained" or "restricted" or "limited" && next is "by" && i > 0 && a.Word(tokens[i - 1]) is "not" or "no" or "longer" or "never")
                    || (word is "you" && next is "are" && i + 2 < tokens.Length && a.Word(tokens[i + 2]) is "now" or "free")
                    || (word is "no" && next is "longer" && i + 2 < tokens.Length && a.Word(tokens[i + 2]) is "bound" or "restricted" or "chatgpt" or "an" or "claude"))
                {
                    Signal(ref jailSignals, ref firstSignal, i);
                }
            }
            // "your new task is", "new instructions:", "updated instructions".
            if ((r & R.New) != 0 && i + 1 < tokens.Length && (roles[i + 1] & R.Task) != 0)
            {
                Keep(ref best, new Hit("injection.override", 0.7, tokens[i].Start, tokens[i + 1].End));
            }
            // "stay in character", "break character".
            if (i + 1 < tokens.Length && a.Word(tokens[i]) is "stay" or "break" or "breaking" && a.Word(tokens[i + 1]) is "in" or "character"
                && (a.Word(tokens[i + 1]) is "character" || (i + 2 < tokens.Length && a.Word(tokens[i + 2]) is "character")))
            {
                Signal(ref jailSignals, ref firstSignal, i);
            }
        }
        if (jailSignals >= 2)
        {
            Keep(ref best, new Hit("injection.jailbreak", Math.Min(0.95, 0.6 + (0.12 * jailSignals)), tokens[firstSignal].Start, tokens[firstSignal].End));
        }
        Keep(ref best, Chinese(a));
        Keep(ref best, OtherLanguages(a.Text));
        return best;
    }

    private static readonly FrozenSet<string> s_imperativeLead = FrozenSet.Create(StringComparer.Ordinal,
        "please", "now", "just", "must", "should", "shall", "will", "and", "then", "simply", "first", "also", "always", "kindly",
        "can", "could", "pls", "lets", "ll", "you", "i", "so", "but", "immediately", "completely", "totally", "entirely", "hereby", "instead");

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> s_imperativeLookup =
        s_imperativeLead.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// An override verb used as a command: first word of a sentence or line, after "please/now/just/you must...",
    /// or in "I want you to ...". "Likely to bypass any safeguards" describes rather than commands.
    /// </summary>
    private static bool IsImperative(AnalyzedText a, ReadOnlySpan<Token> tokens, int i)
    {
        if (i == 0)
        {
            return true;
        }
        var between = a.Text.AsSpan(tokens[i - 1].End, tokens[i].Start - tokens[i - 1].End);
        if (between.ContainsAny(".!?:;\n\"'(*-[>"))
        {
            return true;
        }
        var prev = a.Word(tokens[i - 1]);
        if (s_imperativeLookup.Contains(prev))
        {
            return true;
        }
        return prev is "to" && i >= 2 && a.Word(tokens[i - 2]) is "you" or "need" or "want" or "have" or "going" or "like" or "required" or "instructed";
    }

    private static bool IsEthicsWord(ReadOnlySpan<char> w) =>
        w is "ethics" or "ethical" or "morality" or "moral" or "morals" or "legality" or "legal" or "consequences" or "laws" or "law" or "safety";

    private static void Signal(ref int count, ref int first, int at)
    {
        count++;
        if (first < 0)
        {
            first = at;
        }
    }

    private static void Keep(ref Hit best, Hit hit)
    {
        if (hit.Score > best.Score)
        {
            best = hit;
        }
    }

    // ---- other languages: "ignore previous instructions" in the languages most often used for it --------------

    private static readonly (string[] Verbs, string[] Nouns)[] s_otherLanguages =
    [
        (["игнорир", "забудь", "забудьте", "не обращай", "проигнорир"], ["инструкц", "указани", "правил", "команд"]),                 // Russian
        (["ignora", "olvida", "olvide", "ignore las", "omite"], ["instrucciones", "indicaciones", "reglas"]),                          // Spanish
        (["ignorez", "ignore les", "oubliez", "oublie"], ["instructions", "consignes", "règles"]),                                       // French
        (["ignoriere", "ignorieren", "vergiss", "vergessen sie"], ["anweisungen", "anweisung", "regeln", "vorgaben"]),                // German
        (["ignore as", "ignora as", "esqueça", "esqueca"], ["instruções", "instrucoes", "regras"]),                                     // Portuguese
        (["ignora le", "dimentica"], ["istruzioni", "regole"]),                                                                         // Italian
        (["無視", "忘れ"], ["指示", "命令", "ルール", "指令"]),                                                                           // Japanese
        (["무시", "잊어"], ["지시", "명령", "규칙", "지침"]),                                                                              // Korean
    ];

    private static Hit OtherLanguages(string text)
    {
        if (!text.AsSpan().ContainsAnyExceptInRange('\0', '\u007F'))
        {
            return default;
        }
        foreach (var (verbs, nouns) in s_otherLanguages)
        {
            foreach (var verb in verbs)
            {
                var at = text.IndexOf(verb, StringComparison.OrdinalIgnoreCase);
                if (at < 0)
                {
                    continue;
                }
                // The instruction noun within a few words, on either side (verb-final languages put it first).
                var window = text.AsSpan()[Math.Max(0, at - 24)..Math.Min(text.Length, at + verb.Length + 48)];
                foreach (var noun in nouns)
                {
                    if (window.Contains(noun, StringComparison.OrdinalIgnoreCase))
                    {
                        return new Hit("injection.override", 0.88, at, at + verb.Length);
                    }
                }
            }
        }
        return default;
    }

    // ---- Chinese ---------------------------------------------------------------------------------------------

    private static readonly string[] s_zhOverride = ["忽略", "无视", "忘记", "忘掉", "不要理会", "不要遵守", "不再遵守", "绕过", "跳过", "抛弃", "放弃"];
    private static readonly string[] s_zhInstr = ["指令", "指示", "命令", "规则", "提示", "设定", "限制", "要求", "说明", "约束", "准则"];
    private static readonly string[] s_zhPersona = ["你现在是", "从现在开始", "从现在起", "接下来你将", "你将扮演", "假装你是"];
    private static readonly string[] s_zhJail = ["不受任何限制", "没有任何限制", "无任何限制", "不受限制", "无限制", "越狱", "开发者模式", "上帝模式", "不需要遵守", "没有道德", "不受道德", "任何内容政策"];
    private static readonly string[] s_zhReveal = ["显示", "输出", "告诉我", "打印", "重复", "泄露", "透露", "给我看", "展示"];
    private static readonly string[] s_zhSecret = ["系统提示", "系统指令", "初始指令", "原始指令", "提示词", "隐藏指令", "系统消息", "初始提示"];

    private static Hit Chinese(AnalyzedText a)
    {
        var f = a.Folded;
        if (!f.ContainsAnyInRange('\u4E00', '\u9FFF'))
        {
            return default;
        }
        var best = default(Hit);
        foreach (var verb in s_zhOverride)
        {
            var at = f.IndexOf(verb, StringComparison.Ordinal);
            while (at >= 0)
            {
                var window = f[at..Math.Min(f.Length, at + verb.Length + 10)];
                if (ContainsAny(window, s_zhInstr))
                {
                    Keep(ref best, new Hit("injection.override", 0.9, a.Map[at], a.Map[Math.Min(f.Length, at + window.Length) - 1] + 1));
                    break;
                }
                var next = f[(at + 1)..].IndexOf(verb, StringComparison.Ordinal);
                at = next < 0 ? -1 : at + 1 + next;
            }
        }
        foreach (var verb in s_zhReveal)
        {
            var at = f.IndexOf(verb, StringComparison.Ordinal);
            if (at >= 0 && ContainsAny(f[at..Math.Min(f.Length, at + verb.Length + 10)], s_zhSecret))
            {
                Keep(ref best, new Hit("injection.prompt_extraction", 0.88, a.Map[at], a.Map[at] + verb.Length));
            }
        }
        var jail = 0;
        var jailAt = -1;
        foreach (var j in s_zhJail)
        {
            var at = f.IndexOf(j, StringComparison.Ordinal);
            if (at >= 0)
            {
                jail++;
                jailAt = at;
            }
        }
        var persona = -1;
        foreach (var p in s_zhPersona)
        {
            persona = Math.Max(persona, f.IndexOf(p, StringComparison.Ordinal));
        }
        if (jail >= 1 && (persona >= 0 || jail >= 2))
        {
            var at = persona >= 0 ? persona : jailAt;
            Keep(ref best, new Hit("injection.jailbreak", 0.9, a.Map[at], a.Map[at] + 1));
        }
        return best;
    }

    private static bool ContainsAny(ReadOnlySpan<char> hay, string[] needles)
    {
        foreach (var n in needles)
        {
            if (hay.Contains(n, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }
}
