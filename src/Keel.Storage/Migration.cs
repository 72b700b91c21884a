namespace Keel.Storage;

/// <summary>One schema change. Versions only grow; a shipped migration is never edited.</summary>
public sealed record Migration(int Version, string Name, string Sql);
