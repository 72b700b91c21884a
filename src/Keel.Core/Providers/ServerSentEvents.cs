using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Keel.Core.Providers;

/// <summary>One Server-Sent Event: its optional "event:" name and its (joined) "data:" payload.</summary>
public readonly record struct SseEvent(string? Event, ReadOnlyMemory<byte> Data);

/// <summary>Incremental Server-Sent Events parser: yields each event as soon as its blank line arrives.</summary>
public static class ServerSentEvents
{
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
        var state = new ParserState();
        var completed = new List<SseEvent>(4);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                ParseLines(ref buffer, state, completed);
                reader.AdvanceTo(buffer.Start, buffer.End);
                foreach (var sse in completed)
                {
                    yield return sse;
                }

                completed.Clear();
                if (result.IsCompleted)
                {
                    yield break;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>True when <paramref name="json"/> is one well-formed JSON value.</summary>
    public static bool IsWellFormedJson(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            while (reader.Read())
            {
            }

            return reader.BytesConsumed == json.Length || json[(int)reader.BytesConsumed..].Trim(" \r\n\t"u8).IsEmpty;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed class ParserState
    {
        public string? EventName;
        public ArrayBufferWriter<byte>? Data;
    }

    private static void ParseLines(ref ReadOnlySequence<byte> buffer, ParserState state, List<SseEvent> completed)
    {
        while (true)
        {
            var position = buffer.PositionOf((byte)'\n');
            if (position is null)
            {
                return;
            }

            var lineSequence = buffer.Slice(0, position.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
            ReadOnlySpan<byte> line = lineSequence.IsSingleSegment ? lineSequence.FirstSpan : lineSequence.ToArray();
            if (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            if (line.IsEmpty)
            {
                if (state.Data is not null)
                {
                    completed.Add(new SseEvent(state.EventName, state.Data.WrittenMemory.ToArray()));
                }

                state.Data = null;
                state.EventName = null;
                continue;
            }

            if (line[0] == (byte)':')
            {
                continue; // comment / keep-alive
            }

            var colon = line.IndexOf((byte)':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? [] : line[(colon + 1)..];
            if (!value.IsEmpty && value[0] == (byte)' ')
            {
                value = value[1..];
            }

            if (field.SequenceEqual("data"u8))
            {
                if (state.Data is null)
                {
                    state.Data = new ArrayBufferWriter<byte>(Math.Max(64, value.Length));
                }
                else
                {
                    state.Data.Write("\n"u8);
                }

                state.Data.Write(value);
            }
            else if (field.SequenceEqual("event"u8))
            {
                state.EventName = System.Text.Encoding.UTF8.GetString(value);
            }
        }
    }
}
