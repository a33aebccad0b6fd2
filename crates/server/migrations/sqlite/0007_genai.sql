-- GenAI telemetry. Runs gain their place in a trace (span and parent span, hex; empty
-- for a run not read from a span), their session and their user (empty when none).
ALTER TABLE agent_runs ADD COLUMN span_id TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_runs ADD COLUMN parent_span_id TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_runs ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_runs ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
CREATE INDEX agent_runs_by_session ON agent_runs (session_id, start_time_unix_nano DESC);
CREATE INDEX agent_runs_by_trace ON agent_runs (trace_id);

-- LLM calls: one row per span whose operation is a model call (see rows.rs). Token
-- counts, cost and time to first token are NULL when unknown (an unpriced model has no
-- cost, never a cost of zero); finish reasons are a JSON array.
CREATE TABLE llm_calls (
    trace_id               TEXT    NOT NULL,
    span_id                TEXT    NOT NULL,
    parent_span_id         TEXT    NOT NULL,
    correlation_id         TEXT    NOT NULL,
    agent_name             TEXT    NOT NULL,
    service_name           TEXT    NOT NULL,
    operation              TEXT    NOT NULL,
    provider               TEXT    NOT NULL,
    request_model          TEXT    NOT NULL,
    response_model         TEXT    NOT NULL,
    input_tokens           INTEGER,
    output_tokens          INTEGER,
    cache_read_tokens      INTEGER,
    cache_write_tokens     INTEGER,
    reasoning_tokens       INTEGER,
    cost_usd               REAL,
    start_time_unix_nano   INTEGER NOT NULL,
    duration_ns            INTEGER NOT NULL,
    time_to_first_token_ns INTEGER,
    finish_reasons         TEXT    NOT NULL,
    is_error               INTEGER NOT NULL,
    session_id             TEXT    NOT NULL,
    user_id                TEXT    NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX llm_calls_by_time ON llm_calls (start_time_unix_nano DESC);
CREATE INDEX llm_calls_by_session ON llm_calls (session_id, start_time_unix_nano DESC);
CREATE INDEX llm_calls_by_user ON llm_calls (user_id);

-- Scores: judgements of a trace, span, run or session. Storing a score id again
-- replaces the row. Kept as long as rollups.
CREATE TABLE scores (
    score_id       TEXT    PRIMARY KEY,
    target_kind    TEXT    NOT NULL,
    target_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    data_type      TEXT    NOT NULL,
    value          REAL,
    string_value   TEXT,
    comment        TEXT,
    source         TEXT    NOT NULL,
    time_unix_nano INTEGER NOT NULL
);
CREATE INDEX scores_by_target ON scores (target_kind, target_id, time_unix_nano DESC);
CREATE INDEX scores_by_time ON scores (time_unix_nano);
