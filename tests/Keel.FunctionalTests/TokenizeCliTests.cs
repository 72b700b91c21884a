using System.Text;
using System.Text.Json;

namespace Keel.FunctionalTests;

/// <summary><c>keel tokenize</c>, run as a process with text on standard input.</summary>
public sealed class TokenizeCliTests
{
    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string stdin, params string[] args) =>
        KeelCli.RunAsync(stdin, null, args);

    [Theory]
    [InlineData("o200k_base", "[24912,2375]")]
    [InlineData("cl100k_base", "[15339,1917]")]
    public async Task Tokenize_Stdin_PrintsTheIdsAsJson(string encoding, string expected)
    {
        var (code, stdout, stderr) = await RunAsync("hello world", "tokenize", "--encoding", encoding);

        Assert.True(code == 0, stderr);
        Assert.Equal(expected, stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Tokenize_SpecialTokenAndUnicode_MatchTiktoken()
    {
        // tiktoken 1.0.22 encode_ordinary, o200k_base.
        var (code, stdout, _) = await RunAsync("<|endoftext|> 日本語 🙂", "tokenize", "-e", "o200k_base");

        Assert.Equal(0, code);
        var ids = JsonSerializer.Deserialize<int[]>(stdout)!;
        Assert.Equal([27, 91, 419, 1440, 919, 91, 29, 17428, 40909, 26192], ids);
    }

    [Fact]
    public async Task Tokenize_Count_PrintsTheNumber()
    {
        var (code, stdout, _) = await RunAsync("hello world", "tokenize", "--encoding", "cl100k_base", "--count");

        Assert.Equal(0, code);
        Assert.Equal("2", stdout.Trim());
    }

    [Fact]
    public async Task Tokenize_EmptyInput_EmptyArray()
    {
        var (code, stdout, _) = await RunAsync("", "tokenize", "-e", "o200k_base");

        Assert.Equal(0, code);
        Assert.Equal("[]", stdout.Trim());
    }

    [Fact]
    public async Task Tokenize_UnknownEncoding_OneLineErrorAndExitTwo()
    {
        var (code, stdout, stderr) = await RunAsync("hello", "tokenize", "--encoding", "p50k_base");

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("'p50k_base'", line);
        Assert.Contains("o200k_base", line);
        Assert.Contains("cl100k_base", line);
    }
}
