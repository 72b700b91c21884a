using System.Collections.Concurrent;
using Google.Protobuf;
using Keel.Core.Telemetry.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>OTLP/HTTP export: a real collector endpoint on loopback receives the gateway's spans as protobuf.</summary>
public sealed class OtlpExportTests
{
    [Fact]
    public async Task EveryTrace_ReachesTheCollector_AsOtlpProtobuf_WithTheGatewaysSpansAndHeaders()
    {
        var received = new ConcurrentQueue<(byte[] Body, string? ContentType, string? ApiKey)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.MapPost("/v1/traces", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            received.Enqueue((buffer.ToArray(), http.Request.ContentType, http.Request.Headers["x-api-key"].ToString()));
            return Results.Ok();
        });
        await collector.StartAsync();
        var collectorUrl = collector.Urls.First();

        await using var keel = await KeelTestServer.StartAsync($$"""
            telemetry:
              service_name: keel-test
              otlp:
                endpoint: "{{collectorUrl}}"
                headers: { x-api-key: collector-secret-1 }
            """);
        using var response = await keel.PostJsonAsync("/v1/chat/completions", """{"model":"local/echo","messages":[{"role":"user","content":"export me"}]}""");
        var traceId = KeelTestServer.TraceIdOf(response);
        await keel.GetTraceAsync(traceId);
        await keel.Services.GetRequiredService<OtlpExporter>().FlushAsync(CancellationToken.None);
        for (var i = 0; i < 500 && received.IsEmpty; i++)
        {
            await Task.Delay(10);
        }

        var (body, contentType, apiKey) = Assert.Single(received);
        Assert.Equal("application/x-protobuf", contentType);
        Assert.Equal("collector-secret-1", apiKey);

        // Read the protobuf with Google.Protobuf, field by field (ExportTraceServiceRequest > ResourceSpans > ScopeSpans > Span).
        var resourceSpans = Fields(body).Single(f => f.Number == 1).Bytes!;
        var resource = Fields(resourceSpans).Single(f => f.Number == 1).Bytes!;
        Assert.Contains("keel-test", System.Text.Encoding.UTF8.GetString(resource), StringComparison.Ordinal);
        var scopeSpans = Fields(resourceSpans).Single(f => f.Number == 2).Bytes!;
        var spans = Fields(scopeSpans).Where(f => f.Number == 2).Select(f => Fields(f.Bytes!)).ToList();
        Assert.Equal(["gateway", "identity", "ingress", "resolve", "call", "attempt"], spans.Select(s => s.Single(f => f.Number == 5).Text));
        Assert.All(spans, s => Assert.Equal(traceId, Convert.ToHexStringLower(s.Single(f => f.Number == 1).Bytes!)));
        var root = spans[0];
        Assert.DoesNotContain(root, f => f.Number == 4); // no parent
        Assert.True(root.Single(f => f.Number == 8).Fixed > root.Single(f => f.Number == 7).Fixed); // end after start
        var attributes = root.Where(f => f.Number == 9).Select(f => Fields(f.Bytes!).Single(k => k.Number == 1).Text).ToList();
        Assert.Contains("gen_ai.operation.name", attributes);
        Assert.Contains("keel.trace.status_code", attributes);
    }

    private sealed record Field(int Number, byte[]? Bytes, ulong Fixed)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Bytes!);
    }

    private static List<Field> Fields(byte[] message)
    {
        var input = new CodedInputStream(message);
        var fields = new List<Field>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            switch (WireFormat.GetTagWireType(tag))
            {
                case WireFormat.WireType.LengthDelimited:
                    fields.Add(new Field(number, input.ReadBytes().ToByteArray(), 0));
                    break;
                case WireFormat.WireType.Fixed64:
                    fields.Add(new Field(number, null, input.ReadFixed64()));
                    break;
                case WireFormat.WireType.Varint:
                    fields.Add(new Field(number, null, input.ReadUInt64()));
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        return fields;
    }
}
