using Keel.Core.Storage;

namespace Keel.Core.Tests.Storage;

public sealed class TraceQueriesTests
{
    [Fact]
    public void TraceCursor_RoundTrips_AndRejectsForgeries()
    {
        var cursor = new TraceCursor(1_717_243_200_123, 98_765);

        Assert.True(TraceCursor.TryParse(cursor.Encode(), out var parsed));
        Assert.Equal(cursor, parsed);
        Assert.DoesNotContain('=', cursor.Encode());
        Assert.False(TraceCursor.TryParse("abc", out _));
        Assert.False(TraceCursor.TryParse("1717243200123", out _));
        Assert.False(TraceCursor.TryParse(Convert.ToBase64String("v1.x.1"u8), out _));
    }

    [Fact]
    public void Percentiles_NearestRank_OfKnownValues()
    {
        var values = Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToList();

        var p = Percentiles.Of(values)!;

        Assert.Equal((50.0, 95.0, 99.0), (p.P50, p.P95, p.P99));
        Assert.Null(Percentiles.Of([]));
        Assert.Equal(7.0, Percentiles.Of([7.0])!.P99);
    }
}
