using Keel.Core.Guardrails;

namespace Keel.Core.Tests.Guardrails;

public sealed class SecretsScannerTests
{
    private static readonly IScanner s_secrets = GuardrailScanners.Get(GuardrailScanners.Secrets)!;

    // Key-shaped strings made up for these tests; none was ever issued.
    [Theory]
    [InlineData("key: sk-proj-Zq8Lr2Vt6Xy0Bn4Mk7Pw1Hs5Jd9Fg3Ca8Ue2Wi6Oq0Tz4", "secrets.openai_key")]
    [InlineData("sk-ant-api03-Rk9Tm2Vx7Lq4Bz8Nw3Hc6Jp1Fs5Dg0Ya2Ue7Wo4Ti9Qe3Zn8Xr6Mb1Kv5Cs0", "secrets.anthropic_key")]
    [InlineData("aws_access_key_id=AKIAQ3EXAMPLE7KZT4RB", "secrets.aws_access_key")]
    [InlineData("maps AIzaSyB4xT9qLm2Vr7Kw3Hn8Jd5Fs1Gc6Pa0Ze4 loaded", "secrets.gcp_api_key")]
    [InlineData("GH ghp_R4tY8uI2oP6aS0dF3gH7jK1lZ5xC9vB2nM4q", "secrets.github_token")]
    [InlineData("SLACK=xoxb-2048-4096-Vq7Lr2Tz8Xw4Bn6Mk1Ps3Hd", "secrets.slack_token")]
    [InlineData("stripe sk_live_51HqLr8Tz2Xw4Bn6Mk1Ps3Hd9Fg", "secrets.stripe_key")]
    [InlineData("postgres://app:S3cr3t-Pa55@db:5432/app", "secrets.connection_string")]
    [InlineData("Server=db;Database=x;User ID=sa;Password=Tr0ub4dor&3;", "secrets.connection_string")]
    public void Scan_KnownSecret_Found(string text, string scanner)
    {
        var f = Assert.Single(s_secrets.Scan(text).Findings);

        Assert.Equal(scanner, f.Scanner);
        Assert.Equal("[SECRET]", f.Replacement);
    }

    [Fact]
    public void Scan_Jwt_HeaderMustDecodeToJsonWithAlg()
    {
        const string jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMiLCJuYW1lIjoiSmFuZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA";
        const string notJwt = "eyJub3RoaW5nIjoiaGVyZSJ9.eyJzdWIiOiIxMjMiLCJuYW1lIjoiSmFuZSJ9.c2lnbmF0dXJl";

        Assert.Equal("secrets.jwt", Assert.Single(s_secrets.Scan("Bearer " + jwt).Findings).Scanner);
        Assert.DoesNotContain(s_secrets.Scan("Bearer " + notJwt).Findings, f => f.Scanner == "secrets.jwt");
    }

    [Fact]
    public void Scan_PrivateKeyBlock_CoversTheWholeBlock()
    {
        const string text = "before\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yeNjkf0yWz3ViA6b4m1pL5Q2xXc\n-----END EC PRIVATE KEY-----\nafter";

        var f = Assert.Single(s_secrets.Scan(text).Findings);

        Assert.Equal("secrets.private_key", f.Scanner);
        Assert.StartsWith("-----BEGIN", text[f.Start..f.End], StringComparison.Ordinal);
        Assert.EndsWith("PRIVATE KEY-----", text[f.Start..f.End], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("commit 3f786850e387550fdab836ed7e6dc881de23001b and sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("uuid 123e4567-e89b-12d3-a456-426614174000")]
    [InlineData("see src/Keel.Core/Guardrails/Secrets/SecretsScanner.cs and https://example.com/docs/getting-started")]
    [InlineData("password=${DB_PASSWORD} and api_key: <your-key-here>")]
    [InlineData("ThisIsAVeryLongPascalCaseIdentifierName2 is not a token")]
    [InlineData("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----")]
    public void Scan_HarmlessLookAlike_NotFlagged(string text) => Assert.False(s_secrets.Scan(text).HasFindings);

    [Fact]
    public void Scan_AwsSecretNextToAccessKey_Found()
    {
        const string text = "AKIAQ3EXAMPLE7KZT4RB wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

        var names = s_secrets.Scan(text).Findings.Select(f => f.Scanner).ToList();

        Assert.Equal(["secrets.aws_access_key", "secrets.aws_secret_key"], names);
    }
}
