namespace Keel.Storage.Sqlite;

/// <summary>
/// Schema versions, applied by set (see SqliteStore.MigrateAsync). Ranges by area so work in parallel
/// never collides: 1-9 traces and observability, 10-19 prompts, 20-29 access control (projects, keys,
/// limits, audit), 30-39 guardrails.
/// </summary>
internal static class SqliteMigrations
{
    public static readonly IReadOnlyList<Migration> All =
    [
        new(1, "traces", """
            CREATE TABLE traces (
                trace_id        TEXT PRIMARY KEY,
                started_at      INTEGER NOT NULL,   -- unix milliseconds
                operation       TEXT NOT NULL,
                project_id      TEXT,
                key_id          TEXT,
                model           TEXT,
                provider        TEXT,
                upstream_model  TEXT,
                stream          INTEGER NOT NULL,
                status_code     INTEGER NOT NULL,
                error_code      TEXT,
                error_message   TEXT,
                request_body    TEXT,
                response_body   TEXT,
                latency_ms      REAL NOT NULL,
                ttft_ms         REAL,
                input_tokens    INTEGER,
                output_tokens   INTEGER,
                spans           TEXT                -- JSON array of the gateway's spans (SpanJson)
            );
            CREATE INDEX ix_traces_started ON traces (started_at DESC);
            CREATE INDEX ix_traces_model_started ON traces (model, started_at DESC);
            """),
    ];
}
