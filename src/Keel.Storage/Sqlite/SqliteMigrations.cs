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
        new(2, "trace prompt and experiment", """
            ALTER TABLE traces ADD COLUMN prompt_name TEXT;
            ALTER TABLE traces ADD COLUMN prompt_version INTEGER;
            ALTER TABLE traces ADD COLUMN experiment_id TEXT;
            ALTER TABLE traces ADD COLUMN experiment_arm TEXT;
            CREATE INDEX ix_traces_experiment ON traces (experiment_id, experiment_arm) WHERE experiment_id IS NOT NULL;
            """),
        new(3, "scores", """
            CREATE TABLE scores (
                score_id      TEXT PRIMARY KEY,
                trace_id      TEXT NOT NULL,
                project_id    TEXT,
                name          TEXT NOT NULL,
                data_type     TEXT NOT NULL CHECK (data_type IN ('numeric', 'boolean', 'categorical')),
                value         REAL,               -- numeric value; 1/0 for boolean; NULL for categorical
                string_value  TEXT,               -- the category; 'true'/'false' for boolean
                comment       TEXT,
                source        TEXT NOT NULL,      -- end_user, api, evaluator, human_review
                created_at    INTEGER NOT NULL    -- unix milliseconds
            );
            CREATE INDEX ix_scores_trace ON scores (trace_id);
            CREATE INDEX ix_scores_name_created ON scores (name, created_at DESC);
            """),
        new(4, "trace dimensions and cost", """
            ALTER TABLE traces ADD COLUMN session_id TEXT;
            ALTER TABLE traces ADD COLUMN user_id TEXT;
            ALTER TABLE traces ADD COLUMN tags TEXT;                 -- JSON array of strings
            ALTER TABLE traces ADD COLUMN metadata TEXT;             -- the request's metadata object (JSON)
            ALTER TABLE traces ADD COLUMN cached_input_tokens INTEGER;
            ALTER TABLE traces ADD COLUMN cost_usd REAL;
            ALTER TABLE traces ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0;
            -- GET /api/traces reads newest first (started_at DESC, then rowid ascending, which every index
            -- entry carries) from an index on (filter, started_at DESC), like migration 1's.
            CREATE INDEX ix_traces_provider_started ON traces (provider, started_at DESC);
            CREATE INDEX ix_traces_status_started ON traces (status_code, started_at DESC);
            CREATE INDEX ix_traces_errors_started ON traces (started_at DESC) WHERE status_code >= 400;
            CREATE INDEX ix_traces_user_started ON traces (user_id, started_at DESC) WHERE user_id IS NOT NULL;
            CREATE INDEX ix_traces_session_started ON traces (session_id, started_at DESC) WHERE session_id IS NOT NULL;
            """),
    ];
}
