namespace Keel.Core.Prompts;

/// <summary>Where a rollback takes a label, from the label's history.</summary>
public static class LabelHistory
{
    /// <summary>
    /// The version the label pointed at before its latest move that has not been rolled back, or
    /// null when there is none. Every move away from a version remembers it; every rollback forgets
    /// the newest memory, so repeated rollbacks walk back one step at a time, like undo.
    /// </summary>
    public static int? RollbackTarget(IEnumerable<LabelMove> movesOldestFirst)
    {
        var earlier = new Stack<int>();
        foreach (var move in movesOldestFirst)
        {
            if (move.Action == LabelActions.Rollback)
            {
                earlier.TryPop(out _);
            }
            else if (move.FromVersion is { } from && move.FromVersion != move.ToVersion)
            {
                earlier.Push(from);
            }
        }

        return earlier.TryPeek(out var target) ? target : null;
    }
}
