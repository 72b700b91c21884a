using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Keel.Core.Tokenization;

/// <summary>Finds the end of the pre-tokenization piece that starts at a given byte offset of UTF-8 text.</summary>
internal interface IPreTokenizer
{
    /// <summary>The end (exclusive) of the piece starting at <paramref name="start"/> (&lt; text.Length).</summary>
    static abstract int PieceEnd(ReadOnlySpan<byte> text, int start);
}

/// <summary>
/// tiktoken's cl100k_base split, <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
/// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>, as a scanner over code points.
/// </summary>
internal readonly struct Cl100kPreTokenizer : IPreTokenizer
{
    public static int PieceEnd(ReadOnlySpan<byte> text, int start)
    {
        var c = CharClass.Of(text, start, out var length);
        var b = text[start];
        int end;
        if (b == (byte)'\'' && (end = CharClass.ContractionEnd(text, start)) > 0)
        {
            return end;
        }

        if ((c & CharClass.Letter) != 0)
        {
            return CharClass.SkipWhile(text, start + length, CharClass.Letter);
        }

        // [^\r\n\p{L}\p{N}] takes the one character before a run of letters (" word", "\tword", "'word").
        if ((c & (CharClass.Number | CharClass.NewLine)) == 0
            && (CharClass.Of(text, start + length, out _) & CharClass.Letter) != 0)
        {
            return CharClass.SkipWhile(text, start + length, CharClass.Letter);
        }

        if ((c & CharClass.Number) != 0)
        {
            return CharClass.SkipNumbers(text, start);
        }

        if (b == (byte)' ' && CharClass.IsOther(CharClass.Of(text, start + 1, out _)))
        {
            return CharClass.SkipNewlines(text, CharClass.SkipOthers(text, start + 1), slash: false);
        }

        if (CharClass.IsOther(c))
        {
            return CharClass.SkipNewlines(text, CharClass.SkipOthers(text, start), slash: false);
        }

        return CharClass.WhitespaceEnd(text, start);
    }
}

/// <summary>
/// tiktoken's o200k_base split, a scanner over code points for
/// <c>[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
/// </summary>
internal readonly struct O200kPreTokenizer : IPreTokenizer
{
    public static int PieceEnd(ReadOnlySpan<byte> text, int start)
    {
        var c = CharClass.Of(text, start, out var length);
        var prefix = (c & (CharClass.Letter | CharClass.Number | CharClass.NewLine)) == 0;
        int end;

        // The first alternative, with then without the optional prefix character, before the second.
        if (prefix && (end = LowerWordEnd(text, start + length)) > 0)
        {
            return end;
        }

        if ((c & (CharClass.Upper | CharClass.Lower)) != 0 && (end = LowerWordEnd(text, start)) > 0)
        {
            return end;
        }

        if (prefix && (end = UpperWordEnd(text, start + length)) > 0)
        {
            return end;
        }

        if ((c & CharClass.Upper) != 0)
        {
            return UpperWordEnd(text, start);
        }

        if ((c & CharClass.Number) != 0)
        {
            return CharClass.SkipNumbers(text, start);
        }

        if (text[start] == (byte)' ' && CharClass.IsOther(CharClass.Of(text, start + 1, out _)))
        {
            return CharClass.SkipNewlines(text, CharClass.SkipOthers(text, start + 1), slash: true);
        }

        if (CharClass.IsOther(c))
        {
            return CharClass.SkipNewlines(text, CharClass.SkipOthers(text, start), slash: true);
        }

        return CharClass.WhitespaceEnd(text, start);
    }

    /// <summary>
    /// <c>U*W+C?</c> from <paramref name="start"/> (U = Lu Lt Lm Lo M, W = Ll Lm Lo M, C a contraction), or -1.
    /// The classes overlap, so when no Ll follows the U run the regex backtracks to the run's last W
    /// character and ends right after it ("日本A" splits as "日本" + "A").
    /// </summary>
    private static int LowerWordEnd(ReadOnlySpan<byte> text, int start)
    {
        var position = start;
        var lastLower = -1;
        int c, length;
        while (((c = CharClass.Of(text, position, out length)) & CharClass.Upper) != 0)
        {
            if ((c & CharClass.Lower) != 0)
            {
                lastLower = position + length;
            }

            position += length;
        }

        int end;
        if ((c & CharClass.Lower) != 0)
        {
            end = CharClass.SkipWhile(text, position + length, CharClass.Lower);
        }
        else if (lastLower > 0)
        {
            end = lastLower;
        }
        else
        {
            return -1;
        }

        return CharClass.OptionalContractionEnd(text, end);
    }

    /// <summary><c>U+W*C?</c> from <paramref name="start"/>, or -1.</summary>
    private static int UpperWordEnd(ReadOnlySpan<byte> text, int start)
    {
        if ((CharClass.Of(text, start, out var length) & CharClass.Upper) == 0)
        {
            return -1;
        }

        var end = CharClass.SkipWhile(text, start + length, CharClass.Upper);
        end = CharClass.SkipWhile(text, end, CharClass.Lower);
        return CharClass.OptionalContractionEnd(text, end);
    }
}

/// <summary>
/// The character classes of tiktoken's patterns, as bit flags per code point, with the semantics of
/// its Rust regex: <c>\s</c> is Unicode White_Space (it includes U+0085 and excludes U+FEFF), and
/// <c>(?i)</c> folds U+017F (ſ) to s. Invalid UTF-8 bytes count as "other" characters.
/// </summary>
internal static class CharClass
{
    public const int Letter = 1;
    /// <summary>In o200k's first class: Lu Lt Lm Lo and marks.</summary>
    public const int Upper = 2;
    /// <summary>In o200k's second class: Ll Lm Lo and marks.</summary>
    public const int Lower = 4;
    public const int Number = 8;
    public const int Space = 16;
    public const int NewLine = 32;
    /// <summary>Past the end of the text: in no class.</summary>
    public const int End = 64;

    private static readonly byte[] s_ascii = BuildAscii();
    private static readonly byte[] s_categories = BuildCategories();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(ReadOnlySpan<byte> text, int index, out int length)
    {
        if ((uint)index >= (uint)text.Length)
        {
            length = 0;
            return End;
        }

        var b = text[index];
        if (b < 0x80)
        {
            length = 1;
            return s_ascii[b];
        }

        return OfNonAscii(text[index..], out length);
    }

    private static int OfNonAscii(ReadOnlySpan<byte> text, out int length)
    {
        if (Rune.DecodeFromUtf8(text, out var rune, out length) != OperationStatus.Done)
        {
            return 0;
        }

        return rune.Value == 0x85 ? Space : s_categories[(int)Rune.GetUnicodeCategory(rune)];
    }

    /// <summary>Not a letter, number or white space (and not the end).</summary>
    public static bool IsOther(int c) => (c & (Letter | Number | Space | End)) == 0;

    public static int SkipWhile(ReadOnlySpan<byte> text, int index, int mask)
    {
        int length;
        while ((Of(text, index, out length) & mask) != 0)
        {
            index += length;
        }

        return index;
    }

    public static int SkipOthers(ReadOnlySpan<byte> text, int index)
    {
        int length;
        while (IsOther(Of(text, index, out length)))
        {
            index += length;
        }

        return index;
    }

    /// <summary><c>\p{N}{1,3}</c> from a number.</summary>
    public static int SkipNumbers(ReadOnlySpan<byte> text, int index)
    {
        for (var i = 0; i < 3 && (Of(text, index, out var length) & Number) != 0; i++)
        {
            index += length;
        }

        return index;
    }

    /// <summary><c>[\r\n]*</c>, or <c>[\r\n/]*</c>.</summary>
    public static int SkipNewlines(ReadOnlySpan<byte> text, int index, bool slash)
    {
        while (index < text.Length && (text[index] is (byte)'\r' or (byte)'\n' || (slash && text[index] == (byte)'/')))
        {
            index++;
        }

        return index;
    }

    /// <summary>
    /// <c>\s*[\r\n]+|\s+(?!\S)|\s+</c> from white space: up to the run's last line break; else the
    /// whole run at the end of the text; else all but its last character, leaving that one to lead
    /// the next word; else the single character.
    /// </summary>
    public static int WhitespaceEnd(ReadOnlySpan<byte> text, int start)
    {
        var position = start;
        var last = start;
        var afterNewLine = -1;
        var count = 0;
        int c, length;
        while (((c = Of(text, position, out length)) & Space) != 0)
        {
            if ((c & NewLine) != 0)
            {
                afterNewLine = position + length;
            }

            last = position;
            position += length;
            count++;
        }

        if (afterNewLine > 0)
        {
            return afterNewLine;
        }

        if (position == text.Length || count < 2)
        {
            return position;
        }

        return last;
    }

    /// <summary>The end of <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)</c> at an apostrophe, or -1.</summary>
    public static int ContractionEnd(ReadOnlySpan<byte> text, int apostrophe)
    {
        var i = apostrophe + 1;
        if (i >= text.Length)
        {
            return -1;
        }

        switch (text[i] | 0x20)
        {
            case 's' or 't' or 'm' or 'd':
                return i + 1;
            case 'r' or 'v':
                return i + 1 < text.Length && (text[i + 1] | 0x20) == 'e' ? i + 2 : -1;
            case 'l':
                return i + 1 < text.Length && (text[i + 1] | 0x20) == 'l' ? i + 2 : -1;
            default:
                // U+017F LATIN SMALL LETTER LONG S case-folds to s.
                return text[i] == 0xC5 && i + 1 < text.Length && text[i + 1] == 0xBF ? i + 2 : -1;
        }
    }

    public static int OptionalContractionEnd(ReadOnlySpan<byte> text, int index)
    {
        if (index < text.Length && text[index] == (byte)'\'')
        {
            var end = ContractionEnd(text, index);
            if (end > 0)
            {
                return end;
            }
        }

        return index;
    }

    private static byte[] BuildCategories()
    {
        var flags = new byte[(int)UnicodeCategory.OtherNotAssigned + 1];
        flags[(int)UnicodeCategory.UppercaseLetter] = Letter | Upper;
        flags[(int)UnicodeCategory.TitlecaseLetter] = Letter | Upper;
        flags[(int)UnicodeCategory.LowercaseLetter] = Letter | Lower;
        flags[(int)UnicodeCategory.ModifierLetter] = Letter | Upper | Lower;
        flags[(int)UnicodeCategory.OtherLetter] = Letter | Upper | Lower;
        flags[(int)UnicodeCategory.NonSpacingMark] = Upper | Lower;
        flags[(int)UnicodeCategory.SpacingCombiningMark] = Upper | Lower;
        flags[(int)UnicodeCategory.EnclosingMark] = Upper | Lower;
        flags[(int)UnicodeCategory.DecimalDigitNumber] = Number;
        flags[(int)UnicodeCategory.LetterNumber] = Number;
        flags[(int)UnicodeCategory.OtherNumber] = Number;
        flags[(int)UnicodeCategory.SpaceSeparator] = Space;
        flags[(int)UnicodeCategory.LineSeparator] = Space;
        flags[(int)UnicodeCategory.ParagraphSeparator] = Space;
        return flags;
    }

    private static byte[] BuildAscii()
    {
        var flags = new byte[128];
        for (var b = 0; b < 128; b++)
        {
            flags[b] = b switch
            {
                '\r' or '\n' => Space | NewLine,
                '\t' or '\v' or '\f' or ' ' => Space,
                >= 'A' and <= 'Z' => Letter | Upper,
                >= 'a' and <= 'z' => Letter | Lower,
                >= '0' and <= '9' => Number,
                _ => 0,
            };
        }

        return flags;
    }
}
