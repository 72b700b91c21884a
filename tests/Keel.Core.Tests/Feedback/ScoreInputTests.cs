using System.Text;
using Keel.Core.Feedback;

namespace Keel.Core.Tests.Feedback;

public sealed class ScoreInputTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static (ScoreRecord? Score, ScoreInputError? Error) Parse(string json) => ScoreInput.Parse(Encoding.UTF8.GetBytes(json), "score_1", Now);

    [Theory]
    [InlineData("""{"trace_id":"t","name":"helpful","value":true}""", "boolean", 1.0, "true")]
    [InlineData("""{"trace_id":"t","name":"thumbs","value":false,"source":"end_user"}""", "boolean", 0.0, "false")]
    [InlineData("""{"trace_id":"t","name":"thumbs","value":1,"data_type":"boolean"}""", "boolean", 1.0, "true")]
    [InlineData("""{"trace_id":"t","name":"accuracy","value":0.87}""", "numeric", 0.87, null)]
    [InlineData("""{"trace_id":"t","name":"verdict","value":" correct "}""", "categorical", null, "correct")]
    public void Parse_ValidScores_InferOrCheckTheDataType(string json, string type, double? value, string? text)
    {
        var (score, error) = Parse(json);

        Assert.Null(error);
        Assert.Equal(type, score!.DataType);
        Assert.Equal(value, score.Value);
        Assert.Equal(text, score.StringValue);
        Assert.Equal("score_1", score.ScoreId);
        Assert.Equal(Now, score.CreatedAt);
    }

    [Fact]
    public void Parse_DefaultsAndComment_AreKept()
    {
        var (score, _) = Parse("""{"trace_id":"t","name":"n","value":2,"comment":"why","source":"human_review"}""");
        var (defaulted, _) = Parse("""{"trace_id":"t","name":"n","value":2}""");

        Assert.Equal(("why", "human_review"), (score!.Comment, score.Source));
        Assert.Equal(ScoreSources.Api, defaulted!.Source);
    }

    [Theory]
    [InlineData("not json", "body")]
    [InlineData("[1]", "body")]
    [InlineData("""{"name":"n","value":1}""", "trace_id")]
    [InlineData("""{"trace_id":5,"name":"n","value":1}""", "trace_id")]
    [InlineData("""{"trace_id":"t","value":1}""", "name")]
    [InlineData("""{"trace_id":"t","name":"  ","value":1}""", "name")]
    [InlineData("""{"trace_id":"t","name":"n"}""", "value")]
    [InlineData("""{"trace_id":"t","name":"n","value":[1]}""", "value")]
    [InlineData("""{"trace_id":"t","name":"n","value":"x","data_type":"numeric"}""", "value")]
    [InlineData("""{"trace_id":"t","name":"n","value":2,"data_type":"boolean"}""", "value")]
    [InlineData("""{"trace_id":"t","name":"n","value":true,"data_type":"categorical"}""", "value")]
    [InlineData("""{"trace_id":"t","name":"n","value":1,"data_type":"stars"}""", "data_type")]
    [InlineData("""{"trace_id":"t","name":"n","value":1,"source":"robot"}""", "source")]
    [InlineData("""{"trace_id":"t","name":"n","value":1,"comment":3}""", "comment")]
    [InlineData("""{"trace_id":"t","name":"n","value":1,"extra":3}""", "extra")]
    public void Parse_BadInput_NamesTheField(string json, string param)
    {
        var (score, error) = Parse(json);

        Assert.Null(score);
        Assert.Equal(param, error!.Param);
    }
}
