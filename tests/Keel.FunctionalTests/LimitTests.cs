using System.Net;
using Keel.Tests.Common;
using Microsoft.Extensions.DependencyInjection;
using static Keel.FunctionalTests.AccessControlTests;

namespace Keel.FunctionalTests;

/// <summary>Every limit, crossed: status, error, headers, and nothing sent upstream.</summary>
public sealed class LimitTests
{
    private static string Config(FakeProvider fake) => $$"""
        providers:
          up: { kind: openai, base_url: "{{fake.BaseUrl}}", api_key: sk-limit-test-key }
        models:
          gpt-test: { provider: up }
          gpt-big: { provider: up }
        """;

    private const string Body = """{"model":"gpt-test","messages":[{"role":"user","content":"one two three"}]}""";

    private static async Task<(KeelTestServer Keel, string Key, TestTimeProvider Clock)> StartAsync(FakeProvider fake, string keyLimits, string projectLimits = "")
    {
        var clock = new TestTimeProvider(DateTimeOffset.UtcNow);
        var keel = await KeelTestServer.StartAsync(Config(fake), s => s.AddSingleton<TimeProvider>(clock));
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        var project = await CreateProjectAsync(keel, admin, "limited", projectLimits);
        var (_, key) = await CreateKeyAsync(keel, admin, $$"""{"name":"app","role":"gateway","project":"{{project}}"{{keyLimits}}}""");
        return (keel, key, clock);
    }

    [Fact]
    public async Task RequestsPerMinute_Crossed_429WithOpenAiHeaders_NothingUpstream_ThenRefills()
    {
        await using var fake = await FakeProvider.StartAsync();
        var (keel, key, clock) = await StartAsync(fake, ""","limits":{"rpm":2}""");
        await using var _ = keel;

        using var first = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
        using var second = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
        using var third = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", first.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("1", first.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("0", second.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        var error = (await KeelTestServer.ReadJsonAsync(third))["error"]!;
        Assert.Equal("rate_limit_exceeded", (string?)error["code"]);
        Assert.Equal("requests", (string?)error["type"]);
        Assert.Equal("30", third.Headers.GetValues("Retry-After").Single()); // one request comes back every 30 s at 2 rpm
        Assert.Equal("0", third.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("1m0s", third.Headers.GetValues("x-ratelimit-reset-requests").Single());
        Assert.Equal(2, fake.CallCount);

        clock.Advance(TimeSpan.FromSeconds(31));
        using var later = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task TokensPerMinute_ReservedFromTheEstimate_SettledWithUsage_ThenCrossed()
    {
        await using var fake = await FakeProvider.StartAsync();
        var (keel, key, _) = await StartAsync(fake, ""","limits":{"tpm":100}""");
        await using var _k = keel;

        // Reserves prompt tokens + max_tokens (60 + ~12): fits once.
        const string big = """{"model":"gpt-test","max_tokens":60,"messages":[{"role":"user","content":"one two three"}]}""";
        using var first = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, big);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        // The fake used far fewer tokens than reserved: the difference came back, so a second one fits too.
        using var second = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, big);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);

        using var huge = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, big.Replace("60", "95", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.TooManyRequests, huge.StatusCode);
        Assert.Equal("tokens", (string?)(await KeelTestServer.ReadJsonAsync(huge))["error"]!["type"]);
        Assert.Equal("100", huge.Headers.GetValues("x-ratelimit-limit-tokens").Single());
        Assert.True(huge.Headers.Contains("x-ratelimit-remaining-tokens"));
        Assert.True(huge.Headers.Contains("x-ratelimit-reset-tokens"));
        Assert.True(huge.Headers.Contains("Retry-After"));
        Assert.Equal(2, fake.CallCount);
    }

    [Fact]
    public async Task Concurrency_Crossed_429_WhileTheFirstIsInFlight()
    {
        await using var fake = await FakeProvider.StartAsync();
        fake.Enqueue(new Fault { Delay = TimeSpan.FromSeconds(2) });
        var (keel, key, _) = await StartAsync(fake, ""","limits":{"max_concurrent":1}""");
        await using var _k = keel;

        var slow = SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
        await WaitUntilAsync(() => fake.CallCount == 1);
        using var second = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
        using var first = await slow;
        using var third = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);

        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal("concurrency_limit_exceeded", (string?)(await KeelTestServer.ReadJsonAsync(second))["error"]!["code"]);
        Assert.True(second.Headers.Contains("Retry-After"));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode); // the slot came back when the first ended
        Assert.Equal(2, fake.CallCount);
    }

    [Fact]
    public async Task AllowedModels_OtherModel_403_NothingUpstream()
    {
        await using var fake = await FakeProvider.StartAsync();
        var (keel, key, _) = await StartAsync(fake, ""","limits":{"models":["gpt-test"]}""");
        await using var _k = keel;

        using var allowed = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
        using var denied = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body.Replace("gpt-test", "gpt-big", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        var error = (await KeelTestServer.ReadJsonAsync(denied))["error"]!;
        Assert.Equal("model_not_allowed", (string?)error["code"]);
        Assert.Equal("model", (string?)error["param"]);
        Assert.Equal(1, fake.CallCount);
    }

    [Fact]
    public async Task ProjectLimit_AppliesToAllItsKeys_AndPerModelLimit()
    {
        await using var fake = await FakeProvider.StartAsync();
        var (keel, key, _) = await StartAsync(fake, "", ""","limits":{"rpm":10,"per_model":{"gpt-big":{"rpm":1}}}""");
        await using var _k = keel;

        using var big1 = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body.Replace("gpt-test", "gpt-big", StringComparison.Ordinal));
        using var big2 = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body.Replace("gpt-test", "gpt-big", StringComparison.Ordinal));
        using var other = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);

        Assert.Equal(HttpStatusCode.OK, big1.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, big2.StatusCode);
        Assert.Contains("model 'gpt-big' on this project", (string?)(await KeelTestServer.ReadJsonAsync(big2))["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(2, fake.CallCount);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition());
    }

    [Fact]
    public async Task DailyBudget_SpentByRealCalls_SoftWarningThenHard429_NothingUpstream_AndTheStoreAgrees()
    {
        await using var fake = await FakeProvider.StartAsync();
        var clock = new TestTimeProvider(DateTimeOffset.UtcNow);
        // $1,000 per 1M tokens: each of the fake's answers costs a few cents.
        await using var keel = await KeelTestServer.StartAsync($$"""
            providers:
              up: { kind: openai, base_url: "{{fake.BaseUrl}}", api_key: sk-budget-test-key }
            models:
              gpt-test: { provider: up, price: { input: 1000, output: 1000 } }
            """, s => s.AddSingleton<TimeProvider>(clock));
        var (_, admin) = await CreateKeyAsync(keel, null, """{"name":"ops","role":"admin"}""");
        var (keyId, key) = await CreateKeyAsync(keel, admin, """{"name":"app","role":"gateway","limits":{"daily_budget_usd":0.05,"soft_budget_ratio":0.5}}""");

        var statuses = new List<HttpStatusCode>();
        var warned = false;
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 20 && refused is null; i++)
        {
            var response = await SendAsync(keel, HttpMethod.Post, "/v1/chat/completions", key, Body);
            statuses.Add(response.StatusCode);
            warned |= response.Headers.Contains("x-keel-budget-warning");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                response.Dispose();
                await keel.GetTraceAsync(KeelTestServer.TraceIdOf(response)); // the cost is settled when the request ends
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            var error = (await KeelTestServer.ReadJsonAsync(refused))["error"]!;
            Assert.Equal("insufficient_quota", (string?)error["code"]);
            Assert.Contains("daily budget", (string?)error["message"], StringComparison.Ordinal);
            Assert.True(refused.Headers.Contains("Retry-After"));
        }
        Assert.True(warned, "the soft threshold should have warned before the hard one refused");
        var served = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.InRange(served, 2, 19);
        Assert.Equal(served, fake.CallCount);

        // What the store says was spent (what budgets start from after a restart) matches what was counted.
        var store = keel.Services.GetRequiredService<Keel.Core.Storage.IKeelStore>();
        var now = clock.GetUtcNow();
        var spend = await store.Access.SpendAsync(now.AddDays(-31), now.AddDays(-1), CancellationToken.None);
        var keySpend = spend.Single(s => s.Scope == "key:" + keyId);
        Assert.InRange(keySpend.Today, 0.05, 1.0);
        Assert.Equal(keySpend.Today, keel.Services.GetRequiredService<Keel.Core.Admission.LimitEnforcer>().Spend("key:" + keyId).Today, 6);
    }
}
