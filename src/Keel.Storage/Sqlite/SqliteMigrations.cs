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
        new(7, "application spans (OTLP ingest)", """
            CREATE TABLE app_spans (
                trace_id        TEXT NOT NULL,
                span_id         TEXT NOT NULL,
                project_id      TEXT NOT NULL,
                parent_span_id  TEXT,
                name            TEXT NOT NULL,
                start_ns        INTEGER NOT NULL,   -- unix nanoseconds, as OTLP sends them
                end_ns          INTEGER NOT NULL,
                is_error        INTEGER NOT NULL,
                status_message  TEXT,
                attributes      TEXT NOT NULL,      -- JSON object
                service_name    TEXT,
                PRIMARY KEY (trace_id, span_id)
            );
            """),
        new(8, "compressed trace bodies", """
            -- Which of request_body (1), response_body (2) and spans (4) are Brotli-compressed
            -- (Keel.Storage.Sqlite.StoredPayload). Rows written before this read as they always did.
            ALTER TABLE traces ADD COLUMN body_codec INTEGER NOT NULL DEFAULT 0;
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
        new(21, "project retention", """
            ALTER TABLE projects ADD COLUMN retention_days INTEGER;
            """),
        .. PromptMigrations,
        new(4, "trace dimensions and cost", """
            ALTER TABLE traces ADD COLUMN session_id TEXT;
            ALTER TABLE traces ADD COLUMN user_id TEXT;
            ALTER TABLE traces ADD COLUMN tags TEXT;                 -- JSON array of strings
            ALTER TABLE traces ADD COLUMN metadata TEXT;             -- the request's metadata object (JSON)
            ALTER TABLE traces ADD COLUMN cached_input_tokens INTEGER;
            ALTER TABLE traces ADD COLUMN cost_usd REAL;
            ALTER TABLE traces ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0;
            -- GET /api/traces reads newest first, (started_at, rowid) descending, by walking an index
            -- on (filter, started_at) backwards: every index entry ends with the rowid, so the order
            -- and the cursor's tie-breaker come from the index. Migration 1's DESC indexes put the
            -- rowid the other way within a millisecond; they are rebuilt ascending.
            DROP INDEX ix_traces_started;
            DROP INDEX ix_traces_model_started;
            CREATE INDEX ix_traces_model_started ON traces (model, started_at);
            CREATE INDEX ix_traces_provider_started ON traces (provider, started_at);
            CREATE INDEX ix_traces_user_started ON traces (user_id, started_at) WHERE user_id IS NOT NULL;
            CREATE INDEX ix_traces_session_started ON traces (session_id, started_at) WHERE session_id IS NOT NULL;
            -- Status codes below 400 are most traces and need no index of their own; errors have one.
            CREATE INDEX ix_traces_errors_started ON traces (started_at) WHERE status_code >= 400;
            -- The time index carries latency, cost and status, so a narrow range (slow calls, dear
            -- calls) is checked on small index entries instead of wide rows; an index led by latency
            -- or cost would cost every write a random insert.
            CREATE INDEX ix_traces_started ON traces (started_at, latency_ms, cost_usd, status_code);
            """),
        new(5, "trace tags", """
            -- One row per (tag, trace), written with the trace (SqliteStore.WriteBatchAsync); the
            -- triggers drop the rows of a trace rewritten or deleted, whoever deletes it.
            CREATE TABLE trace_tags (
                tag          TEXT NOT NULL,
                started_at   INTEGER NOT NULL,
                trace_rowid  INTEGER NOT NULL,
                PRIMARY KEY (tag, started_at, trace_rowid)
            ) WITHOUT ROWID;
            CREATE TRIGGER traces_tags_update AFTER UPDATE OF tags, started_at ON traces WHEN old.tags IS NOT NULL BEGIN
                DELETE FROM trace_tags WHERE tag IN (SELECT value FROM json_each(old.tags)) AND started_at = old.started_at AND trace_rowid = old.rowid;
            END;
            CREATE TRIGGER traces_tags_delete AFTER DELETE ON traces WHEN old.tags IS NOT NULL BEGIN
                DELETE FROM trace_tags WHERE tag IN (SELECT value FROM json_each(old.tags)) AND started_at = old.started_at AND trace_rowid = old.rowid;
            END;
            """),
        new(6, "trace text search", """
            -- Full-text index of what was asked and answered (Keel.Core.Recording.SearchText), written
            -- with the trace under the trace's rowid, which SqliteStore makes time-ordered
            -- (started_at_ms * 4096 + n): a search walks the index newest first and stops at a page.
            -- Contentless (the text is in the bodies) and detail=none (a search is words, all
            -- required: no phrases, no columns), which keeps it small and cheap to write. Traces
            -- recorded before this migration are not in it.
            CREATE VIRTUAL TABLE traces_fts USING fts5(text, content='', contentless_delete=1, detail=none, tokenize='unicode61 remove_diacritics 2');
            CREATE TRIGGER traces_fts_update AFTER UPDATE OF request_body, response_body ON traces BEGIN
                DELETE FROM traces_fts WHERE rowid = old.rowid;
            END;
            CREATE TRIGGER traces_fts_delete AFTER DELETE ON traces BEGIN
                DELETE FROM traces_fts WHERE rowid = old.rowid;
            END;
            """),
    ];
}
