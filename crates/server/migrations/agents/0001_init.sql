-- Agent telemetry consumed from Kafka (`automagik-telemetry consume`): one row per run,
-- its actions, routing decisions and manifest injections, all joined by correlation id,
-- and the event ids already applied (redelivered messages change nothing).
CREATE TABLE agent_execution_logs (
    correlation_id        uuid PRIMARY KEY,
    agent_name            text NOT NULL,
    user_prompt           text,
    parent_correlation_id uuid,
    status                text NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'completed', 'failed')),
    stage                 text,
    progress_percent      double precision CHECK (progress_percent BETWEEN 0 AND 100),
    progress_at           timestamptz,
    quality_score         double precision CHECK (quality_score BETWEEN 0 AND 1),
    error                 text,
    duration_ms           double precision CHECK (duration_ms >= 0),
    started_at            timestamptz,
    ended_at              timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Fields of the envelopes this version does not know.
    extra                 jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX agent_execution_logs_by_agent ON agent_execution_logs (agent_name, started_at DESC);

CREATE TABLE agent_actions (
    action_id      uuid PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    correlation_id uuid NOT NULL REFERENCES agent_execution_logs (correlation_id),
    agent_name     text NOT NULL,
    action_type    text NOT NULL CHECK (action_type IN ('tool_call', 'decision', 'error', 'success')),
    -- The tool, the choice or the message.
    name           text NOT NULL,
    is_error       boolean NOT NULL,
    payload        jsonb NOT NULL,
    duration_ms    double precision CHECK (duration_ms >= 0),
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX agent_actions_by_run ON agent_actions (correlation_id, occurred_at);

CREATE TABLE agent_routing_decisions (
    event_id       uuid PRIMARY KEY,
    correlation_id uuid NOT NULL REFERENCES agent_execution_logs (correlation_id),
    agent_name     text NOT NULL,
    selected_agent text NOT NULL,
    candidates     jsonb NOT NULL,
    confidence     double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    reason         text NOT NULL,
    payload        jsonb NOT NULL,
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX agent_routing_decisions_by_run ON agent_routing_decisions (correlation_id);

CREATE TABLE agent_manifest_injections (
    event_id       uuid PRIMARY KEY,
    correlation_id uuid NOT NULL REFERENCES agent_execution_logs (correlation_id),
    agent_name     text NOT NULL,
    manifest_id    text NOT NULL,
    sections       jsonb NOT NULL,
    size_bytes     bigint NOT NULL CHECK (size_bytes >= 0),
    payload        jsonb NOT NULL,
    occurred_at    timestamptz NOT NULL
);
CREATE INDEX agent_manifest_injections_by_run ON agent_manifest_injections (correlation_id);

-- Every applied envelope, so a redelivered one is skipped.
CREATE TABLE agent_consumed_events (
    event_id    uuid PRIMARY KEY,
    event_type  text NOT NULL,
    topic       text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now()
);
