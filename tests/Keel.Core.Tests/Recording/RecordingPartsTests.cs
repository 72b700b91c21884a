using System.Text;
using System.Text.Json;
using Keel.Core.Providers.OpenAi;
using Keel.Core.Recording;
using Keel.Tests.Common;

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

        var span = Assert.Single(SpanJson.Parse(SpanJson.Write(trace.Spans)));

        Assert.Equal(["a", "b"], span.Attributes.GetProperty("list").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void SpanJson_RoundTrips_ToTheMicrosecond_AndRedactsStatusMessages()
    {
        var time = new TestTimeProvider(DateTimeOffset.Parse("2026-11-23T08:15:05.7549704Z", System.Globalization.CultureInfo.InvariantCulture));
        var trace = new Keel.Core.Pipeline.TraceBuilder(time);
        var root = trace.StartSpan("gateway", null).Set("gen_ai.usage.input_tokens", 24).Set("keel.cost_estimated", false);
        var child = trace.StartSpan("call", root.SpanId).Set("gen_ai.request.temperature", 0.25);
        child.SetError("upstream said sk-secret-123");
        child.End();
        root.End();

        var spans = SpanJson.Parse(SpanJson.Write(trace.Spans, message => message.Replace("sk-secret-123", "[REDACTED]", StringComparison.Ordinal)));

        Assert.Equal(2, spans.Count);
        Assert.Equal((root.SpanId, (string?)null, "gateway", false), (spans[0].SpanId, spans[0].ParentSpanId, spans[0].Name, spans[0].IsError));
        Assert.Equal((child.SpanId, (string?)root.SpanId, "call", true), (spans[1].SpanId, spans[1].ParentSpanId, spans[1].Name, spans[1].IsError));
        Assert.Equal(DateTimeOffset.Parse("2026-11-23T08:15:05.754970Z", System.Globalization.CultureInfo.InvariantCulture), spans[0].StartedAt);
        Assert.Equal("upstream said [REDACTED]", spans[1].StatusMessage);
        Assert.Equal(24, spans[0].Attributes.GetProperty("gen_ai.usage.input_tokens").GetInt32());
        Assert.False(spans[0].Attributes.GetProperty("keel.cost_estimated").GetBoolean());
        Assert.Equal(0.25, spans[1].Attributes.GetProperty("gen_ai.request.temperature").GetDouble());
    }

    [Fact]
    public void SpanJson_ReadsTheLongFormOfEarlierRows()
    {
        var stored = """
            [{"span_id":"46bed3062e71a296","name":"gateway","started_at":"2026-11-23T08:15:05.7549704+00:00","duration_ms":134.3443,"is_error":false,"attributes":{"keel.stream":false}},
             {"span_id":"a942515c216fe1b2","parent_span_id":"46bed3062e71a296","name":"call","started_at":"2026-11-23T08:15:05.7553947+00:00","duration_ms":1.5,"is_error":true,"status_message":"boom","attributes":{}}]
            """u8.ToArray();

        var spans = SpanJson.Parse(stored);

        Assert.Equal(134.3443, spans[0].DurationMs);
        Assert.Equal("46bed3062e71a296", spans[1].ParentSpanId);
        Assert.Equal(("boom", true), (spans[1].StatusMessage, spans[1].IsError));
        Assert.False(spans[0].Attributes.GetProperty("keel.stream").GetBoolean());
    }
}
