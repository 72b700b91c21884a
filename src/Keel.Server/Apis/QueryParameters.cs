using System.Globalization;
using Keel.Core.Pipeline;
using Microsoft.AspNetCore.Http;

namespace Keel.Server.Apis;

/// <summary>
/// Reads a control-plane query string strictly: an unknown parameter or a bad value is a 400 that
/// names the parameter, so a typo (min_latency for min_latency_ms) is not silently ignored.
/// </summary>
internal sealed class QueryParameters(IQueryCollection query)
{
    /// <summary>The first problem found, as the 400 to answer.</summary>
    public GatewayError? Error { get; private set; }

    /// <summary>Fails on any parameter not in <paramref name="allowed"/>.</summary>
    public void Allow(params string[] allowed)
    {
        foreach (var key in query.Keys)
        {
            if (!allowed.Contains(key, StringComparer.Ordinal))
            {
                Fail(key, $"Unknown query parameter '{key}'; expected any of: {string.Join(", ", allowed)}.");
                return;
            }
        }
    }

    public string? String(string name) =>
        query.TryGetValue(name, out var values) && values.Count > 0 && !string.IsNullOrEmpty(values[^1]) ? values[^1] : null;

    public IReadOnlyList<string> Strings(string name) =>
        query.TryGetValue(name, out var values) ? [.. values.OfType<string>().Where(v => v.Length > 0)] : [];

    public double? Number(string name, double min = double.MinValue)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < min)
        {
            Fail(name, $"'{name}' must be a number{(min > double.MinValue ? $" of at least {min.ToString(CultureInfo.InvariantCulture)}" : "")}, not '{text}'.");
            return null;
        }

        return value;
    }

    public int? Integer(string name, int min, int max)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            Fail(name, $"'{name}' must be a whole number from {min} to {max}, not '{text}'.");
            return null;
        }

        return value;
    }

    /// <summary>An ISO 8601 time (UTC when it has no offset) or Unix milliseconds.</summary>
    public DateTimeOffset? Time(string name)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        Fail(name, $"'{name}' must be an ISO 8601 time (2025-06-01T12:00:00Z) or Unix milliseconds, not '{text}'.");
        return null;
    }

    public void Fail(string name, string message) => Error ??= GatewayError.InvalidRequest(message, name, "invalid_value");
}

/// <summary>An error value as an endpoint result.</summary>
internal static class ErrorResultExtensions
{
    public static IResult ToResult(this GatewayError error) => new GatewayErrorResult(error);
}
