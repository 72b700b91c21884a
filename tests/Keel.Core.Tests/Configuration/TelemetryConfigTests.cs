using Keel.Core.Configuration;

namespace Keel.Core.Tests.Configuration;

public sealed class TelemetryConfigTests
{
    [Fact]
    public void Otlp_EndpointAndHeaders_Load_WithEnvInterpolation()
    {
        var result = ConfigLoader.Parse("""
            telemetry:
              service_name: gateway-eu
              otlp: { endpoint: "http://collector:4318/", headers: { x-api-key: "${OTLP_KEY}" } }
            """, "keel.yaml", name => name == "OTLP_KEY" ? "k-123456789" : null);

        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal("http://collector:4318", result.Config!.Telemetry.OtlpEndpoint);
        Assert.Equal("k-123456789", result.Config.Telemetry.OtlpHeaders["x-api-key"]);
        Assert.Equal("gateway-eu", result.Config.Telemetry.ServiceName);
    }

    [Fact]
    public void Otlp_BadEndpoint_AndUnknownKey_AreReportedWithTheField()
    {
        var result = ConfigLoader.Parse("""
            telemetry:
              otlp: { endpoint: "collector:4318", protocol: grpc }
            """, "keel.yaml", _ => null);

        Assert.False(result.Success);
        Assert.Contains(result.Errors, e => e.Field == "telemetry.otlp.endpoint" && e.Line == 2);
        Assert.Contains(result.Errors, e => e.Field == "telemetry.otlp.protocol");
    }

    [Fact]
    public void RetentionDays_BelowOne_IsReportedWithTheField()
    {
        var result = ConfigLoader.Parse("recording: { retention_days: 0 }\n", "keel.yaml", _ => null);

        Assert.False(result.Success);
        Assert.Contains(result.Errors, e => e.Field == "recording.retention_days" && e.Message.Contains("at least 1", StringComparison.Ordinal));
    }
}
