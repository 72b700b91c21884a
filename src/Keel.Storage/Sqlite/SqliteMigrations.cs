namespace Keel.Storage.Sqlite;

/// <summary>
/// Schema versions, applied by set (see SqliteStore.MigrateAsync). Ranges by area so work in parallel
/// never collides: 1-9 traces and observability, 10-19 prompts, 20-29 access control (projects, keys,
/// limits, audit), 30-39 guardrails.
/// </summary>
internal static partial class SqliteMigrations
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
        new(20, "projects, keys, audit", """
            CREATE TABLE projects (
                project_id  TEXT PRIMARY KEY,
                name        TEXT NOT NULL UNIQUE,
                created_at  INTEGER NOT NULL,
                limits      TEXT                  -- JSON LimitSettings
            );
            INSERT INTO projects (project_id, name, created_at) VALUES ('default', 'default', CAST(strftime('%s','now') AS INTEGER) * 1000);
            CREATE TABLE api_keys (
                key_id      TEXT PRIMARY KEY,
                name        TEXT NOT NULL,
                role        TEXT NOT NULL,
                project_id  TEXT REFERENCES projects (project_id),
                prefix      TEXT NOT NULL UNIQUE, -- public: sk-keel-XXXXXXXX
                hash        BLOB NOT NULL,        -- SHA-256 of the whole key; the key itself is never stored
                created_at  INTEGER NOT NULL,
                created_by  TEXT,
                expires_at  INTEGER,
                revoked_at  INTEGER,
                limits      TEXT
            );
            CREATE INDEX ix_api_keys_project ON api_keys (project_id);
            CREATE TABLE audit_log (
                audit_id    INTEGER PRIMARY KEY AUTOINCREMENT,
                at          INTEGER NOT NULL,
                actor       TEXT NOT NULL,
                actor_role  TEXT NOT NULL,
                project_id  TEXT,
                action      TEXT NOT NULL,
                target_type TEXT NOT NULL,
                target_id   TEXT NOT NULL,
                before_json TEXT,
                after_json  TEXT
            );
            CREATE INDEX ix_audit_project ON audit_log (project_id, audit_id DESC);
            """),
        .. PromptMigrations,
    ];
}
