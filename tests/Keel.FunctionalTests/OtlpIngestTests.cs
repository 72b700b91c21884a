using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using static Keel.FunctionalTests.AccessControlTests;

namespace Keel.FunctionalTests;

/// <summary>OTLP ingest, with the OpenTelemetry .NET SDK's OTLP exporter as the real client.</summary>
public sealed class OtlpIngestTests
{
    [Theory]
    [InlineData(OtlpExportProtocol.HttpProtobuf)]
    public async Task AppSpans_FromTheOpenTelemetrySdk_ShowWithTheGatewayTraceOfTheSameId(OtlpExportProtocol protocol)
    {
        await using var keel = await KeelTestServer.StartAsync();
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        var (_, appKey) = await CreateKeyAsync(keel, admin, """{"name":"app","role":"gateway"}""");

        // The app calls a model through Keel, then reports its own retrieval step in the same trace.
        using var call = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", appKey, Chat);
        var traceId = KeelTestServer.TraceIdOf(call);
        await keel.GetTraceAsync(traceId);

        using var source = new ActivitySource("support-app");
        using (var provider = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService("support-app"))
            .AddSource("support-app")
            .AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri(keel.BaseUrl + "/v1/traces");
                o.Protocol = protocol;
                o.Headers = $"Authorization=Bearer {appKey}";
                o.ExportProcessorType = ExportProcessorType.Simple;
            })
            .Build())
        {
            var parent = new ActivityContext(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
            using (var retrieval = source.StartActivity("retrieval", ActivityKind.Internal, parent))
            {
                retrieval!.SetTag("retrieval.documents", 3);
                retrieval.SetTag("retrieval.index", "kb-support");
            }
            using (var tool = source.StartActivity("tool: lookup_order", ActivityKind.Internal, parent))
            {
                tool!.SetStatus(ActivityStatusCode.Error, "order not found");
            }
            Assert.True(provider.ForceFlush(10_000));
        }

        using var response = await SendAsync(keel, HttpMethod.Get, $"/api/traces/{traceId}", admin);
        var trace = await KeelTestServer.ReadJsonAsync(response);
        var appSpans = trace["app_spans"]!.AsArray();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat", (string?)trace["operation"]); // the gateway's own trace, with the app's spans beside its spans
        Assert.Equal(["support-app: retrieval", "support-app: tool: lookup_order"], appSpans.Select(s => (string)s!["name"]!).Order());
        var retrievalSpan = appSpans.Single(s => ((string)s!["name"]!).EndsWith("retrieval", StringComparison.Ordinal))!;
        Assert.Equal(3, (int)retrievalSpan["attributes"]!["retrieval.documents"]!);
        Assert.Equal("kb-support", (string?)retrievalSpan["attributes"]!["retrieval.index"]);
        var toolSpan = appSpans.Single(s => ((string)s!["name"]!).Contains("lookup_order", StringComparison.Ordinal))!;
        Assert.True((bool)toolSpan["is_error"]!);
        Assert.Equal("order not found", (string?)toolSpan["status_message"]);

        // Another project's key does not see them.
        var other = await CreateProjectAsync(keel, admin, "other");
        var (_, otherKey) = await CreateKeyAsync(keel, admin, $$"""{"name":"o","role":"viewer","project":"{{other}}"}""");
        using var hidden = await SendAsync(keel, HttpMethod.Get, $"/api/traces/{traceId}", otherKey);
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
    }

    [Fact]
    public async Task JsonEncoding_IsAccepted_AndBadBodiesAreClear400s()
    {
        await using var keel = await KeelTestServer.StartAsync();
        const string traceId = "5b8efff798038103d269b633813fc60c";
        var body = new JsonObject
        {
            ["resourceSpans"] = new JsonArray(new JsonObject
            {
                ["resource"] = new JsonObject { ["attributes"] = new JsonArray(new JsonObject { ["key"] = "service.name", ["value"] = new JsonObject { ["stringValue"] = "agent" } }) },
                ["scopeSpans"] = new JsonArray(new JsonObject
                {
                    ["spans"] = new JsonArray(new JsonObject
                    {
                        ["traceId"] = traceId, ["spanId"] = "eee19b7ec3c1b174", ["name"] = "plan",
                        ["startTimeUnixNano"] = "1700000000000000000", ["endTimeUnixNano"] = "1700000000250000000",
                        ["attributes"] = new JsonArray(new JsonObject { ["key"] = "steps", ["value"] = new JsonObject { ["intValue"] = "4" } }),
                    }),
                }),
            }),
        };

        using var accepted = await keel.PostJsonAsync("/v1/traces", body.ToJsonString());
        using var trace = await keel.Client.GetAsync($"/api/traces/{traceId}");
        var json = await KeelTestServer.ReadJsonAsync(trace);
        using var broken = await keel.PostJsonAsync("/v1/traces", """{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"1"}]}]}]}""");

        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("app", (string?)json["operation"]); // only the application's spans: no gateway call had this id
        Assert.Equal(250, (double)json["app_spans"]![0]!["duration_ms"]!);
        Assert.Equal(4, (int)json["app_spans"]![0]!["attributes"]!["steps"]!);
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        Assert.Contains("traceId", (string?)(await KeelTestServer.ReadJsonAsync(broken))["error"]!["message"], StringComparison.Ordinal);
    }
}
