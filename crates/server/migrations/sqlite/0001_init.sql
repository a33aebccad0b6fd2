-- Raw signals. Times are nanoseconds since the Unix epoch; attributes, events and
-- resources are JSON objects.
CREATE TABLE spans (
    trace_id             TEXT    NOT NULL,
    span_id              TEXT    NOT NULL,
    parent_span_id       TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    service_name         TEXT    NOT NULL,
    kind                 INTEGER NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    end_time_unix_nano   INTEGER NOT NULL,
    status_code          INTEGER NOT NULL,
    status_message       TEXT    NOT NULL,
    attributes           TEXT    NOT NULL,
    events               TEXT    NOT NULL,
    resource             TEXT    NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE INDEX spans_by_service_time ON spans (service_name, start_time_unix_nano DESC);
CREATE INDEX spans_by_time ON spans (start_time_unix_nano DESC);

CREATE TABLE logs (
    id                   INTEGER PRIMARY KEY,
    time_unix_nano       INTEGER NOT NULL,
    service_name         TEXT    NOT NULL,
    severity_number      INTEGER NOT NULL,
    severity_text        TEXT    NOT NULL,
    body                 TEXT,
    event_name           TEXT,
    trace_id             TEXT,
    span_id              TEXT,
    attributes           TEXT    NOT NULL,
    resource             TEXT    NOT NULL
);
CREATE INDEX logs_by_time ON logs (time_unix_nano DESC);
CREATE INDEX logs_by_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX logs_by_event ON logs (event_name, time_unix_nano DESC) WHERE event_name IS NOT NULL;

CREATE TABLE metric_points (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL,
    service_name         TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    time_unix_nano       INTEGER NOT NULL,
    value                REAL,
    count                INTEGER,
    sum                  REAL,
    min                  REAL,
    max                  REAL,
    bucket_counts        TEXT,
    explicit_bounds      TEXT,
    attributes           TEXT    NOT NULL
);
CREATE INDEX metric_points_by_name_time ON metric_points (name, time_unix_nano DESC);
