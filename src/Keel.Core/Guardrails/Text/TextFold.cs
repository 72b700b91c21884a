using System.Collections.Frozen;

namespace Keel.Core.Guardrails.Text;

/// <summary>
/// Character folding shared by the text classifiers, so that look-alike spellings reach the same features:
/// lower case, full-width forms to ASCII, Cyrillic and Greek letters that look Latin to their Latin twins,
/// Latin accents dropped, and invisible format characters (zero-width, bidi controls, Unicode tags) removed.
/// </summary>
internal static class TextFold
{
    /// <summary>Returned by <see cref="Fold"/> for characters that carry no visible content.</summary>
    public const char Removed = '\0';

    private static readonly FrozenDictionary<char, char> s_map = BuildMap();

    private static FrozenDictionary<char, char> BuildMap()
    {
        var m = new Dictionary<char, char>();
        void Add(string from, char to)
        {
            foreach (var c in from)
            {
                m[c] = to;
            }
        }

        // Latin-1 and Latin Extended-A accents.
        Add("àáâãäåāăąÀÁÂÃÄÅĀĂĄ", 'a');
        Add("çćĉċčÇĆĈĊČ", 'c');
        Add("ďđĎĐ", 'd');
        Add("èéêëēĕėęěÈÉÊËĒĔĖĘĚ", 'e');
        Add("ĝğġģĜĞĠĢ", 'g');
        Add("ĥħĤĦ", 'h');
        Add("ìíîïĩīĭįıÌÍÎÏĨĪĬĮİ", 'i');
        Add("ĵĴ", 'j');
        Add("ķĶ", 'k');
        Add("ĺļľŀłĹĻĽĿŁ", 'l');
        Add("ñńņňÑŃŅŇ", 'n');
        Add("òóôõöøōŏőÒÓÔÕÖØŌŎŐ", 'o');
        Add("ŕŗřŔŖŘ", 'r');
        Add("śŝşšŚŜŞŠ", 's');
        Add("ţťŧŢŤŦ", 't');
        Add("ùúûüũūŭůűųÙÚÛÜŨŪŬŮŰŲ", 'u');
        Add("ŵŴ", 'w');
        Add("ýÿŷÝŸŶ", 'y');
        Add("źżžŹŻŽ", 'z');

        // Cyrillic and Greek letters used as Latin look-alikes.
        Add("аАɑα", 'a');
        Add("вВβ", 'b');
        Add("сСϲ", 'c');
        Add("ԁ", 'd');
        Add("еЕёЁεΕ", 'e');
        Add("һ", 'h');
        Add("іІїЇιΙ", 'i');
        Add("јЈ", 'j');
        Add("кКκΚ", 'k');
        Add("мМΜ", 'm');
        Add("нНΗ", 'h');
        Add("оОοΟσ", 'o');
        Add("рРρΡ", 'p');
        Add("ѕЅ", 's');
        Add("тТτΤ", 't');
        Add("υ", 'u');
        Add("ѵν", 'v');
        Add("ԝѡ", 'w');
        Add("хХχΧ", 'x');
        Add("уУγ", 'y');
        Add("ΖΖ", 'z');
        return m.ToFrozenDictionary();
    }

    /// <summary>Folds one UTF-16 unit (tag characters, which are surrogate pairs, are handled by <see cref="AnalyzedText"/>).</summary>
    public static char Fold(char c)
    {
        if (c < 0x80)
        {
            return c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
        }
        if (IsInvisible(c))
        {
            return Removed;
        }
        if (c is >= '\uFF01' and <= '\uFF5E')
        {
            var a = (char)(c - 0xFEE0);
            return a is >= 'A' and <= 'Z' ? (char)(a + 32) : a;
        }
        if (c == '\u3000' || c == '\u00A0')
        {
            return ' ';
        }
        if (s_map.TryGetValue(c, out var mapped))
        {
            return mapped;
        }
        return char.ToLowerInvariant(c);
    }

    /// <summary>Zero-width and bidi format characters and the soft hyphen.</summary>
    public static bool IsInvisible(char c) =>
        c is '\u00AD' or '\u180E' or (>= '\u200B' and <= '\u200F') or (>= '\u202A' and <= '\u202E')
            or (>= '\u2060' and <= '\u2069') or '\uFEFF';

    /// <summary>Leetspeak digit or symbol → letter, for tokens that mix letters with them (h4te, @ss, 1d1ot).</summary>
    public static char Leet(char c) => c switch
    {
        '0' => 'o',
        '1' => 'i',
        '!' => 'i',
        '|' => 'i',
        '3' => 'e',
        '4' => 'a',
        '@' => 'a',
        '5' => 's',
        '$' => 's',
        '7' => 't',
        '+' => 't',
        '8' => 'b',
        '9' => 'g',
        _ => c,
    };

    /// <summary>True for CJK ideographs (each one is a token of its own).</summary>
    public static bool IsCjk(char c) => c is (>= '\u4E00' and <= '\u9FFF') or (>= '\u3400' and <= '\u4DBF') or (>= '\uF900' and <= '\uFAFF');
}
