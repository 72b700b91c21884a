using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Keel.Core.Recording;

namespace Keel.Core.Storage;

/// <summary>Which traces a status filter keeps.</summary>
public enum TraceStatusFilter
{
    /// <summary>Any status.</summary>
    Any,

    /// <summary>Below 400.</summary>
    Ok,

    /// <summary>400 and above (client went away = 499 included).</summary>
    Error,
}

/// <summary>What <c>GET /api/traces</c> filters on; null fields do not filter.</summary>
public sealed record TraceFilter
{
    /// <summary>Only this project's traces; null = every project (admins).</summary>
    public string? ProjectId { get; init; }

    /// <summary>Started at or after.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Started before.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>The model name the client asked for.</summary>
    public string? Model { get; init; }

    public string? Provider { get; init; }

    /// <summary>One HTTP status.</summary>
    public int? StatusCode { get; init; }

    public TraceStatusFilter Status { get; init; }

    public string? UserId { get; init; }

    public string? SessionId { get; init; }

    /// <summary>Traces carrying every one of these tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    public double? MinCostUsd { get; init; }

    public double? MaxCostUsd { get; init; }

    public double? MinLatencyMs { get; init; }

    public double? MaxLatencyMs { get; init; }

    /// <summary>Words that must all appear in the request's messages or the answer (whole words, case- and accent-insensitive).</summary>
    public string? Text { get; init; }
}

/// <summary>
/// Where a page of traces ends: the last trace's start time and its store sequence number, so that
/// traces started in the same millisecond are neither skipped nor repeated. Opaque to clients.
/// </summary>
public readonly record struct TraceCursor(long StartedAtMs, long Sequence)
{
    private const string Prefix = "v1.";

    /// <summary>The cursor as the URL-safe token clients pass back.</summary>
    public string Encode() =>
        Base64Url.EncodeToString(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Prefix}{StartedAtMs}.{Sequence}")));

    /// <summary>Reads a token made by <see cref="Encode"/>.</summary>
    public static bool TryParse(string? token, out TraceCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(token) || token.Length > 64 || !Base64Url.IsValid(token))
        {
            return false;
        }

        var text = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(token));
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = text[Prefix.Length..].Split('.');
        if (parts.Length != 2
            || !long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var startedAt)
            || !long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var sequence))
        {
            return false;
        }

        cursor = new TraceCursor(startedAt, sequence);
        return true;
    }
}

/// <summary>A page of traces, newest first, and where the next page starts (null on the last page).</summary>
public sealed record TraceList(IReadOnlyList<TraceRecord> Data, TraceCursor? Next);

/// <summary>Filtered trace lists (the SQLite store; PostgreSQL later).</summary>
public interface ITraceQueryStore
{
    /// <summary>Traces matching <paramref name="filter"/>, newest first, after <paramref name="after"/>; no bodies and no spans.</summary>
    Task<TraceList> QueryAsync(TraceFilter filter, int limit, TraceCursor? after, CancellationToken cancellationToken);
}
