-- GenAI telemetry. Runs gain their place in a trace (span and parent span, hex; empty
-- for a run not read from a span), their session and their user (empty when none).
-- Constant defaults: PostgreSQL adds these columns without rewriting the table.
ALTER TABLE agent_runs
    ADD COLUMN span_id        text NOT NULL DEFAULT '',
    ADD COLUMN parent_span_id text NOT NULL DEFAULT '',
    ADD COLUMN session_id     text NOT NULL DEFAULT '',
    ADD COLUMN user_id        text NOT NULL DEFAULT '';
CREATE INDEX agent_runs_by_session ON agent_runs (session_id, start_time_unix_nano DESC);
CREATE INDEX agent_runs_by_trace ON agent_runs (trace_id);

-- LLM calls: one row per span whose operation is a model call (see rows.rs). Token
-- counts, cost and time to first token are NULL when unknown (an unpriced model has no
-- cost, never a cost of zero); finish reasons are a JSON array.
CREATE TABLE llm_calls (
    trace_id               text             NOT NULL,
    span_id                text             NOT NULL,
    parent_span_id         text             NOT NULL,
    correlation_id         text             NOT NULL,
    agent_name             text             NOT NULL,
    service_name           text             NOT NULL,
    operation              text             NOT NULL,
    provider               text             NOT NULL,
    request_model          text             NOT NULL,
    response_model         text             NOT NULL,
    input_tokens           bigint,
    output_tokens          bigint,
    cache_read_tokens      bigint,
    cache_write_tokens     bigint,
    reasoning_tokens       bigint,
    cost_usd               double precision,
    start_time_unix_nano   bigint           NOT NULL,
    duration_ns            bigint           NOT NULL,
    time_to_first_token_ns bigint,
    finish_reasons         jsonb            NOT NULL,
    is_error               boolean          NOT NULL,
    session_id             text             NOT NULL,
    user_id                text             NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX llm_calls_by_time ON llm_calls (start_time_unix_nano DESC);
CREATE INDEX llm_calls_by_session ON llm_calls (session_id, start_time_unix_nano DESC);
CREATE INDEX llm_calls_by_user ON llm_calls (user_id);

-- Scores: judgements of a trace, span, run or session. Storing a score id again
-- replaces the row. Kept as long as rollups.
CREATE TABLE scores (
    score_id       text             PRIMARY KEY,
    target_kind    text             NOT NULL,
    target_id      text             NOT NULL,
    name           text             NOT NULL,
    data_type      text             NOT NULL,
    value          double precision,
    string_value   text,
    comment        text,
    source         text             NOT NULL,
    time_unix_nano bigint           NOT NULL
);
CREATE INDEX scores_by_target ON scores (target_kind, target_id, time_unix_nano DESC);
CREATE INDEX scores_by_time ON scores (time_unix_nano);
