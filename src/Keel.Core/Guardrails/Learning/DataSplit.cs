using System.Security.Cryptography;
using System.Text;

namespace Keel.Core.Guardrails.Learning;

/// <summary>
/// The deterministic train/held-out split of the labelled guardrail data: a row is held out when the first four
/// bytes of the SHA-256 of its UTF-8 text, as a little-endian integer, are 0 mod 5 (about 20 %). The trainer only
/// ever sees the other rows; the evaluation reports on held-out rows only.
/// </summary>
internal static class DataSplit
{
    public static bool IsHeldOut(string text)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return BitConverter.ToUInt32(hash) % 5 == 0;
    }

    /// <summary>
    /// Finds <c>shared/datasets/guardrails</c> by walking up from <paramref name="from"/>: the repository sits next
    /// to <c>shared/</c> (in the workspace and in CI), so some ancestor has it as a child.
    /// </summary>
    public static string? FindDatasets(string from)
    {
        for (var dir = new DirectoryInfo(from); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "datasets", "guardrails");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
