using Keel.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Keel.FunctionalTests;

/// <summary>
/// What keeps inline I/O safe: only endpoints marked as never blocking run on the thread that read
/// the request (an event thread, outside the pool); everything else is moved to the thread pool.
/// </summary>
public sealed class InlineIoTests
{
    [Fact]
    public async Task ControlPlaneRequest_ArrivingOnAnEventThread_RunsOnTheThreadPool()
    {
        var ran = await RunFromDedicatedThreadAsync(endpoint: null);

        Assert.True(ran.OnPool);
        Assert.NotEqual(ran.CallerThread, ran.HandlerThread);
    }

    [Fact]
    public async Task GatewayEndpoint_StaysOnTheThreadThatReadTheRequest()
    {
        var endpoint = new RouteEndpointBuilder(_ => Task.CompletedTask, RoutePatternFactory.Parse("/v1/chat/completions"), 0);
        new Conventions(endpoint).AllowInline();

        var ran = await RunFromDedicatedThreadAsync(endpoint.Build());

        Assert.False(ran.OnPool);
        Assert.Equal(ran.CallerThread, ran.HandlerThread);
    }

    [Fact]
    public async Task ControlPlaneRequest_AlreadyOnThePool_IsNotMovedAgain()
    {
        var handlerThread = 0;
        var callerThread = 0;
        var pipeline = Pipeline(() => handlerThread = Environment.CurrentManagedThreadId);

        await Task.Run(async () =>
        {
            callerThread = Environment.CurrentManagedThreadId;
            await pipeline(new DefaultHttpContext());
        });

        Assert.Equal(callerThread, handlerThread);
    }

    [Fact]
    public async Task LargeGatewayBodies_LeaveTheEventThread_SmallOnesDoNot()
    {
        var (small, large) = (false, false);
        var thread = new Thread(() =>
        {
            small = InlineIo.ShouldLeaveEventThread(InlineIo.LargeBodyBytes);
            large = InlineIo.ShouldLeaveEventThread(InlineIo.LargeBodyBytes + 1);
        });
        thread.Start();
        thread.Join();

        Assert.False(small);
        Assert.True(large);
        // On a pool thread there is nothing to leave.
        Assert.False(await Task.Run(() => InlineIo.ShouldLeaveEventThread(10 * InlineIo.LargeBodyBytes)));
    }

    private static async Task<(bool OnPool, int CallerThread, int HandlerThread)> RunFromDedicatedThreadAsync(Endpoint? endpoint)
    {
        var onPool = false;
        var handlerThread = 0;
        var pipeline = Pipeline(() =>
        {
            onPool = Thread.CurrentThread.IsThreadPoolThread;
            handlerThread = Environment.CurrentManagedThreadId;
        });
        var http = new DefaultHttpContext();
        http.SetEndpoint(endpoint);

        // A thread outside the pool stands for the socket event thread.
        Task? pending = null;
        var callerThread = 0;
        var thread = new Thread(() =>
        {
            callerThread = Environment.CurrentManagedThreadId;
            pending = pipeline(http);
        });
        thread.Start();
        thread.Join();
        await pending!;
        return (onPool, callerThread, handlerThread);
    }

    private static RequestDelegate Pipeline(Action handler)
    {
        var app = new ApplicationBuilder(new ServiceCollection().BuildServiceProvider());
        app.UseThreadPoolUnlessInline();
        app.Run(_ =>
        {
            handler();
            return Task.CompletedTask;
        });
        return app.Build();
    }

    private sealed class Conventions(EndpointBuilder target) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention) => convention(target);
    }
}
