namespace Keel.Core.Providers.OpenAi;

/// <summary>Adds <c>stream_options.include_usage: true</c> to a chat request body without re-serialising it.</summary>
internal static class StreamUsageRequest
{
    private static ReadOnlySpan<byte> Member => "\"stream_options\":{\"include_usage\":true},"u8;

    /// <summary>
    /// The body with the member inserted first in its top-level object. Only for a body that has no
    /// <c>stream_options</c> (a second one would make the member ambiguous), which the ingress stage
    /// has already parsed as an object with at least <c>model</c> and <c>messages</c>.
    /// </summary>
    public static byte[] AddIncludeUsage(ReadOnlyMemory<byte> body)
    {
        var span = body.Span;
        var open = span.IndexOf((byte)'{');
        if (open < 0)
        {
            throw new ArgumentException("The body is not a JSON object.", nameof(body));
        }

        var result = new byte[span.Length + Member.Length];
        span[..(open + 1)].CopyTo(result);
        Member.CopyTo(result.AsSpan(open + 1));
        span[(open + 1)..].CopyTo(result.AsSpan(open + 1 + Member.Length));
        return result;
    }
}
