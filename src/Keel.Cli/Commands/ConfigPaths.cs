using Keel.Core.Configuration;

namespace Keel.Cli.Commands;

/// <summary>Finds and loads keel.yaml the same way for every command.</summary>
internal static class ConfigPaths
{
    public const string DefaultFile = "keel.yaml";

    /// <summary>--config, else KEEL_CONFIG, else ./keel.yaml if it exists, else none (built-in defaults).</summary>
    public static string? Resolve(string? flag)
    {
        var path = flag ?? Environment.GetEnvironmentVariable("KEEL_CONFIG");
        if (!string.IsNullOrEmpty(path))
        {
            return path;
        }

        return File.Exists(DefaultFile) ? DefaultFile : null;
    }

    /// <summary>Loads the config or prints every error (one line each) and returns null.</summary>
    public static KeelConfig? LoadOrReport(string? path, TextWriter errors)
    {
        if (path is null)
        {
            return KeelConfig.Default;
        }

        if (!File.Exists(path))
        {
            errors.WriteLine($"error: config file '{path}' does not exist.");
            return null;
        }

        var result = ConfigLoader.LoadFile(path);
        if (result.Success)
        {
            return result.Config;
        }

        foreach (var error in result.Errors)
        {
            errors.WriteLine($"error: {error}");
        }

        errors.WriteLine($"{result.Errors.Count} error(s) in {path}.");
        return null;
    }
}
