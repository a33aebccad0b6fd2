-- Spans in arrival order. Until this migration `spans` was a WITHOUT ROWID table
-- clustered by (trace_id, span_id), with the whole resource on every row: the random ids
-- real SDKs draw scattered every insert across the whole table, and most of each row was
-- the same resource again. Now:
-- * `span_rows` is a rowid table: rows are appended in the order they arrive, whatever
--   the order of their ids and times; (trace_id, span_id) is a unique index (a retried
--   request still stores each span once), small next to the rows.
-- * `resources` holds each distinct resource (a JSON object) once; a span names its
--   resource by id.
-- * `spans` is a view with the columns of the table it replaces, so every read is
--   unchanged; writes and retention go to `span_rows`.
-- Every span stored before is copied, in start-time order.
CREATE TABLE resources (
    id   INTEGER PRIMARY KEY,
    body TEXT    NOT NULL UNIQUE
);

CREATE TABLE span_rows (
    id                       INTEGER PRIMARY KEY,
    trace_id                 TEXT    NOT NULL,
    span_id                  TEXT    NOT NULL,
    parent_span_id           TEXT    NOT NULL,
    name                     TEXT    NOT NULL,
    service_name             TEXT    NOT NULL,
    kind                     INTEGER NOT NULL,
    start_time_unix_nano     INTEGER NOT NULL,
    end_time_unix_nano       INTEGER NOT NULL,
    status_code              INTEGER NOT NULL,
    status_message           TEXT    NOT NULL,
    attributes               TEXT    NOT NULL,
    events                   TEXT    NOT NULL,
    resource_id              INTEGER NOT NULL REFERENCES resources (id),
    trace_state              TEXT    NOT NULL DEFAULT '',
    flags                    INTEGER NOT NULL DEFAULT 0,
    scope_name               TEXT    NOT NULL DEFAULT '',
    scope_version            TEXT    NOT NULL DEFAULT '',
    dropped_attributes_count INTEGER NOT NULL DEFAULT 0,
    dropped_events_count     INTEGER NOT NULL DEFAULT 0,
    dropped_links_count      INTEGER NOT NULL DEFAULT 0,
    links                    TEXT    NOT NULL DEFAULT '[]'
);

INSERT OR IGNORE INTO resources (body) SELECT resource FROM spans ORDER BY start_time_unix_nano;
INSERT INTO span_rows (trace_id, span_id, parent_span_id, name, service_name, kind,
        start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes, events,
        resource_id, trace_state, flags, scope_name, scope_version, dropped_attributes_count,
        dropped_events_count, dropped_links_count, links)
    SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.service_name, s.kind,
        s.start_time_unix_nano, s.end_time_unix_nano, s.status_code, s.status_message, s.attributes,
        s.events, r.id, s.trace_state, s.flags, s.scope_name, s.scope_version,
        s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count, s.links
    FROM spans s JOIN resources r ON r.body = s.resource
    ORDER BY s.start_time_unix_nano, s.trace_id, s.span_id;
DROP TABLE spans;

CREATE UNIQUE INDEX span_rows_by_id ON span_rows (trace_id, span_id);
CREATE INDEX span_rows_by_service_time ON span_rows (service_name, start_time_unix_nano DESC);
CREATE INDEX span_rows_by_time ON span_rows (start_time_unix_nano DESC);
-- Retention deletes the resources no span names any more.
CREATE INDEX span_rows_by_resource ON span_rows (resource_id);

-- The resource as a scalar subquery on its primary key: a query that reads no resource
-- (counts, bounds, the trace listing's subqueries) never looks it up.
CREATE VIEW spans AS
    SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.service_name, s.kind,
        s.start_time_unix_nano, s.end_time_unix_nano, s.status_code, s.status_message, s.attributes,
        s.events, COALESCE((SELECT r.body FROM resources r WHERE r.id = s.resource_id), '{}') AS resource,
        s.trace_state, s.flags, s.scope_name, s.scope_version, s.dropped_attributes_count,
        s.dropped_events_count, s.dropped_links_count, s.links
    FROM span_rows s;
