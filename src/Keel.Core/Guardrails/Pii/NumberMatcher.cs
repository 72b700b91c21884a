namespace Keel.Core.Guardrails.Pii;

/// <summary>
/// Finds digit-based identifiers (cards, SSNs, IPv4, Chinese ID numbers, phone numbers) in one left-to-right pass.
/// A "sequence" is a run of digit groups joined by single separators (space, '-', '.', '/', parentheses);
/// candidate identifiers are contiguous group ranges of it, cut only at spaces, checked longest first by the
/// validators. Work per sequence is bounded (at most <see cref="MaxGroups"/> groups, ranges of at most
/// <see cref="MaxRangeGroups"/>), so the pass is linear in the text whatever it holds.
/// </summary>
internal static class NumberMatcher
{
    private const int MaxGroups = 16;
    private const int MaxRangeGroups = 7;
    private const int MaxDigits = 19;

    private enum Sep : byte
    {
        Space,
        Dash,
        Dot,
        Slash,
        Paren,
    }

    private struct Group
    {
        public int Start;
        public int End;
        public Sep After;
    }

    public static void Find(string text, ref List<Finding>? found)
    {
        Span<Group> groups = stackalloc Group[MaxGroups];
        Span<char> digits = stackalloc char[MaxDigits + 4];
        var span = text.AsSpan();
        var i = 0;
        while (i < span.Length)
        {
            var rel = span[i..].IndexOfAnyInRange('0', '9');
            if (rel < 0)
            {
                break;
            }
            var p = i + rel;
            var seqStart = p;
            var plus = false;
            if (p > 0 && span[p - 1] == '+')
            {
                seqStart = p - 1;
                plus = true;
            }
            else if (p > 0 && span[p - 1] == '(')
            {
                seqStart = p - 1;
                if (p > 1 && span[p - 2] == '+')
                {
                    seqStart = p - 2;
                    plus = true;
                }
            }

            // Parse the groups of this sequence.
            var n = 0;
            var j = p;
            var tooLong = false;
            while (true)
            {
                var gs = j;
                while (j < span.Length && char.IsAsciiDigit(span[j]))
                {
                    j++;
                }
                if (j - gs > MaxDigits)
                {
                    tooLong = true;
                }
                groups[n] = new Group { Start = gs, End = j };
                n++;
                if (n == MaxGroups || tooLong)
                {
                    break;
                }
                var k = j;
                while (k < span.Length && k - j < 3 && IsSepChar(span[k]))
                {
                    k++;
                }
                if (k == j || k >= span.Length || !char.IsAsciiDigit(span[k]) || !TryClassify(span[j..k], out var sep))
                {
                    break;
                }
                groups[n - 1].After = sep;
                j = k;
            }
            var seqEnd = groups[n - 1].End;
            if (!tooLong)
            {
                Match(span, groups[..n], digits, seqStart, plus, ref found, out var consumedTo);
                seqEnd = Math.Max(seqEnd, consumedTo);
            }
            else
            {
                // A very long digit run: skip the rest of it in one go.
                while (seqEnd < span.Length && char.IsAsciiDigit(span[seqEnd]))
                {
                    seqEnd++;
                }
            }
            i = Math.Max(seqEnd, p + 1);
        }
    }

    private static bool IsSepChar(char c) => c is ' ' or '-' or '.' or '/' or '(' or ')' or '\u00A0';

    private static bool TryClassify(ReadOnlySpan<char> s, out Sep sep)
    {
        sep = Sep.Space;
        if (s.ContainsAny('(', ')'))
        {
            // ") ", " (", ")", "(": parentheses around a group, as in (555) 123-4567 or +41 (0)62.
            sep = Sep.Paren;
            return s.Length <= 2 && !s.ContainsAny('-', '.', '/');
        }
        if (s.Length != 1)
        {
            return false;
        }
        sep = s[0] switch
        {
            '-' => Sep.Dash,
            '.' => Sep.Dot,
            '/' => Sep.Slash,
            _ => Sep.Space,
        };
        return true;
    }

    /// <summary>True when the character before <paramref name="start"/> ties the number to a word or a longer number.</summary>
    private static bool LeftGlued(ReadOnlySpan<char> s, int start)
    {
        if (start == 0)
        {
            return false;
        }
        var c = s[start - 1];
        if (char.IsLetterOrDigit(c) || c is '_' or '@')
        {
            return true;
        }
        return c is '.' or ',' or ':' or '/' or '-' or '+' && start > 1 && char.IsAsciiDigit(s[start - 2]);
    }

    /// <summary>True when the character at <paramref name="end"/> ties the number to a word or a longer number.</summary>
    private static bool RightGlued(ReadOnlySpan<char> s, int end)
    {
        if (end >= s.Length)
        {
            return false;
        }
        var c = s[end];
        if (char.IsLetterOrDigit(c) || c is '_' or '@' or '%')
        {
            return true;
        }
        return c is '.' or ',' or ':' or '/' && end + 1 < s.Length && char.IsAsciiDigit(s[end + 1]);
    }

    private static void Match(ReadOnlySpan<char> s, ReadOnlySpan<Group> g, Span<char> digits, int seqStart, bool plus,
        ref List<Finding>? found, out int consumedTo)
    {
        consumedTo = 0;
        var n = g.Length;
        var a = 0;
        while (a < n)
        {
            if (a > 0 && g[a - 1].After != Sep.Space)
            {
                a++;
                continue;
            }
            var matched = false;
            for (var b = Math.Min(n - 1, a + MaxRangeGroups - 1); b >= a; b--)
            {
                if (b < n - 1 && g[b].After != Sep.Space)
                {
                    continue;
                }
                var start = a == 0 ? seqStart : g[a].Start;
                if (a == 0 && LeftGlued(s, start))
                {
                    continue;
                }
                if (TryRange(s, g[a..(b + 1)], digits, start, a == 0 && plus, b == n - 1, out var f))
                {
                    (found ??= []).Add(f);
                    consumedTo = Math.Max(consumedTo, f.End);
                    a = b + 1;
                    matched = true;
                    break;
                }
            }
            if (!matched)
            {
                a++;
            }
        }
    }

    private static bool TryRange(ReadOnlySpan<char> s, ReadOnlySpan<Group> g, Span<char> digits, int start, bool plus,
        bool atSequenceEnd, out Finding finding)
    {
        finding = default;
        var count = g.Length;
        var d = 0;
        foreach (var grp in g)
        {
            var len = grp.End - grp.Start;
            if (d + len > MaxDigits)
            {
                return false;
            }
            s[grp.Start..grp.End].CopyTo(digits[d..]);
            d += len;
        }
        var num = digits[..d];
        var end = g[^1].End;

        // Chinese resident ID: 17 digits and a check character that may be X.
        if (count == 1 && atSequenceEnd && d == 17 && end < s.Length && s[end] is 'X' or 'x')
        {
            if (!RightGlued(s, end + 1))
            {
                num = digits[..18];
                digits[17] = 'X';
                if (Checksums.ChineseId(num))
                {
                    finding = new Finding("pii.cn_id", start, end + 1, 0.95, "[CN_ID]");
                    return true;
                }
            }
            return false;
        }

        // A phone extension ("x4587", " ext. 12") belongs to the number; for everything else it is a glued letter.
        var extEnd = atSequenceEnd ? ExtensionEnd(s, end) : end;
        var rightGlued = RightGlued(s, end);

        if (plus || (count > 1 && num.StartsWith("00") && g[0].End - g[0].Start <= 4) || num.StartsWith("011") && count > 1)
        {
            if (RightGlued(s, extEnd) || !IsPhoneSeparators(g))
            {
                return false;
            }
            if (International(s, g, num, plus))
            {
                finding = new Finding("pii.phone", start, extEnd, 0.9, "[PHONE]");
                return true;
            }
            return false;
        }

        // IPv4, possibly with a port ("10.0.0.7:8080").
        if (count == 4 && AllSeps(g, Sep.Dot))
        {
            var portOnly = end + 1 < s.Length && s[end] == ':' && char.IsAsciiDigit(s[end + 1]);
            if ((!rightGlued || portOnly) && IsIpv4(s, g))
            {
                finding = new Finding("pii.ip_address", start, end, 0.9, "[IP_ADDRESS]");
                return true;
            }
            return false;
        }

        if (!rightGlued)
        {
            if (count == 1 && d == 18 && Checksums.ChineseId(num))
            {
                finding = new Finding("pii.cn_id", start, end, 0.95, "[CN_ID]");
                return true;
            }
            if (count == 3 && g[0].After == Sep.Dash && g[1].After == Sep.Dash && Lengths(g, 3, 2, 4))
            {
                if (Checksums.UsSsn(Checksums.Digits(num[..3]), Checksums.Digits(num[3..5]), Checksums.Digits(num[5..])))
                {
                    finding = new Finding("pii.us_ssn", start, end, 0.9, "[US_SSN]");
                    return true;
                }
                return false;
            }
            if (count == 1 && d == 9 && HasContext(s, start, end, s_ssnContext)
                && Checksums.UsSsn(Checksums.Digits(num[..3]), Checksums.Digits(num[3..5]), Checksums.Digits(num[5..])))
            {
                finding = new Finding("pii.us_ssn", start, end, 0.7, "[US_SSN]");
                return true;
            }
            if (d >= 12 && IsCardGrouping(g) && Checksums.IsCardPrefix(num) && Checksums.Luhn(num))
            {
                finding = new Finding("pii.credit_card", start, end, 0.95, "[CREDIT_CARD]");
                return true;
            }
        }

        if (RightGlued(s, extEnd) || !IsPhoneSeparators(g) || IsDateLike(g))
        {
            return false;
        }
        var score = PhoneStrength(s, g, num);
        if (score == 0 && IsWeakPhoneShape(g, num) && HasContext(s, start, extEnd, s_phoneContext))
        {
            score = 0.6;
        }
        if (score > 0)
        {
            finding = new Finding("pii.phone", start, extEnd, score, "[PHONE]");
            return true;
        }
        return false;
    }

    private static bool Lengths(ReadOnlySpan<Group> g, params ReadOnlySpan<int> lengths)
    {
        if (g.Length != lengths.Length)
        {
            return false;
        }
        for (var i = 0; i < g.Length; i++)
        {
            if (g[i].End - g[i].Start != lengths[i])
            {
                return false;
            }
        }
        return true;
    }

    private static bool AllSeps(ReadOnlySpan<Group> g, Sep sep)
    {
        for (var i = 0; i < g.Length - 1; i++)
        {
            if (g[i].After != sep)
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsIpv4(ReadOnlySpan<char> s, ReadOnlySpan<Group> g)
    {
        foreach (var grp in g)
        {
            var len = grp.End - grp.Start;
            if (len is < 1 or > 3 || (len > 1 && s[grp.Start] == '0') || Checksums.Digits(s[grp.Start..grp.End]) > 255)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>One block, or blocks of four joined by one kind of separator (Amex 4-6-5 and Diners 4-6-4 too).</summary>
    private static bool IsCardGrouping(ReadOnlySpan<Group> g)
    {
        if (g.Length == 1)
        {
            return true;
        }
        var sep = g[0].After;
        if (sep is not (Sep.Space or Sep.Dash) || !AllSeps(g, sep))
        {
            return false;
        }
        if (Lengths(g, 4, 6, 5) || Lengths(g, 4, 6, 4))
        {
            return true;
        }
        for (var i = 0; i < g.Length; i++)
        {
            var len = g[i].End - g[i].Start;
            if (i < g.Length - 1 ? len != 4 : len is < 1 or > 4)
            {
                return false;
            }
        }
        return g.Length >= 3;
    }

    private static bool IsPhoneSeparators(ReadOnlySpan<Group> g)
    {
        for (var i = 0; i < g.Length - 1; i++)
        {
            if (g[i].After == Sep.Slash)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>2024-01-31, 31.01.2024, 1/2/2024 and the like.</summary>
    private static bool IsDateLike(ReadOnlySpan<Group> g)
    {
        if (g.Length != 3 || g[0].After == Sep.Space || g[0].After != g[1].After)
        {
            return false;
        }
        var l0 = g[0].End - g[0].Start;
        var l1 = g[1].End - g[1].Start;
        var l2 = g[2].End - g[2].Start;
        return (l0 == 4 && l1 <= 2 && l2 <= 2) || (l0 <= 2 && l1 <= 2 && l2 is 2 or 4);
    }

    private static int ExtensionEnd(ReadOnlySpan<char> s, int end)
    {
        var k = end;
        if (k < s.Length && s[k] == ' ')
        {
            k++;
        }
        if (k < s.Length && s[k] is 'x' or 'X')
        {
            k++;
        }
        else if (k + 3 <= s.Length && s.Slice(k, 3).Equals("ext", StringComparison.OrdinalIgnoreCase))
        {
            k += 3;
            if (k < s.Length && s[k] == '.')
            {
                k++;
            }
            if (k < s.Length && s[k] == ' ')
            {
                k++;
            }
        }
        else
        {
            return end;
        }
        var ds = k;
        while (k < s.Length && char.IsAsciiDigit(s[k]) && k - ds < 6)
        {
            k++;
        }
        return k - ds is >= 1 and <= 5 ? k : end;
    }

    private static bool International(ReadOnlySpan<char> s, ReadOnlySpan<Group> g, ReadOnlySpan<char> num, bool plus)
    {
        // Digits of the subscriber number: drop the international prefix and a "(0)" trunk group.
        Span<char> buf = stackalloc char[MaxDigits + 4];
        var n = 0;
        for (var i = 0; i < g.Length; i++)
        {
            var grp = s[g[i].Start..g[i].End];
            if (i > 0 && grp is "0" && g[i - 1].After == Sep.Paren)
            {
                continue;
            }
            grp.CopyTo(buf[n..]);
            n += grp.Length;
        }
        var digits = buf[..n];
        if (!plus)
        {
            digits = digits[(num.StartsWith("011") ? 3 : 2)..];
        }
        if (digits.Length is < 7 or > 15)
        {
            return false;
        }
        var cc = Checksums.CountryCodeLength(digits);
        return cc > 0 && digits.Length - cc >= 4;
    }

    /// <summary>Scores shapes that are phone numbers on their own; 0 for shapes that need context.</summary>
    private static double PhoneStrength(ReadOnlySpan<char> s, ReadOnlySpan<Group> g, ReadOnlySpan<char> num)
    {
        var d = num.Length;

        // North American Numbering Plan: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX, 1-NXX-NXX-XXXX.
        var nanp = g;
        if (g.Length == 4 && g[0].End - g[0].Start == 1 && s[g[0].Start] == '1')
        {
            nanp = g[1..];
        }
        // (The exchange's first digit is 2-9 in the plan, but generated and fictional numbers often break that;
        // the 3-3-4 shape with consistent separators is what makes it a phone number.)
        if (nanp.Length == 3 && Lengths(nanp, 3, 3, 4) && s[nanp[0].Start] is >= '2' and <= '9')
        {
            var s0 = nanp[0].After;
            var s1 = nanp[1].After;
            if ((s0 == s1 && s0 is Sep.Dash or Sep.Dot) || (s0 == Sep.Paren && s1 is Sep.Dash or Sep.Space or Sep.Paren))
            {
                return 0.85;
            }
        }

        // An area code in parentheses followed by the local number: (08) 8747 6301, (37) 788-063, (64) 3591-3246.
        if (g.Length >= 2 && g[0].After == Sep.Paren && g[0].Start > 0 && s[g[0].Start - 1] == '(' && g[0].End - g[0].Start is >= 2 and <= 4
            && d is >= 8 and <= 11 && g[1].End - g[1].Start >= 3)
        {
            return 0.8;
        }

        // Mainland China mobile: 1[3-9]X XXXX XXXX.
        if (d == 11 && num[0] == '1' && num[1] is >= '3' and <= '9' && (g.Length == 1 || Lengths(g, 3, 4, 4)))
        {
            return 0.8;
        }

        // National numbers with a trunk prefix, grouped: 0494 92 82 32, 083 564 9312, (08) 8747 6301, 03.93.92.16.85.
        if (d is >= 9 and <= 11 && num[0] == '0' && num[1] != '0' && g.Length >= 2)
        {
            foreach (var grp in g)
            {
                if (grp.End - grp.Start < 2)
                {
                    return 0;
                }
            }
            return 0.8;
        }
        return 0;
    }

    /// <summary>Shapes that are phone numbers only when the words around say so: 451 5986, 72 128 827, 5403926876.</summary>
    private static bool IsWeakPhoneShape(ReadOnlySpan<Group> g, ReadOnlySpan<char> num)
    {
        var d = num.Length;
        if (g.Length == 1)
        {
            return (d == 10 && num[0] is >= '2' and <= '9') || (d is >= 9 and <= 11 && num[0] == '0');
        }
        if (d is < 7 or > 12)
        {
            return false;
        }
        foreach (var grp in g)
        {
            if (grp.End - grp.Start is < 2 or > 6)
            {
                return false;
            }
        }
        return true;
    }

    private static readonly string[] s_phoneContext =
    [
        "phone", "tel", "mobile", "cell", "fax", "desk", "office", "call", "ring", "dial", "text me", "sms",
        "whatsapp", "contact", "reach me", "answering", "voicemail", "hotline", "mob", "电话", "手机", "联系", "致电", "拨打",
    ];

    private static readonly string[] s_ssnContext = ["ssn", "social security", "social-security", "taxpayer"];

    /// <summary>Looks for a keyword shortly before (40 chars) or after (20 chars) the candidate.</summary>
    private static bool HasContext(ReadOnlySpan<char> s, int start, int end, string[] words)
    {
        var before = s[Math.Max(0, start - 40)..start];
        var after = s[end..Math.Min(s.Length, end + 20)];
        foreach (var w in words)
        {
            if (ContainsWord(before, w) || ContainsWord(after, w))
            {
                return true;
            }
        }
        return false;
    }

    private static bool ContainsWord(ReadOnlySpan<char> hay, string word)
    {
        var from = 0;
        while (from < hay.Length)
        {
            var k = hay[from..].IndexOf(word, StringComparison.OrdinalIgnoreCase);
            if (k < 0)
            {
                return false;
            }
            k += from;
            if (k == 0 || !char.IsAsciiLetter(hay[k - 1]) || word[0] > 0x7F)
            {
                return true;
            }
            from = k + 1;
        }
        return false;
    }
}
