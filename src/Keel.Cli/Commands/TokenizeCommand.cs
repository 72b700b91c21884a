using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Keel.Core.Tokenization;

namespace Keel.Cli.Commands;

internal static class TokenizeCommand
{
    public static Command Create()
    {
        var encoding = new Option<string>("--encoding", "-e")
        {
            Description = $"The encoding: {string.Join(" or ", TokenEncodings.All)}.",
            Required = true,
        };
        var count = new Option<bool>("--count") { Description = "Print the number of tokens instead of the ids." };
        var command = new Command("tokenize", """
            Tokenize standard input (UTF-8) exactly as OpenAI's tiktoken does (special-token strings count as text)
            and print the token ids as a JSON array, or their number with --count.
            """) { encoding, count };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetValue(encoding);
            if (!BpeTokenizer.TryGet(name, out var tokenizer))
            {
                await Console.Error.WriteLineAsync($"error: unknown encoding '{name}'; choose {string.Join(" or ", TokenEncodings.All)}.");
                return 2;
            }

            using var input = new MemoryStream();
            await using (var stdin = Console.OpenStandardInput())
            {
                await stdin.CopyToAsync(input, cancellationToken);
            }

            var text = input.GetBuffer().AsSpan(0, (int)input.Length);
            if (parse.GetValue(count))
            {
                Console.WriteLine(tokenizer.CountTokensUtf8(text).ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                WriteIds(tokenizer.EncodeUtf8(text));
            }

            return 0;
        });
        return command;
    }

    private static void WriteIds(int[] ids)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout))
        {
            writer.WriteStartArray();
            foreach (var id in ids)
            {
                writer.WriteNumberValue(id);
            }

            writer.WriteEndArray();
        }

        stdout.WriteByte((byte)'\n');
    }
}
