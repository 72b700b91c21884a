using System.Net;
using Keel.Core.Configuration;
using Keel.Core.Identity;
using Keel.Core.Providers;

namespace Keel.Core.Tests.Identity;

public sealed class KeyAuthenticatorTests
{
    private static GatewaySnapshot Snapshot(string? masterKey) =>
        new(KeelConfig.Default with { Auth = new AuthConfig { MasterKey = masterKey } }, new ProviderFactory(TimeProvider.System).Create);

    [Fact]
    public void Authenticate_NoMasterKeyRemoteClient_IsRefusedWithAHint()
    {
        var identity = KeyAuthenticator.Authenticate(Snapshot(null), null, _ => null, IPAddress.Parse("10.1.2.3"), false, DateTimeOffset.UtcNow, out var error);

        Assert.Null(identity);
        Assert.Equal(401, error!.StatusCode);
        Assert.Equal("no_master_key", error.Code);
        Assert.Contains("KEEL_MASTER_KEY", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Authenticate_NoMasterKeyLoopbackClient_IsServed(string address)
    {
        var identity = KeyAuthenticator.Authenticate(Snapshot(null), null, _ => null, IPAddress.Parse(address), false, DateTimeOffset.UtcNow, out _);

        Assert.Equal("admin", identity!.Role);
    }

    [Fact]
    public void Authenticate_MasterKeyFromRemoteClient_IsServed()
    {
        var identity = KeyAuthenticator.Authenticate(Snapshot("secret-key-1"), null, h => h == "Authorization" ? "Bearer secret-key-1" : null, IPAddress.Parse("10.1.2.3"), false, DateTimeOffset.UtcNow, out _);

        Assert.Equal("master", identity!.KeyId);
    }

    [Fact]
    public void Authenticate_KeyDiffersOnlyInLastCharacter_IsRefused()
    {
        var identity = KeyAuthenticator.Authenticate(Snapshot("secret-key-1"), null, h => h == "x-api-key" ? "secret-key-2" : null, null, false, DateTimeOffset.UtcNow, out var error);

        Assert.Null(identity);
        Assert.Equal("invalid_api_key", error!.Code);
    }
}
