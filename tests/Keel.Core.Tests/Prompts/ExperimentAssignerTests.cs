using System.Globalization;
using Keel.Core.Prompts;

namespace Keel.Core.Tests.Prompts;

public sealed class ExperimentAssignerTests
{
    private static Experiment NewExperiment(string id, params double[] weights) => new()
    {
        Id = id,
        Name = "test",
        Prompt = "p",
        Label = "production",
        Arms = [.. weights.Select((w, i) => new ExperimentArm { Name = ((char)('a' + i)).ToString(), Version = i + 1, Weight = w })],
        Status = ExperimentStatus.Running,
        CreatedAt = DateTimeOffset.UnixEpoch,
    };

    private static IEnumerable<string> Users(int count) => Enumerable.Range(0, count).Select(i => "user-" + i.ToString(CultureInfo.InvariantCulture));

    [Theory]
    [InlineData(new[] { 50.0, 50.0 })]
    [InlineData(new[] { 90.0, 10.0 })]
    [InlineData(new[] { 0.2, 0.3, 0.5 })]
    [InlineData(new[] { 1.0, 1.0, 1.0, 1.0 })]
    public void Assign_TenThousandUsers_SplitWithinTwoPercentOfTheWeights(double[] weights)
    {
        var assigner = new ExperimentAssigner(NewExperiment("exp_0123456789abcdef", weights));

        var counts = Users(10_000).GroupBy(u => assigner.Assign(u).Name).ToDictionary(g => g.Key, g => g.Count());

        var total = weights.Sum();
        for (var i = 0; i < weights.Length; i++)
        {
            var share = counts.GetValueOrDefault(((char)('a' + i)).ToString()) / 10_000.0;
            Assert.InRange(share, (weights[i] / total) - 0.02, (weights[i] / total) + 0.02);
        }
    }

    [Fact]
    public void Assign_SameUser_AlwaysSameArmAcrossInstances()
    {
        var first = new ExperimentAssigner(NewExperiment("exp_sticky", 50, 50));
        var second = new ExperimentAssigner(NewExperiment("exp_sticky", 50, 50));

        foreach (var user in Users(2_000))
        {
            var arm = first.Assign(user).Name;
            Assert.Equal(arm, first.Assign(user).Name);
            Assert.Equal(arm, second.Assign(user).Name);
        }
    }

    [Fact]
    public void Assign_TwoExperiments_AssignIndependently()
    {
        var one = new ExperimentAssigner(NewExperiment("exp_one", 50, 50));
        var two = new ExperimentAssigner(NewExperiment("exp_two", 50, 50));

        var agree = Users(10_000).Count(u => one.Assign(u).Name == two.Assign(u).Name);

        // Independent halves agree about half the time; a shared hash would agree always.
        Assert.InRange(agree / 10_000.0, 0.47, 0.53);
    }

    [Fact]
    public void Bucket_IsUniformOverDeciles()
    {
        var deciles = new int[10];
        foreach (var user in Users(10_000))
        {
            deciles[(int)(ExperimentAssigner.Bucket("exp", user) * 10)]++;
        }

        Assert.All(deciles, d => Assert.InRange(d, 800, 1200));
    }

    [Fact]
    public void Validate_BadArms_ReportsEachField()
    {
        var draft = new ExperimentDraft
        {
            Prompt = "p",
            Label = "production",
            Arms = [new ExperimentArm { Name = "a", Version = 1, Weight = 0 }, new ExperimentArm { Name = "a", Version = 9, Weight = 1 }],
        };

        var problems = ExperimentAssigner.Validate(draft, [1, 2]);

        Assert.Contains(problems, p => p.Field == "arms[0].weight");
        Assert.Contains(problems, p => p.Field == "arms[1].name");
        Assert.Contains(problems, p => p.Field == "arms[1].version" && p.Message.Contains("no version 9", StringComparison.Ordinal));
    }
}
