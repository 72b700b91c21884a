namespace Keel.Core.Configuration;

/// <summary>One problem in a config file, located by file, line, column and field path.</summary>
public sealed record ConfigError(string File, int Line, int Column, string Field, string Message)
{
    public override string ToString() =>
        Line > 0
            ? $"{File}:{Line}:{Column}: {Field}: {Message}"
            : $"{File}: {(Field.Length > 0 ? Field + ": " : "")}{Message}";
}

/// <summary>The outcome of loading a config: the config, or every error found.</summary>
public sealed record ConfigLoadResult(KeelConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Success => Config is not null && Errors.Count == 0;
}
