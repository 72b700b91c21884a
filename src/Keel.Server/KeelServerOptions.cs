namespace Keel.Server;

/// <summary>How to run the server: where to listen, which config, where the data lives.</summary>
public sealed record KeelServerOptions
{
    public const int DefaultPort = 4000;

    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>keel.yaml; null = the built-in local provider alone.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>Directory of the SQLite database.</summary>
    public string DataDirectory { get; init; } = ".keel";

    /// <summary>Reload the config file when it changes.</summary>
    public bool WatchConfig { get; init; } = true;
}
