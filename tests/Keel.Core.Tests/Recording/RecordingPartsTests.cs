using System.Text;
using System.Text.Json;
using Keel.Core.Providers.OpenAi;
using Keel.Core.Recording;

namespace Keel.Core.Tests.Recording;

public sealed class RecordingPartsTests
{
    [Fact]
    public void AddIncludeUsage_Body_InsertsTheMemberFirstAndKeepsEveryOtherByte()
    {
        var body = "  {\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"{}\"}],\"x\":1}"u8.ToArray();

        var result = Encoding.UTF8.GetString(StreamUsageRequest.AddIncludeUsage(body));

        Assert.Equal("  {\"stream_options\":{\"include_usage\":true},\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"{}\"}],\"x\":1}", result);
        using var document = JsonDocument.Parse(result);
        Assert.True(document.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public void ReadTags_HeaderAndMetadata_TrimDedupeAndCap()
    {
        using var metadata = JsonDocument.Parse("""{"tags":"b, c ,a"}""");
        var many = string.Join(',', Enumerable.Range(0, 40).Select(i => $"t{i}"));

        Assert.Equal(["a", "b", "c"], TraceDimensions.ReadTags(" a,b,,a ", metadata.RootElement));
        Assert.Equal(TraceDimensions.MaxTags, TraceDimensions.ReadTags(many, null)!.Count);
        Assert.Equal(TraceDimensions.MaxTagLength, TraceDimensions.ReadTags(new string('x', 100), null)![0].Length);
        Assert.Null(TraceDimensions.ReadTags(" , ", null));
    }

    [Fact]
    public void ResponseFacts_CompletionBody_ReadsIdModelAndFinishReasons()
    {
        var body = """{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"x","tool_calls":[{"id":"t"}]},"finish_reason":"stop"},{"index":1,"message":{},"finish_reason":"length"}],"usage":{"prompt_tokens":1}}"""u8;

        var facts = ResponseFacts.Read(body);

        Assert.Equal("chatcmpl-1", facts.Id);
        Assert.Equal("gpt-4o-2024-08-06", facts.Model);
        Assert.Equal(["stop", "length"], facts.FinishReasons!);
        Assert.Equal(default, ResponseFacts.Read("[1,2]"u8));
    }

    [Fact]
    public void StreamAccumulator_UsageOnlyChunk_IsRecognisedAndContentChunksAreNot()
    {
        var accumulator = new StreamAccumulator();

        accumulator.Add("""{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"""u8);
        var afterContent = accumulator.LastWasUsageOnly;
        accumulator.Add("""{"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"""u8);
        var afterContentWithUsage = accumulator.LastWasUsageOnly;
        accumulator.Add("""{"id":"c","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"""u8);

        Assert.False(afterContent);
        Assert.False(afterContentWithUsage);
        Assert.True(accumulator.LastWasUsageOnly);
        Assert.Equal("hi", accumulator.GeneratedText());
        Assert.Equal(["stop"], accumulator.FinishReasons);
    }

    [Fact]
    public void SpanJson_StringListAttribute_IsAJsonArray()
    {
        var trace = new Keel.Core.Pipeline.TraceBuilder(TimeProvider.System);
        trace.StartSpan("s", null).Set("list", new[] { "a", "b" }).End();

        using var document = JsonDocument.Parse(SpanJson.Write(trace.Spans));

        Assert.Equal(["a", "b"], document.RootElement[0].GetProperty("attributes").GetProperty("list").EnumerateArray().Select(e => e.GetString()));
    }
}
