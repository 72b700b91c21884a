using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using Keel.Core.Configuration;

namespace Keel.Core.Metering;

/// <summary>One model's list price in the catalogue.</summary>
public sealed record CatalogueEntry(string Provider, string Model, ModelPrice Price, IReadOnlyList<string> Aliases);

/// <summary>
/// List prices of common models (USD per 1M tokens), shipped in Keel.Core as Metering/Data/prices.json.
/// A deployment's price is its keel.yaml <c>price</c> when set, otherwise the catalogue's: first
/// among the models of the host its base URL names (so the same open model on Groq and on Together
/// gets each host's price), then by a model name that only one host uses. Dated snapshots
/// (<c>gpt-4o-2024-08-06</c>, <c>claude-3-5-sonnet-20241022</c>, <c>mistral-large-2411</c>),
/// <c>-latest</c> and a <c>provider/</c> prefix fall back to the base name; a name with its own entry
/// (<c>gpt-4o-2024-05-13</c>) keeps its own price.
/// </summary>
public sealed class PriceCatalog
{
    private const string ResourceName = "Keel.Core.Metering.Data.prices.json";
    private static readonly Lazy<PriceCatalog> Embedded = new(LoadEmbedded);

    /// <summary>Lower-cased model name (and alias) to its entry, per provider.</summary>
    private readonly FrozenDictionary<string, FrozenDictionary<string, CatalogueEntry>> _byProvider;

    /// <summary>Lower-cased host name (api.openai.com) to provider name.</summary>
    private readonly FrozenDictionary<string, string> _providerByHost;

    /// <summary>Lower-cased model name to its entry, for names exactly one provider uses.</summary>
    private readonly FrozenDictionary<string, CatalogueEntry> _unique;

    private PriceCatalog(DateOnly asOf, string source, IReadOnlyList<CatalogueEntry> entries, IReadOnlyDictionary<string, string> providerByHost)
    {
        AsOf = asOf;
        Source = source;
        Entries = entries;
        _providerByHost = providerByHost.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _byProvider = entries
            .GroupBy(e => e.Provider, StringComparer.Ordinal)
            .ToFrozenDictionary(
                g => g.Key,
                g => g.SelectMany(e => e.Aliases.Prepend(e.Model).Select(name => (Name: name.ToLowerInvariant(), Entry: e)))
                    .ToFrozenDictionary(x => x.Name, x => x.Entry, StringComparer.Ordinal),
                StringComparer.Ordinal);
        _unique = _byProvider.Values
            .SelectMany(models => models)
            .GroupBy(kv => kv.Key, StringComparer.Ordinal)
            .Where(g => g.Select(kv => kv.Value.Provider).Distinct(StringComparer.Ordinal).Count() == 1)
            .ToFrozenDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
    }

    /// <summary>The catalogue shipped with Keel.</summary>
    public static PriceCatalog Default => Embedded.Value;

    /// <summary>The date the prices were taken.</summary>
    public DateOnly AsOf { get; }

    /// <summary>Where the prices come from (the file's <c>source</c> note).</summary>
    public string Source { get; }

    /// <summary>Every model in the catalogue.</summary>
    public IReadOnlyList<CatalogueEntry> Entries { get; }

    /// <summary>
    /// The price Keel charges a deployment's calls at: the configured one, free for the local
    /// provider, otherwise the catalogue's, or null when the model is unknown (its cost is then unknown).
    /// </summary>
    public ModelPrice? Resolve(ProviderConfig provider, DeploymentConfig deployment) =>
        deployment.Price ?? (provider.Kind == ProviderKinds.Local ? ModelPrice.Free : Find(ProviderFor(provider), deployment.Model));

    /// <summary>The catalogue price of a model, preferring <paramref name="provider"/>'s models (a name under "providers" in prices.json).</summary>
    public ModelPrice? Find(string? provider, string model)
    {
        if (string.IsNullOrWhiteSpace(model) || model.StartsWith("ft:", StringComparison.OrdinalIgnoreCase))
        {
            return null; // fine-tuned models have their own prices
        }

        var models = provider is not null ? _byProvider.GetValueOrDefault(provider) : null;
        var name = model.Trim().ToLowerInvariant();
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (Lookup(models, name) is { } entry)
            {
                return entry.Price;
            }

            var slash = name.LastIndexOf('/');
            if (slash >= 0 && slash < name.Length - 1 && Lookup(models, name[(slash + 1)..]) is { } unprefixed)
            {
                return unprefixed.Price;
            }

            if (StripVersionSuffix(name) is not { } shorter)
            {
                return null;
            }

            name = shorter;
        }

        return null;
    }

    /// <summary>
    /// The catalogue provider of a configured provider: the one whose API host its base URL names;
    /// for Azure OpenAI (whose list prices are OpenAI's) and Anthropic, by kind; otherwise none, and
    /// only model names unique to one provider are priced.
    /// </summary>
    public string? ProviderFor(ProviderConfig provider)
    {
        if (provider.BaseUrl is { } baseUrl && Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) && _providerByHost.TryGetValue(uri.Host, out var byHost))
        {
            return byHost;
        }

        return provider.Kind switch
        {
            ProviderKinds.Azure => "openai",
            ProviderKinds.Anthropic => "anthropic",
            _ => null,
        };
    }

    private CatalogueEntry? Lookup(FrozenDictionary<string, CatalogueEntry>? models, string name) =>
        models is not null && models.TryGetValue(name, out var own) ? own : _unique.GetValueOrDefault(name);

    /// <summary>"-latest", "-2024-08-06", "-20241022", "-2411", "-001", "-preview-05-20", "@20240620": the name without it, or null.</summary>
    internal static string? StripVersionSuffix(string name)
    {
        if (name.EndsWith("-latest", StringComparison.Ordinal))
        {
            return name[..^"-latest".Length];
        }

        var at = name.LastIndexOf('@');
        if (at > 0 && IsDigits(name.AsSpan(at + 1)))
        {
            return name[..at];
        }

        // -YYYY-MM-DD and -preview-MM-DD / -exp-MM-DD
        if (name.Length > 11 && name[^11] == '-' && IsDigits(name.AsSpan(name.Length - 10, 4)) && name[^6] == '-' && IsDigits(name.AsSpan(name.Length - 5, 2)) && name[^3] == '-' && IsDigits(name.AsSpan(name.Length - 2)))
        {
            return name[..^11];
        }

        foreach (var tag in (ReadOnlySpan<string>)["-preview-", "-exp-"])
        {
            var index = name.LastIndexOf(tag, StringComparison.Ordinal);
            if (index > 0 && name.Length - index - tag.Length == 5 && IsDigits(name.AsSpan(name.Length - 5, 2)) && name[^3] == '-' && IsDigits(name.AsSpan(name.Length - 2)))
            {
                return name[..index];
            }
        }

        // -YYYYMMDD, -MMYY / -YYMM (4 digits), -NNN (3-digit revision)
        var dash = name.LastIndexOf('-');
        if (dash > 0 && name.Length - dash - 1 is 8 or 4 or 3 && IsDigits(name.AsSpan(dash + 1)))
        {
            return name[..dash];
        }

        return null;
    }

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads a catalogue in the prices.json format (see Metering/Data/prices.json).</summary>
    /// <exception cref="FormatException">The file breaks the format; the message says where.</exception>
    public static PriceCatalog Parse(ReadOnlySpan<byte> json)
    {
        using var document = JsonDocument.Parse(json.ToArray());
        var root = document.RootElement;
        var asOfText = RequiredString(root, "as_of", "");
        if (!DateOnly.TryParseExact(asOfText, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var asOf))
        {
            throw new FormatException($"as_of '{asOfText}' is not a yyyy-MM-dd date.");
        }

        var source = RequiredString(root, "source", "");
        var entries = new List<CatalogueEntry>();
        var hosts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!root.TryGetProperty("providers", out var providers) || providers.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("'providers' must be an array.");
        }

        foreach (var provider in providers.EnumerateArray())
        {
            var name = RequiredString(provider, "name", "providers[]");
            foreach (var host in provider.TryGetProperty("hosts", out var hostList) ? hostList.EnumerateArray() : default)
            {
                if (!hosts.TryAdd(host.GetString() ?? "", name))
                {
                    throw new FormatException($"providers.{name}: host '{host.GetString()}' is listed twice.");
                }
            }

            foreach (var model in provider.GetProperty("models").EnumerateArray())
            {
                var id = RequiredString(model, "model", $"providers.{name}.models[]");
                var path = $"providers.{name}.models.{id}";
                var input = RequiredPrice(model, "input", path);
                var output = RequiredPrice(model, "output", path);
                double? cached = model.TryGetProperty("cached_input", out _) ? RequiredPrice(model, "cached_input", path) : null;
                if (cached > input)
                {
                    throw new FormatException($"{path}: cached_input {cached} is more than input {input}.");
                }

                var aliases = model.TryGetProperty("aliases", out var aliasList) ? aliasList.EnumerateArray().Select(a => a.GetString() ?? "").ToList() : [];
                entries.Add(new CatalogueEntry(name, id, new ModelPrice(input, output, cached, PriceSource.Catalogue), aliases));
            }
        }

        return new PriceCatalog(asOf, source, entries, hosts);
    }

    private static string RequiredString(JsonElement element, string property, string path)
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            throw new FormatException($"{path}.{property} must be a non-empty string.".TrimStart('.'));
        }

        return value.GetString()!;
    }

    private static double RequiredPrice(JsonElement element, string property, string path)
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.Number || value.GetDouble() is < 0 or > 10_000)
        {
            throw new FormatException($"{path}.{property} must be a number of USD per 1M tokens from 0 to 10000.");
        }

        return value.GetDouble();
    }

    private static PriceCatalog LoadEmbedded()
    {
        using var stream = typeof(PriceCatalog).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The price catalogue {ResourceName} is missing from Keel.Core.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }
}
