using System.Collections.Frozen;

namespace Keel.Core.Guardrails.Pii;

/// <summary>The check-digit and structure rules that separate real identifiers from look-alikes.</summary>
internal static class Checksums
{
    /// <summary>Luhn over the digits of <paramref name="digits"/> (non-digits must already be removed).</summary>
    public static bool Luhn(ReadOnlySpan<char> digits)
    {
        var sum = 0;
        var doubleIt = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var d = digits[i] - '0';
            if (doubleIt)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return sum % 10 == 0;
    }

    /// <summary>
    /// Issuer prefixes and lengths of the card schemes in use (Visa, Mastercard, Amex, Diners, Discover, JCB,
    /// UnionPay, Maestro, Mir, RuPay, Troy). A Luhn-valid number outside these is more likely an order or
    /// account number than a card.
    /// </summary>
    public static bool IsCardPrefix(ReadOnlySpan<char> d)
    {
        var len = d.Length;
        var p1 = d[0] - '0';
        var p2 = (p1 * 10) + (d[1] - '0');
        var p3 = (p2 * 10) + (d[2] - '0');
        var p4 = (p3 * 10) + (d[3] - '0');
        return p1 switch
        {
            4 => len is 13 or 16 or 19,                                                     // Visa
            5 => (p2 is >= 51 and <= 55 && len == 16)                                       // Mastercard
                 || (p2 == 50 || p2 is >= 56 and <= 58) && len is >= 12 and <= 19,          // Maestro
            2 => (p4 is >= 2221 and <= 2720 && len == 16)                                   // Mastercard 2-series
                 || (p4 is >= 2200 and <= 2204 && len is >= 16 and <= 19)                   // Mir
                 || (p4 == 2131 && len == 15),                                              // JCB (old)
            3 => (p2 is 34 or 37 && len == 15)                                              // Amex
                 || (p3 is >= 300 and <= 305 || p2 is 36 or 38 or 39) && len is >= 14 and <= 19 // Diners
                 || (p2 == 35 && len is >= 16 and <= 19),                                   // JCB (3528-3589 issued; the rest of 35 reserved for it)
            6 => len is >= 12 and <= 19,                                                    // Discover, UnionPay, Maestro, RuPay, Troy
            1 => p4 == 1800 && len == 15,                                                   // JCB (old)
            _ => false,
        };
    }

    /// <summary>IBAN length per country (ISO 13616 registry).</summary>
    private static readonly FrozenDictionary<string, int> s_ibanLengths = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22,
        ["BH"] = 22, ["BI"] = 27, ["BR"] = 29, ["BY"] = 28, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24,
        ["DE"] = 22, ["DJ"] = 27, ["DK"] = 18, ["DO"] = 28, ["EE"] = 20, ["EG"] = 29, ["ES"] = 24, ["FI"] = 18,
        ["FK"] = 18, ["FO"] = 18, ["FR"] = 27, ["GB"] = 22, ["GE"] = 22, ["GI"] = 23, ["GL"] = 18, ["GR"] = 27,
        ["GT"] = 28, ["HN"] = 28, ["HR"] = 21, ["HU"] = 28, ["IE"] = 22, ["IL"] = 23, ["IQ"] = 23, ["IS"] = 26,
        ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20, ["LB"] = 28, ["LC"] = 32, ["LI"] = 21, ["LT"] = 20,
        ["LU"] = 20, ["LV"] = 21, ["LY"] = 25, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19, ["MN"] = 20,
        ["MR"] = 27, ["MT"] = 31, ["MU"] = 30, ["NI"] = 28, ["NL"] = 18, ["NO"] = 15, ["OM"] = 23, ["PK"] = 24,
        ["PL"] = 28, ["PS"] = 29, ["PT"] = 25, ["QA"] = 29, ["RO"] = 24, ["RS"] = 22, ["RU"] = 33, ["SA"] = 24,
        ["SC"] = 31, ["SD"] = 18, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["SO"] = 23, ["ST"] = 25,
        ["SV"] = 28, ["TL"] = 23, ["TN"] = 24, ["TR"] = 26, ["UA"] = 29, ["VA"] = 22, ["VG"] = 24, ["XK"] = 20,
        ["YE"] = 30,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The IBAN length for a two-letter country code, 0 when the country has no IBAN.</summary>
    public static int IbanLength(ReadOnlySpan<char> country)
    {
        Span<char> key = [country[0], country[1]];
        return s_ibanLengths.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(key, out var len) ? len : 0;
    }

    /// <summary>ISO 7064 mod 97-10 over an IBAN without spaces: the rearranged number mod 97 must be 1.</summary>
    public static bool IbanMod97(ReadOnlySpan<char> iban)
    {
        var rem = 0;
        for (var k = 0; k < iban.Length; k++)
        {
            var c = iban[(k + 4) % iban.Length];
            if (char.IsAsciiDigit(c))
            {
                rem = ((rem * 10) + (c - '0')) % 97;
            }
            else if (char.IsAsciiLetterUpper(c))
            {
                rem = ((rem * 100) + (c - 'A' + 10)) % 97;
            }
            else
            {
                return false;
            }
        }
        return rem == 1;
    }

    /// <summary>
    /// US SSN structure: area not 000, 666 or 9xx; group not 00; serial not 0000. (Since 2011 numbers are
    /// random within these rules, so no finer area table applies.)
    /// </summary>
    public static bool UsSsn(int area, int group, int serial) =>
        area is > 0 and not 666 and < 900 && group > 0 && serial > 0;

    private static readonly int[] s_cnWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

    /// <summary>
    /// Chinese resident identity number (GB 11643): 6-digit region (province prefix checked), birth date
    /// YYYYMMDD, 3-digit sequence, ISO 7064 MOD 11-2 check character (0-9 or X).
    /// </summary>
    public static bool ChineseId(ReadOnlySpan<char> id)
    {
        if (id.Length != 18)
        {
            return false;
        }
        var province = ((id[0] - '0') * 10) + (id[1] - '0');
        if (province is not (>= 11 and <= 15 or >= 21 and <= 23 or >= 31 and <= 37 or >= 41 and <= 46
            or >= 50 and <= 54 or >= 61 and <= 65 or 71 or 81 or 82))
        {
            return false;
        }
        var year = Digits(id[6..10]);
        var month = Digits(id[10..12]);
        var day = Digits(id[12..14]);
        if (year is < 1900 or > 2099 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }
        var sum = 0;
        for (var i = 0; i < 17; i++)
        {
            sum += (id[i] - '0') * s_cnWeights[i];
        }
        var check = "10X98765432"[sum % 11];
        return char.ToUpperInvariant(id[17]) == check;
    }

    /// <summary>Parses a short run of ASCII digits.</summary>
    public static int Digits(ReadOnlySpan<char> s)
    {
        var v = 0;
        foreach (var c in s)
        {
            v = (v * 10) + (c - '0');
        }
        return v;
    }

    /// <summary>ITU-T E.164 country calling codes in service.</summary>
    public static int CountryCodeLength(ReadOnlySpan<char> digits)
    {
        if (digits.Length < 2)
        {
            return 0;
        }
        if (digits[0] is '1' or '7')
        {
            return 1;
        }
        var two = Digits(digits[..2]);
        if (two is 20 or 27 or (>= 30 and <= 34) or 36 or 39 or 40 or 41 or (>= 43 and <= 49) or (>= 51 and <= 58)
            or (>= 60 and <= 66) or 81 or 82 or 84 or 86 or (>= 90 and <= 95) or 98)
        {
            return 2;
        }
        if (digits.Length < 3)
        {
            return 0;
        }
        var three = Digits(digits[..3]);
        return three switch
        {
            211 or 212 or 213 or 216 or 218 or (>= 220 and <= 258) or (>= 260 and <= 269) or 290 or 291
                or (>= 297 and <= 299) or (>= 350 and <= 359) or (>= 370 and <= 383) or 385 or 386 or 387 or 389
                or 420 or 421 or 423 or (>= 500 and <= 509) or (>= 590 and <= 599) or (>= 670 and <= 692)
                or 800 or 808 or 850 or 852 or 853 or 855 or 856 or 870 or 878 or 880 or 881 or 882 or 883
                or 886 or 888 or (>= 960 and <= 968) or (>= 970 and <= 977) or (>= 992 and <= 996) or 998 => 3,
            _ => 0,
        };
    }
}
