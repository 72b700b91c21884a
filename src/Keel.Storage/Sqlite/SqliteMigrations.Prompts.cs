namespace Keel.Storage.Sqlite;

/// <summary>The prompt registry's tables (versions 10-19).</summary>
internal static partial class SqliteMigrations
{
    // A property, not a field: static fields of a partial class initialise in an unspecified file order.
    private static Migration[] PromptMigrations =>
    [
        new(10, "prompts", """
            CREATE TABLE prompt_versions (
                project_id      TEXT NOT NULL DEFAULT 'default',
                name            TEXT NOT NULL,
                version         INTEGER NOT NULL,
                type            TEXT NOT NULL CHECK (type IN ('text', 'chat')),
                template        TEXT,               -- text prompts
                messages        TEXT,               -- chat prompts: JSON array of {role, content}
                model           TEXT,
                params          TEXT,               -- JSON object, keys sorted
                content_hash    TEXT NOT NULL,
                message         TEXT,               -- the commit message
                author          TEXT,
                created_at      INTEGER NOT NULL,   -- unix milliseconds
                PRIMARY KEY (project_id, name, version)
            );
            CREATE TABLE prompt_labels (
                project_id      TEXT NOT NULL DEFAULT 'default',
                name            TEXT NOT NULL,
                label           TEXT NOT NULL,
                version         INTEGER NOT NULL,
                updated_at      INTEGER NOT NULL,
                PRIMARY KEY (project_id, name, label)
            );
            CREATE TABLE prompt_label_history (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                project_id      TEXT NOT NULL DEFAULT 'default',
                name            TEXT NOT NULL,
                label           TEXT NOT NULL,
                from_version    INTEGER,
                to_version      INTEGER,
                action          TEXT NOT NULL,      -- push, promote, rollback, remove
                actor           TEXT,
                created_at      INTEGER NOT NULL
            );
            CREATE INDEX ix_prompt_label_history ON prompt_label_history (project_id, name, label, id);
            CREATE TABLE prompt_experiments (
                experiment_id   TEXT PRIMARY KEY,
                project_id      TEXT NOT NULL DEFAULT 'default',
                name            TEXT NOT NULL,
                prompt_name     TEXT NOT NULL,
                label           TEXT NOT NULL,
                arms            TEXT NOT NULL,      -- JSON array of {name, version, weight}
                primary_score   TEXT,
                status          TEXT NOT NULL CHECK (status IN ('running', 'stopped')),
                created_at      INTEGER NOT NULL,
                stopped_at      INTEGER
            );
            CREATE UNIQUE INDEX ux_prompt_experiments_running ON prompt_experiments (project_id, prompt_name, label) WHERE status = 'running';
            -- Grows with every write that changes what the gateway serves; replicas poll it to reload.
            CREATE TABLE prompt_revisions (
                project_id      TEXT NOT NULL DEFAULT 'default' PRIMARY KEY,
                revision        INTEGER NOT NULL
            );
            """),
    ];
}
