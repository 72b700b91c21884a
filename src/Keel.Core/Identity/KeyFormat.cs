using System.Security.Cryptography;
using System.Text;

namespace Keel.Core.Identity;

/// <summary>
/// Virtual keys: <c>sk-keel-</c>, an 8-character public id, and 32 random characters (base62, about 190 bits).
/// The first 16 characters are the prefix shown in lists; Keel stores only the SHA-256 of the whole key.
/// </summary>
public static class KeyFormat
{
    public const string Marker = "sk-keel-";
    private const int IdLength = 8;
    private const int SecretLength = 32;
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>The length of a well-formed key.</summary>
    public static int Length => Marker.Length + IdLength + SecretLength;

    /// <summary>A new key and its public prefix.</summary>
    public static (string Key, string Prefix) Generate()
    {
        var key = Marker + Random(IdLength) + Random(SecretLength);
        return (key, PrefixOf(key)!);
    }

    /// <summary>The public prefix of a presented key, or null when it is not shaped like a Keel key.</summary>
    public static string? PrefixOf(string key)
    {
        if (key.Length != Length || !key.StartsWith(Marker, StringComparison.Ordinal))
        {
            return null;
        }
        foreach (var c in key.AsSpan(Marker.Length))
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return null;
            }
        }
        return key[..(Marker.Length + IdLength)];
    }

    /// <summary>SHA-256 of the key's UTF-8 bytes.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Random(int length)
    {
        Span<char> chars = stackalloc char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        }
        return new string(chars);
    }
}
