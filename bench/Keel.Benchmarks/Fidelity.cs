using System.ClientModel.Primitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using Keel.Core.Wire;
using OpenAI.Chat;

namespace Keel.Benchmarks;

/// <summary>
/// Not a benchmark: checks what a parse + serialize round trip keeps of each payload, with Keel's
/// wire types and with the SDK's, by comparing the JSON trees (not the bytes).
/// </summary>
internal static class Fidelity
{
    public static int Run()
    {
        var lossy = 0;
        foreach (var (name, bytes) in new[] { ("small request", Payloads.SmallRequest), ("large request", Payloads.LargeRequest) })
        {
            var keel = JsonSerializer.SerializeToUtf8Bytes(
                JsonSerializer.Deserialize(bytes, KeelJsonContext.Default.ChatCompletionRequest)!, KeelJson.Context.ChatCompletionRequest);
            var sdk = ModelReaderWriter.Write(ModelReaderWriter.Read<ChatCompletionOptions>(BinaryData.FromBytes(bytes))!).ToArray();
            lossy += Report($"{name}, Keel round trip", bytes, keel);
            lossy += Report($"{name}, SDK round trip", bytes, sdk);
        }

        foreach (var (name, bytes) in new[] { ("small response", Payloads.SmallResponse), ("large response", Payloads.LargeResponse) })
        {
            var keel = JsonSerializer.SerializeToUtf8Bytes(
                JsonSerializer.Deserialize(bytes, KeelJsonContext.Default.ChatCompletionResponse)!, KeelJson.Context.ChatCompletionResponse);
            var sdk = ModelReaderWriter.Write(ModelReaderWriter.Read<ChatCompletion>(BinaryData.FromBytes(bytes))!).ToArray();
            lossy += Report($"{name}, Keel round trip", bytes, keel);
            lossy += Report($"{name}, SDK round trip", bytes, sdk);
        }

        Console.WriteLine("Keel's forward path sends the client's bytes themselves when nothing changed them: identical by construction.");
        return 0;

        static int Report(string what, byte[] input, byte[] output)
        {
            var differences = new List<string>();
            Compare(JsonNode.Parse(input), JsonNode.Parse(output), "$", differences);
            Console.WriteLine($"{what}: {input.Length} -> {output.Length} bytes, {(differences.Count == 0 ? "same JSON" : $"{differences.Count} difference(s)")}");
            foreach (var d in differences.Take(12))
            {
                Console.WriteLine($"    {d}");
            }

            return differences.Count == 0 ? 0 : 1;
        }
    }

    private static void Compare(JsonNode? a, JsonNode? b, string path, List<string> differences)
    {
        switch (a, b)
        {
            case (JsonObject oa, JsonObject ob):
                foreach (var (key, value) in oa)
                {
                    if (!ob.ContainsKey(key))
                    {
                        differences.Add($"dropped {path}.{key}");
                    }
                    else
                    {
                        Compare(value, ob[key], $"{path}.{key}", differences);
                    }
                }

                foreach (var (key, _) in ob)
                {
                    if (!oa.ContainsKey(key))
                    {
                        differences.Add($"added   {path}.{key}");
                    }
                }

                break;
            case (JsonArray xa, JsonArray xb):
                if (xa.Count != xb.Count)
                {
                    differences.Add($"changed {path}: {xa.Count} -> {xb.Count} items");
                    break;
                }

                for (var i = 0; i < xa.Count; i++)
                {
                    Compare(xa[i], xb[i], $"{path}[{i}]", differences);
                }

                break;
            default:
                if (!JsonNode.DeepEquals(a, b))
                {
                    differences.Add($"changed {path}: {Short(a)} -> {Short(b)}");
                }

                break;
        }

        static string Short(JsonNode? n)
        {
            var s = n?.ToJsonString() ?? "null";
            return s.Length > 60 ? s[..57] + "..." : s;
        }
    }
}
