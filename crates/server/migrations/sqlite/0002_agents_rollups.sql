-- Agent runs and actions found among spans and events, and rollups maintained at
-- ingest. Bucket starts are nanoseconds since the epoch; histograms are little-endian
-- u64 counts per latency bucket (see rollup.rs).
CREATE TABLE agent_runs (
    id                   INTEGER PRIMARY KEY,
    correlation_id       TEXT    NOT NULL UNIQUE,
    agent_name           TEXT    NOT NULL,
    status               TEXT    NOT NULL,
    service_name         TEXT    NOT NULL,
    trace_id             TEXT    NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    end_time_unix_nano   INTEGER NOT NULL,
    quality_score        REAL,
    error                TEXT,
    attributes           TEXT    NOT NULL
);
CREATE INDEX agent_runs_by_time ON agent_runs (start_time_unix_nano DESC);

CREATE TABLE agent_actions (
    action_id            TEXT    PRIMARY KEY,
    correlation_id       TEXT    NOT NULL,
    agent_name           TEXT    NOT NULL,
    action_type          TEXT    NOT NULL CHECK (action_type IN ('tool_call', 'decision', 'error', 'success')),
    name                 TEXT    NOT NULL,
    is_error             INTEGER NOT NULL,
    time_unix_nano       INTEGER NOT NULL,
    duration_ns          INTEGER NOT NULL,
    attributes           TEXT    NOT NULL
);
CREATE INDEX agent_actions_by_run ON agent_actions (correlation_id, time_unix_nano);
CREATE INDEX agent_actions_by_time ON agent_actions (time_unix_nano);

CREATE TABLE span_rollups (
    resolution      INTEGER NOT NULL,
    bucket          INTEGER NOT NULL,
    service_name    TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    span_count      INTEGER NOT NULL,
    error_count     INTEGER NOT NULL,
    duration_sum_ns INTEGER NOT NULL,
    hist            BLOB    NOT NULL,
    PRIMARY KEY (resolution, bucket, service_name, operation)
) WITHOUT ROWID;

CREATE TABLE metric_rollups (
    resolution   INTEGER NOT NULL,
    bucket       INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    service_name TEXT    NOT NULL,
    count        INTEGER NOT NULL,
    sum          REAL    NOT NULL,
    min          REAL    NOT NULL,
    max          REAL    NOT NULL,
    PRIMARY KEY (resolution, bucket, name, service_name)
) WITHOUT ROWID;

CREATE TABLE agent_rollups (
    resolution  INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    agent_name  TEXT    NOT NULL,
    action_type TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    PRIMARY KEY (resolution, bucket, agent_name, action_type)
) WITHOUT ROWID;

CREATE INDEX metric_points_by_time ON metric_points (time_unix_nano);
