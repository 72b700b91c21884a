namespace Keel.Core.Logging;

/// <summary>
/// Every log event id, by area. 1xxx config, 2xxx upstream, 3xxx recording/store, 4xxx identity,
/// 5xxx host, 6xxx prompts. Never reuse an id; never use 0.
/// Next free: config 1004, upstream 2003, recording 3014 (3100-3101: retention), identity 4004, host 5004, prompts 6003 (retired ids are not reused).
/// </summary>
public static class KeelEventIds
{
    public const int ConfigReloadFailed = 1001;
    public const int ConfigReloaded = 1002;
    public const int ConfigWatchFailed = 1003;

    public const int UpstreamError = 2000;
    public const int UpstreamStreamBroken = 2002;

    public const int TraceQueueFull = 3000;
    public const int TraceBatchFailed = 3001;
    public const int TraceBatchDropped = 3004;
    public const int RecorderDrained = 3005;
    public const int TracesSpooled = 3006;
    public const int SpoolWriteFailed = 3007;
    public const int SpoolReplayed = 3008;
    public const int SpoolRecordTorn = 3009;
    public const int SpoolRecordUnreadable = 3010;
    public const int SpoolDeleteFailed = 3011;
    public const int SpoolProbeFailed = 3012;
    public const int TraceQueueOverflow = 3013;
    public const int RetentionDeleted = 3100;
    public const int RetentionFailed = 3101;
    public const int OtlpExportFailed = 3200;

    public const int OpenOnLoopback = 4000;
    public const int KeyRefreshFailed = 4001;
    public const int BudgetSoftLimit = 4002;
    public const int SpendSeedFailed = 4003;

    public const int Listening = 5000;
    public const int UnhandledException = 5001;

    public const int PromptReloadFailed = 6000;
    public const int PromptVersionUnservable = 6001;
    public const int PromptsLoaded = 6002;
}
