namespace Keel.Core.Guardrails.Pii;

/// <summary>
/// IBANs, compact (GB82WEST12345698765432) or printed in groups of four. The country's registered length and
/// the mod-97 check must both hold, so look-alikes with a wrong digit are not reported.
/// </summary>
internal static class IbanMatcher
{
    private const int MaxIban = 34;

    public static void Find(string text, ref List<Finding>? found)
    {
        var s = text.AsSpan();
        Span<char> buf = stackalloc char[MaxIban];
        for (var i = 0; i + 15 <= s.Length; i++)
        {
            if (!char.IsAsciiLetterUpper(s[i]) || !char.IsAsciiLetterUpper(s[i + 1]) || !char.IsAsciiDigit(s[i + 2]) || !char.IsAsciiDigit(s[i + 3])
                || (i > 0 && char.IsLetterOrDigit(s[i - 1])))
            {
                continue;
            }
            var want = Checksums.IbanLength(s.Slice(i, 2));
            if (want == 0)
            {
                continue;
            }
            var n = 0;
            var k = i;
            var run = 0;
            var grouped = false;
            while (k < s.Length && n < want)
            {
                var c = s[k];
                if (char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c))
                {
                    buf[n++] = c;
                    run++;
                    k++;
                }
                else if (c == ' ' && run == 4 && k + 1 < s.Length && char.IsAsciiLetterOrDigit(s[k + 1]) && (n == 4 || grouped))
                {
                    grouped = true;
                    run = 0;
                    k++;
                }
                else
                {
                    break;
                }
            }
            if (n != want || (k < s.Length && char.IsLetterOrDigit(s[k])) || !Checksums.IbanMod97(buf[..n]))
            {
                continue;
            }
            (found ??= []).Add(new Finding("pii.iban", i, k, 0.95, "[IBAN]"));
            i = k;
        }
    }
}
