using Keel.Core.Recording;

namespace Keel.Core.Tests.Recording;

public sealed class SearchTextTests
{
    [Fact]
    public void Of_ChatRequestAndCompletion_TakesMessageTextsAndAnswersOnly()
    {
        var request = """
            {"model":"gpt-4o","temperature":0.2,"messages":[
              {"role":"system","content":"Be brief."},
              {"role":"user","content":[{"type":"text","text":"What is in"},{"type":"image_url","image_url":{"url":"https://x/cat.png"}},{"type":"text","text":"this picture?"}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"look","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"c","content":"a cat"}],
             "metadata":{"content":"not a message"}}
            """u8;
        var response = """{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"A cat on a mat."}},{"index":1,"message":{"content":"Second choice."}}],"usage":{"prompt_tokens":9}}"""u8;

        var text = SearchText.Of(request, response);

        Assert.Equal("Be brief.\nWhat is in\nthis picture?\na cat\nA cat on a mat.\nSecond choice.", text);
    }

    [Fact]
    public void Of_EmbeddingsInput_TakesTheStrings()
    {
        Assert.Equal("alpha", SearchText.Of("""{"model":"e","input":"alpha"}"""u8, default));
        Assert.Equal("alpha\nbeta", SearchText.Of("""{"model":"e","input":["alpha","beta"]}"""u8, default));
        Assert.Null(SearchText.Of("""{"model":"e","input":[1,2,3]}"""u8, default));
    }

    [Fact]
    public void Of_NotJsonOrEmpty_IsNullOrWhatWasReadBeforeTheFault()
    {
        Assert.Null(SearchText.Of(default, default));
        Assert.Null(SearchText.Of("not json"u8, "[1]"u8));
        Assert.Equal("kept", SearchText.Of("""{"messages":[{"role":"user","content":"kept"}],"broken":"""u8, default));
    }
}
