using System.Collections.Frozen;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Keel.Core.Configuration;
using Keel.Core.Pipeline;
using Keel.Core.Providers;
using Keel.Core.Providers.Anthropic;
using Keel.Core.Wire;
using Keel.Tests.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Keel.Core.Tests.Providers;

public sealed class AnthropicTranslationTests
{
    private static readonly TestTimeProvider Time = new();
    private static readonly long Created = Time.GetUtcNow().ToUnixTimeSeconds();

    // ------------------------------------------------------------------ request translation

    [Fact]
    public void ToAnthropic_SystemAndDeveloperMessages_JoinedIntoTopLevelSystem()
    {
        var json = Translate("""
            {"model":"m","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
              {"role":"user","content":"Hi"}]}
            """);

        AssertJson("""
            {"model":"claude-x","max_tokens":4096,"system":"Be brief.\n\nAnswer in French.",
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}
            """, json);
    }

    [Fact]
    public void ToAnthropic_ToolCallsAndToolResults_BecomeToolUseAndMergedToolResults()
    {
        var json = Translate("""
            {"model":"m","messages":[
              {"role":"user","content":"Weather in Paris and Oslo?"},
              {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"18C"},
              {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"9C"}]},
              {"role":"user","content":"Thanks, and tomorrow?"}]}
            """);

        AssertJson("""
            {"model":"claude-x","max_tokens":4096,"messages":[
              {"role":"user","content":[{"type":"text","text":"Weather in Paris and Oslo?"}]},
              {"role":"assistant","content":[
                {"type":"text","text":"Checking."},
                {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
                {"type":"tool_use","id":"call_2","name":"get_weather","input":{"city":"Oslo"}}]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"call_1","content":"18C"},
                {"type":"tool_result","tool_use_id":"call_2","content":"9C"},
                {"type":"text","text":"Thanks, and tomorrow?"}]}]}
            """, json);
    }

    [Fact]
    public void ToAnthropic_AssistantToolCallWithNullContentAndEmptyArguments_OnlyToolUseWithEmptyInput()
    {
        var json = Translate("""
            {"model":"m","messages":[
              {"role":"user","content":"Time?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"now","arguments":""}}]},
              {"role":"tool","tool_call_id":"call_1","content":"12:00"}]}
            """);

        AssertJson("""
            [{"role":"user","content":[{"type":"text","text":"Time?"}]},
             {"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"now","input":{}}]},
             {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"12:00"}]}]
            """, json["messages"]);
    }

    [Fact]
    public void ToAnthropic_ConsecutiveSameRoleMessages_Merged()
    {
        var json = Translate("""
            {"model":"m","messages":[
              {"role":"user","content":"One."},
              {"role":"user","content":"Two."},
              {"role":"assistant","content":"A."},
              {"role":"assistant","content":"B."}]}
            """);

        AssertJson("""
            [{"role":"user","content":[{"type":"text","text":"One."},{"type":"text","text":"Two."}]},
             {"role":"assistant","content":[{"type":"text","text":"A."},{"type":"text","text":"B."}]}]
            """, json["messages"]);
    }

    [Fact]
    public void ToAnthropic_ImageParts_DataUrlBecomesBase64AndHttpUrlBecomesUrlSource()
    {
        var json = Translate("""
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"text","text":"Compare:"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}]}]}
            """);

        AssertJson("""
            [{"role":"user","content":[
              {"type":"text","text":"Compare:"},
              {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
              {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]
            """, json["messages"]);
    }

    [Fact]
    public void ToAnthropic_FileDataPart_BecomesDocumentBlock()
    {
        var json = Translate("""
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}]}]}
            """);

        AssertJson("""
            [{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]
            """, json["messages"]);
    }

    [Theory]
    [InlineData("\"auto\"", null, """{"type":"auto"}""")]
    [InlineData("\"required\"", null, """{"type":"any"}""")]
    [InlineData("\"none\"", null, """{"type":"none"}""")]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", null, """{"type":"tool","name":"get_weather"}""")]
    [InlineData("\"auto\"", false, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData("\"required\"", false, """{"type":"any","disable_parallel_tool_use":true}""")]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", false, """{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}""")]
    [InlineData("\"none\"", false, """{"type":"none"}""")]
    [InlineData(null, false, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData(null, true, null)]
    [InlineData(null, null, null)]
    public void ToAnthropic_ToolChoice_MappedToAnthropicToolChoice(string? toolChoice, bool? parallel, string? expected)
    {
        var request = """{"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"""
            + (toolChoice is null ? "" : ",\"tool_choice\":" + toolChoice)
            + (parallel is null ? "" : ",\"parallel_tool_calls\":" + (parallel.Value ? "true" : "false"))
            + "}";

        var json = Translate(request);

        if (expected is null)
        {
            Assert.False(json.AsObject().ContainsKey("tool_choice"));
        }
        else
        {
            AssertJson(expected, json["tool_choice"]);
        }
    }

    [Fact]
    public void ToAnthropic_Tools_NameDescriptionAndSchemaWithDefaultSchema()
    {
        var json = Translate("""
            {"model":"m","messages":[{"role":"user","content":"Hi"}],"tools":[
              {"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
              {"type":"function","function":{"name":"now"}}]}
            """);

        AssertJson("""
            [{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
             {"name":"now","input_schema":{"type":"object","properties":{}}}]
            """, json["tools"]);
    }

    [Theory]
    [InlineData("\"END\"", """["END"]""")]
    [InlineData("""["a","b"]""", """["a","b"]""")]
    public void ToAnthropic_Stop_BecomesStopSequences(string stop, string expected)
    {
        var json = Translate("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"stop":""" + stop + "}");

        AssertJson(expected, json["stop_sequences"]);
    }

    [Theory]
    [InlineData("", 4096)]
    [InlineData(",\"max_tokens\":100", 100)]
    [InlineData(",\"max_completion_tokens\":200", 200)]
    [InlineData(",\"max_tokens\":100,\"max_completion_tokens\":300", 300)]
    public void ToAnthropic_TokenLimit_MaxCompletionTokensThenMaxTokensThenDefault(string limits, int expected)
    {
        var json = Translate("""{"model":"m","messages":[{"role":"user","content":"Hi"}]""" + limits + "}");

        Assert.Equal(expected, json["max_tokens"]!.GetValue<int>());
    }

    [Fact]
    public void ToAnthropic_SamplingUserAndStream_Translated()
    {
        var json = Translate("""
            {"model":"m","messages":[{"role":"user","content":"Hi"}],"temperature":1.7,"top_p":0.9,"user":"user-42",
             "seed":7,"presence_penalty":0.5,"stream":true,"stream_options":{"include_usage":true}}
            """, stream: true);

        AssertJson("""
            {"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
             "temperature":1,"top_p":0.9,"metadata":{"user_id":"user-42"},"stream":true}
            """, json);
    }

    [Fact]
    public void ToAnthropic_JsonObjectResponseFormat_AddsJsonInstructionToSystem()
    {
        var json = Translate("""
            {"model":"m","messages":[{"role":"system","content":"You extract data."},{"role":"user","content":"Hi"}],
             "response_format":{"type":"json_object"}}
            """);

        Assert.Equal("You extract data.\n\n" + AnthropicTranslator.JsonObjectInstruction, json["system"]!.GetValue<string>());
    }

    [Fact]
    public void ToAnthropic_JsonSchemaResponseFormat_AddsSchemaInstructionToSystem()
    {
        var json = Translate("""
            {"model":"m","messages":[{"role":"user","content":"Hi"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"person","schema":{"type":"object","properties":{"name":{"type":"string"}}}}}}
            """);

        Assert.Equal(
            AnthropicTranslator.JsonSchemaInstruction + "\n" + """{"type":"object","properties":{"name":{"type":"string"}}}""",
            json["system"]!.GetValue<string>());
    }

    [Fact]
    public void ToAnthropic_NGreaterThanOne_Returns400OnN()
    {
        var error = TranslateError("""{"model":"m","messages":[{"role":"user","content":"Hi"}],"n":2}""");

        Assert.Equal(400, error.StatusCode);
        Assert.Equal("n", error.Param);
    }

    [Fact]
    public void ToAnthropic_InvalidToolCallArguments_Returns400NamingTheMessage()
    {
        var error = TranslateError("""
            {"model":"m","messages":[
              {"role":"user","content":"Hi"},
              {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}
            """);

        Assert.Equal(400, error.StatusCode);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal("messages[1].tool_calls[0].function.arguments", error.Param);
        Assert.Contains("message 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToAnthropic_NonObjectToolCallArguments_Returns400()
    {
        var error = TranslateError("""
            {"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}]}
            """);

        Assert.Equal("messages[0].tool_calls[0].function.arguments", error.Param);
    }

    [Fact]
    public void ToAnthropic_AudioPart_Returns400OnThePart()
    {
        var error = TranslateError("""
            {"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}
            """);

        Assert.Equal(400, error.StatusCode);
        Assert.Equal("messages[0].content[0].type", error.Param);
    }

    [Fact]
    public void ToAnthropic_NonBase64DataUrl_Returns400()
    {
        var error = TranslateError("""
            {"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}}]}]}
            """);

        Assert.Equal("messages[0].content[0].image_url.url", error.Param);
    }

    // ------------------------------------------------------------------ response translation

    [Fact]
    public void FromAnthropic_TextBlocks_ConcatenatedThinkingSkippedUsageIncludesCache()
    {
        var completion = FromAnthropic("""
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Hello"},{"type":"text","text":", world"}],
             "stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":10,"cache_creation_input_tokens":3,"cache_read_input_tokens":5,"output_tokens":7}}
            """);

        AssertJson("""
            {"id":"msg_01","object":"chat.completion","created":CREATED,"model":"claude-sonnet-4-5",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":18,"completion_tokens":7,"total_tokens":25,"prompt_tokens_details":{"cached_tokens":5}}}
            """, completion);
    }

    [Fact]
    public void FromAnthropic_ToolUse_ToolCallsWithJsonArgumentsAndNullContent()
    {
        var completion = FromAnthropic("""
            {"id":"msg_02","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris","days":2}}],
             "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":15}}
            """);

        AssertJson("""
            {"id":"msg_02","object":"chat.completion","created":CREATED,"model":"claude-sonnet-4-5",
             "choices":[{"index":0,"message":{"role":"assistant","tool_calls":[
               {"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"days\":2}"}}]},
               "finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":20,"completion_tokens":15,"total_tokens":35}}
            """, completion);
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("tool_use", "tool_calls")]
    [InlineData("refusal", "content_filter")]
    [InlineData("pause_turn", "stop")]
    public void MapStopReason_AnthropicReason_OpenAiFinishReason(string stopReason, string expected)
    {
        Assert.Equal(expected, AnthropicTranslator.MapStopReason(stopReason));
    }

    // ------------------------------------------------------------------ stream translation

    private const string RecordedStream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_01XYZ","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":2}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" check."}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}

        event: content_block_start
        data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01B","name":"get_time","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":2}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

        event: message_stop
        data: {"type":"message_stop"}


        """;

    private static string ExpectedChunk(string choice) =>
        """{"id":"msg_01XYZ","object":"chat.completion.chunk","created":CREATED,"model":"claude-sonnet-4-5-20250929","choices":[CHOICE]}""".Replace("CHOICE", choice, StringComparison.Ordinal);

    private static readonly string[] ExpectedRecordedChunks =
    [
        ExpectedChunk("""{"index":0,"delta":{"role":"assistant","content":""}}"""),
        ExpectedChunk("""{"index":0,"delta":{"content":"Let me"}}"""),
        ExpectedChunk("""{"index":0,"delta":{"content":" check."}}"""),
        ExpectedChunk("""{"index":0,"delta":{"tool_calls":[{"index":0,"id":"toolu_01A","type":"function","function":{"name":"get_weather","arguments":""}}]}}"""),
        ExpectedChunk("""{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Par"}}]}}"""),
        ExpectedChunk("""{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is\"}"}}]}}"""),
        ExpectedChunk("""{"index":0,"delta":{"tool_calls":[{"index":1,"id":"toolu_01B","type":"function","function":{"name":"get_time","arguments":""}}]}}"""),
        ExpectedChunk("""{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}}"""),
        ExpectedChunk("""{"index":0,"delta":{},"finish_reason":"tool_calls"}"""),
    ];

    [Fact]
    public async Task TranslateAsync_RecordedStreamWithIncludeUsage_ExactOpenAiChunksThenUsageChunk()
    {
        var chunks = await ReadAllAsync(RecordedStream, includeUsage: true);

        var expected = ExpectedRecordedChunks.Append(
            """{"id":"msg_01XYZ","object":"chat.completion.chunk","created":CREATED,"model":"claude-sonnet-4-5-20250929","choices":[],"usage":{"prompt_tokens":572,"completion_tokens":89,"total_tokens":661,"prompt_tokens_details":{"cached_tokens":100}}}""")
            .ToList();
        Assert.Equal(expected.Count, chunks.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            AssertJson(expected[i], JsonNode.Parse(chunks[i]));
        }
    }

    [Fact]
    public async Task TranslateAsync_RecordedStreamWithoutIncludeUsage_NoUsageAnywhere()
    {
        var chunks = await ReadAllAsync(RecordedStream, includeUsage: false);

        Assert.Equal(ExpectedRecordedChunks.Length, chunks.Count);
        for (var i = 0; i < chunks.Count; i++)
        {
            AssertJson(ExpectedRecordedChunks[i], JsonNode.Parse(chunks[i]));
        }
    }

    [Fact]
    public async Task TranslateAsync_RecordedStream_AccumulatesToTheSameAnswerAsTheBlocks()
    {
        var chunks = await ReadAllAsync(RecordedStream, includeUsage: true);

        var accumulator = new Keel.Core.Recording.StreamAccumulator();
        foreach (var chunk in chunks)
        {
            accumulator.Add(Encoding.UTF8.GetBytes(chunk));
        }

        Assert.False(accumulator.HadUnreadableChunk);
        Assert.Equal(661, accumulator.Usage!.TotalTokens);
    }

    [Fact]
    public async Task TranslateAsync_StreamCutBeforeMessageStop_YieldsChunksThenThrowsUpstreamUnreachable()
    {
        var cut = RecordedStream[..RecordedStream.IndexOf("event: message_delta", StringComparison.Ordinal)];
        var chunks = new List<string>();

        var ex = await Assert.ThrowsAsync<UpstreamStreamException>(async () =>
        {
            await foreach (var chunk in AnthropicStreamTranslator.TranslateAsync(ToStream(cut), "claude", includeUsage: true, Time, CancellationToken.None))
            {
                chunks.Add(Encoding.UTF8.GetString(chunk.Span));
            }
        });

        Assert.Equal(8, chunks.Count);
        Assert.Equal(502, ex.Error.StatusCode);
        Assert.Equal("upstream_unreachable", ex.Error.Code);
        Assert.Contains("the stream ended before message_stop", ex.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("overloaded_error", 529)]
    [InlineData("rate_limit_error", 429)]
    [InlineData("api_error", 500)]
    [InlineData("something_new", 502)]
    public async Task TranslateAsync_ErrorEvent_ThrowsWithAnthropicStatusTypeAndMessage(string errorType, int status)
    {
        var stream = RecordedStream[..RecordedStream.IndexOf("event: content_block_stop", StringComparison.Ordinal)] + """
            event: error
            data: {"type":"error","error":{"type":"ERRORTYPE","message":"Overloaded"}}


            """.Replace("ERRORTYPE", errorType, StringComparison.Ordinal);
        var chunks = new List<string>();

        var ex = await Assert.ThrowsAsync<UpstreamStreamException>(async () =>
        {
            await foreach (var chunk in AnthropicStreamTranslator.TranslateAsync(ToStream(stream), "claude", includeUsage: false, Time, CancellationToken.None))
            {
                chunks.Add(Encoding.UTF8.GetString(chunk.Span));
            }
        });

        Assert.Equal(3, chunks.Count);
        Assert.Equal(status, ex.Error.StatusCode);
        Assert.Equal(errorType, ex.Error.Type);
        Assert.Equal("Overloaded", ex.Error.Message);
    }

    [Fact]
    public async Task TranslateAsync_InvalidJsonEvent_ThrowsUpstreamInvalid()
    {
        var ex = await Assert.ThrowsAsync<UpstreamStreamException>(async () =>
        {
            await foreach (var _ in AnthropicStreamTranslator.TranslateAsync(ToStream("event: message_start\ndata: {oops\n\n"), "claude", false, Time, CancellationToken.None))
            {
            }
        });

        Assert.Equal("upstream_invalid_response", ex.Error.Code);
    }

    [Fact]
    public async Task TranslateAsync_EventsArriveOneByOne_EachChunkYieldedBeforeTheNextEventIsSent()
    {
        var pipe = new Pipe();
        await using var enumerator = AnthropicStreamTranslator
            .TranslateAsync(pipe.Reader.AsStream(), "claude", includeUsage: false, Time, CancellationToken.None)
            .GetAsyncEnumerator();
        var events = RecordedStream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);

        await Write(pipe, events[0]); // message_start
        Assert.True(await enumerator.MoveNextAsync());
        AssertJson(ExpectedRecordedChunks[0], JsonNode.Parse(enumerator.Current.Span));

        await Write(pipe, events[1] + "\n\n" + events[2]); // text block start, ping: nothing to relay
        var next = enumerator.MoveNextAsync().AsTask();
        await Task.Delay(50);
        Assert.False(next.IsCompleted);

        await Write(pipe, events[3]); // first text delta
        Assert.True(await next);
        AssertJson(ExpectedRecordedChunks[1], JsonNode.Parse(enumerator.Current.Span));

        await pipe.Writer.CompleteAsync();
        await Assert.ThrowsAsync<UpstreamStreamException>(async () => await enumerator.MoveNextAsync());

        static async Task Write(Pipe pipe, string sse) => await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(sse + "\n\n"));
    }

    // ------------------------------------------------------------------ provider, end to end over HTTP

    private const string CannedMessage = """
        {"id":"msg_canned","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Bonjour"}],
         "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":3}}
        """;

    [Fact]
    public async Task ChatAsync_KestrelUpstream_SendsHeadersAndTranslatedBodyReturnsChatCompletion()
    {
        await using var upstream = await FakeAnthropic.StartAsync();
        var provider = upstream.CreateProvider();

        var result = await provider.ChatAsync(Call("""{"model":"fast","messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"Hello"}]}"""), CancellationToken.None);

        Assert.Null(result.Error);
        var response = Assert.IsType<JsonBodyResponse>(result.Response);
        AssertJson("""
            {"id":"msg_canned","object":"chat.completion","created":CREATED,"model":"claude-haiku-4-5",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Bonjour"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}
            """, JsonNode.Parse(response.Body.Span));
        Assert.Equal(15, response.Usage!.TotalTokens);

        var seen = Assert.Single(upstream.Requests);
        Assert.Equal("sk-ant-test", seen.ApiKey);
        Assert.Equal("2023-06-01", seen.Version);
        Assert.Equal("application/json", seen.ContentType);
        Assert.Equal("yes", seen.Custom);
        AssertJson("""
            {"model":"claude-haiku-4-5","max_tokens":4096,"system":"Be kind.","messages":[{"role":"user","content":[{"type":"text","text":"Hello"}]}]}
            """, JsonNode.Parse(seen.Body));
    }

    [Fact]
    public async Task ChatAsync_KestrelUpstreamStreaming_YieldsOpenAiChunks()
    {
        await using var upstream = await FakeAnthropic.StartAsync();
        var provider = upstream.CreateProvider();

        var result = await provider.ChatAsync(
            Call("""{"model":"fast","messages":[{"role":"user","content":"Hello"}],"stream":true,"stream_options":{"include_usage":true}}""", stream: true),
            CancellationToken.None);

        var streaming = Assert.IsType<StreamingResponse>(result.Response);
        var chunks = new List<string>();
        await foreach (var chunk in streaming.Chunks)
        {
            chunks.Add(Encoding.UTF8.GetString(chunk.Span));
        }

        Assert.Equal(ExpectedRecordedChunks.Length + 1, chunks.Count);
        for (var i = 0; i < ExpectedRecordedChunks.Length; i++)
        {
            AssertJson(ExpectedRecordedChunks[i], JsonNode.Parse(chunks[i]));
        }

        Assert.Equal(661, JsonNode.Parse(chunks[^1])!["usage"]!["total_tokens"]!.GetValue<int>());
        Assert.True(JsonNode.Parse(Assert.Single(upstream.Requests).Body)!["stream"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ChatAsync_UpstreamAnswersAnthropicError_StatusAndMessagePassedThrough()
    {
        await using var upstream = await FakeAnthropic.StartAsync();
        var provider = upstream.CreateProvider();

        var result = await provider.ChatAsync(Call("""{"model":"fast","messages":[{"role":"user","content":"rate-limit me"}]}"""), CancellationToken.None);

        Assert.Null(result.Response);
        Assert.Equal(429, result.Error!.StatusCode);
        Assert.Equal("rate_limit_error", result.Error.Type);
        Assert.Equal("Number of request tokens has exceeded your per-minute rate limit", result.Error.Message);
    }

    [Fact]
    public async Task ChatAsync_InvalidRequest_FailsWithoutCallingUpstream()
    {
        await using var upstream = await FakeAnthropic.StartAsync();
        var provider = upstream.CreateProvider();

        var result = await provider.ChatAsync(Call("""{"model":"fast","messages":[{"role":"user","content":"Hi"}],"n":3}"""), CancellationToken.None);

        Assert.Equal("n", result.Error!.Param);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task ChatAsync_NothingListening_UpstreamUnreachable()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        using var http = new HttpClient();
        var provider = new AnthropicProvider(new ProviderConfig { Name = "claude", Kind = ProviderKinds.Anthropic, BaseUrl = $"http://127.0.0.1:{port}/v1" }, http, Time);

        var result = await provider.ChatAsync(Call("""{"model":"fast","messages":[{"role":"user","content":"Hi"}]}"""), CancellationToken.None);

        Assert.Equal(502, result.Error!.StatusCode);
        Assert.Equal("upstream_unreachable", result.Error.Code);
    }

    [Fact]
    public async Task EmbedAsync_AnyModel_Returns400ModelNotSupported()
    {
        using var http = new HttpClient();
        var provider = new AnthropicProvider(new ProviderConfig { Name = "claude", Kind = ProviderKinds.Anthropic, BaseUrl = "http://127.0.0.1:1/v1" }, http, Time);

        var result = await provider.EmbedAsync(
            new EmbedCall { Request = new EmbeddingRequest { Model = "claude-embed" }, UpstreamModel = "claude-haiku-4-5" }, CancellationToken.None);

        Assert.Equal(400, result.Error!.StatusCode);
        Assert.Equal("model", result.Error.Param);
        Assert.Equal("model_not_supported", result.Error.Code);
        Assert.StartsWith("Anthropic has no embeddings API", result.Error.Message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ helpers

    private static ChatCall Call(string json, bool stream = false) => new()
    {
        Request = JsonSerializer.Deserialize(json, KeelJsonContext.Default.ChatCompletionRequest)!,
        UpstreamModel = "claude-haiku-4-5",
        Stream = stream,
    };

    private static JsonNode Translate(string openAiJson, bool stream = false)
    {
        var request = JsonSerializer.Deserialize(openAiJson, KeelJsonContext.Default.ChatCompletionRequest)!;
        var translation = AnthropicTranslator.ToAnthropic(request, "claude-x", stream);
        Assert.Null(translation.Error);
        return JsonNode.Parse(AnthropicTranslator.Serialize(translation.Request!))!;
    }

    private static GatewayError TranslateError(string openAiJson)
    {
        var request = JsonSerializer.Deserialize(openAiJson, KeelJsonContext.Default.ChatCompletionRequest)!;
        var translation = AnthropicTranslator.ToAnthropic(request, "claude-x", stream: false);
        Assert.Null(translation.Request);
        return translation.Error!;
    }

    private static JsonNode FromAnthropic(string anthropicJson)
    {
        var message = JsonSerializer.Deserialize(anthropicJson, AnthropicJsonContext.Default.AnthropicResponse)!;
        var completion = AnthropicTranslator.FromAnthropic(message, Created);
        return JsonNode.Parse(JsonSerializer.SerializeToUtf8Bytes(completion, KeelJsonContext.Default.ChatCompletionResponse))!;
    }

    private static MemoryStream ToStream(string sse) => new(Encoding.UTF8.GetBytes(sse.ReplaceLineEndings("\n")));

    private static async Task<List<string>> ReadAllAsync(string sse, bool includeUsage)
    {
        var chunks = new List<string>();
        await foreach (var chunk in AnthropicStreamTranslator.TranslateAsync(ToStream(sse), "claude", includeUsage, Time, CancellationToken.None))
        {
            chunks.Add(Encoding.UTF8.GetString(chunk.Span));
        }

        return chunks;
    }

    private static void AssertJson(string expected, JsonNode? actual)
    {
        // "created" comes from the test clock; expectations write it as CREATED.
        var expectedNode = JsonNode.Parse(expected.Replace("CREATED", Created.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.True(
            JsonNode.DeepEquals(expectedNode, actual),
            $"JSON differs.\nExpected: {expectedNode?.ToJsonString()}\nActual:   {actual?.ToJsonString()}");
    }

    /// <summary>A minimal Anthropic Messages API on Kestrel (127.0.0.1, random port) that records what it is sent.</summary>
    private sealed class FakeAnthropic : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FakeAnthropic(WebApplication app) => _app = app;

        public List<SeenRequest> Requests { get; } = [];

        public string BaseUrl => _app.Urls.Single() + "/v1";

        public static async Task<FakeAnthropic> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            var app = builder.Build();
            app.Urls.Add("http://127.0.0.1:0");
            var fake = new FakeAnthropic(app);
            app.MapPost("/v1/messages", fake.HandleAsync);
            await app.StartAsync();
            return fake;
        }

        public AnthropicProvider CreateProvider() => new(
            new ProviderConfig
            {
                Name = "claude",
                Kind = ProviderKinds.Anthropic,
                BaseUrl = BaseUrl,
                ApiKey = "sk-ant-test",
                Headers = new Dictionary<string, string> { ["x-custom"] = "yes" }.ToFrozenDictionary(),
            },
            new HttpClient(),
            Time);

        private async Task HandleAsync(HttpContext context)
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var headers = context.Request.Headers;
            lock (Requests)
            {
                Requests.Add(new SeenRequest(headers["x-api-key"], headers["anthropic-version"], context.Request.ContentType, headers["x-custom"], body));
            }

            if (body.Contains("rate-limit me", StringComparison.Ordinal))
            {
                context.Response.StatusCode = 429;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(
                    """{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}""",
                    context.RequestAborted);
                return;
            }

            if (JsonNode.Parse(body)!["stream"] is not null)
            {
                context.Response.ContentType = "text/event-stream";
                foreach (var sse in RecordedStream.ReplaceLineEndings("\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
                {
                    await context.Response.WriteAsync(sse + "\n\n", context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                }

                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(CannedMessage, context.RequestAborted);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private sealed record SeenRequest(string? ApiKey, string? Version, string? ContentType, string? Custom, string Body);
}
