-- Raw signals. Times are nanoseconds since the Unix epoch (bigint, good until 2262);
-- attributes, events and resources are jsonb.
CREATE TABLE spans (
    trace_id             text    NOT NULL,
    span_id              text    NOT NULL,
    parent_span_id       text    NOT NULL,
    name                 text    NOT NULL,
    service_name         text    NOT NULL,
    kind                 integer NOT NULL,
    start_time_unix_nano bigint  NOT NULL,
    end_time_unix_nano   bigint  NOT NULL,
    status_code          integer NOT NULL,
    status_message       text    NOT NULL,
    attributes           jsonb   NOT NULL,
    events               jsonb   NOT NULL,
    resource             jsonb   NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX spans_by_service_time ON spans (service_name, start_time_unix_nano DESC);
CREATE INDEX spans_by_time ON spans (start_time_unix_nano DESC);

CREATE TABLE logs (
    id                   bigserial PRIMARY KEY,
    time_unix_nano       bigint  NOT NULL,
    service_name         text    NOT NULL,
    severity_number      integer NOT NULL,
    severity_text        text    NOT NULL,
    body                 text,
    event_name           text,
    trace_id             text,
    span_id              text,
    attributes           jsonb   NOT NULL,
    resource             jsonb   NOT NULL
);
CREATE INDEX logs_by_time ON logs (time_unix_nano DESC);
CREATE INDEX logs_by_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX logs_by_event ON logs (event_name, time_unix_nano DESC) WHERE event_name IS NOT NULL;

CREATE TABLE metric_points (
    id                   bigserial PRIMARY KEY,
    name                 text    NOT NULL,
    service_name         text    NOT NULL,
    kind                 text    NOT NULL,
    start_time_unix_nano bigint  NOT NULL,
    time_unix_nano       bigint  NOT NULL,
    value                double precision,
    count                bigint,
    sum                  double precision,
    min                  double precision,
    max                  double precision,
    bucket_counts        bigint[],
    explicit_bounds      double precision[],
    attributes           jsonb   NOT NULL
);
CREATE INDEX metric_points_by_name_time ON metric_points (name, time_unix_nano DESC);
CREATE INDEX metric_points_by_time ON metric_points (time_unix_nano);

CREATE TABLE agent_runs (
    id                   bigserial PRIMARY KEY,
    correlation_id       text    NOT NULL UNIQUE,
    agent_name           text    NOT NULL,
    status               text    NOT NULL,
    service_name         text    NOT NULL,
    trace_id             text    NOT NULL,
    start_time_unix_nano bigint  NOT NULL,
    end_time_unix_nano   bigint  NOT NULL,
    quality_score        double precision,
    error                text,
    attributes           jsonb   NOT NULL
);
CREATE INDEX agent_runs_by_time ON agent_runs (start_time_unix_nano DESC);

CREATE TABLE agent_actions (
    action_id            text    PRIMARY KEY,
    correlation_id       text    NOT NULL,
    agent_name           text    NOT NULL,
    action_type          text    NOT NULL CHECK (action_type IN ('tool_call', 'decision', 'error', 'success')),
    name                 text    NOT NULL,
    is_error             boolean NOT NULL,
    time_unix_nano       bigint  NOT NULL,
    duration_ns          bigint  NOT NULL,
    attributes           jsonb   NOT NULL
);
CREATE INDEX agent_actions_by_run ON agent_actions (correlation_id, time_unix_nano);
CREATE INDEX agent_actions_by_time ON agent_actions (time_unix_nano);

-- Rollups maintained at ingest. `hist` holds counts per latency bucket (rollup.rs).
CREATE TABLE span_rollups (
    resolution      bigint   NOT NULL,
    bucket          bigint   NOT NULL,
    service_name    text     NOT NULL,
    operation       text     NOT NULL,
    span_count      bigint   NOT NULL,
    error_count     bigint   NOT NULL,
    duration_sum_ns bigint   NOT NULL,
    hist            bigint[] NOT NULL,
    PRIMARY KEY (resolution, bucket, service_name, operation)
);

CREATE TABLE metric_rollups (
    resolution   bigint           NOT NULL,
    bucket       bigint           NOT NULL,
    name         text             NOT NULL,
    service_name text             NOT NULL,
    count        bigint           NOT NULL,
    sum          double precision NOT NULL,
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    PRIMARY KEY (resolution, bucket, name, service_name)
);

CREATE TABLE agent_rollups (
    resolution  bigint NOT NULL,
    bucket      bigint NOT NULL,
    agent_name  text   NOT NULL,
    action_type text   NOT NULL,
    count       bigint NOT NULL,
    error_count bigint NOT NULL,
    PRIMARY KEY (resolution, bucket, agent_name, action_type)
);

-- The bucket-wise sum of two histograms of any lengths.
CREATE FUNCTION hist_merge(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
    FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;
