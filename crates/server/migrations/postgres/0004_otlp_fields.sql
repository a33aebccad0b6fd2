-- OTLP fields of spans and logs kept since this migration. Spans: W3C trace state,
-- OTLP flags, instrumentation scope, dropped attribute/event/link counts, and links (a
-- JSON array of {trace_id, span_id, trace_state, attributes, flags,
-- dropped_attributes_count}). Logs: observed time (ns), the body's OTLP type (`body`
-- keeps its text, which search reads), W3C trace flags, scope and dropped attribute
-- count. Rows stored before read as the defaults: no links, a string body, zeros.
-- Constant defaults: PostgreSQL adds these columns without rewriting the tables.
ALTER TABLE spans
    ADD COLUMN trace_state              text   NOT NULL DEFAULT '',
    ADD COLUMN flags                    bigint NOT NULL DEFAULT 0,
    ADD COLUMN scope_name               text   NOT NULL DEFAULT '',
    ADD COLUMN scope_version            text   NOT NULL DEFAULT '',
    ADD COLUMN dropped_attributes_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN dropped_events_count     bigint NOT NULL DEFAULT 0,
    ADD COLUMN dropped_links_count      bigint NOT NULL DEFAULT 0,
    ADD COLUMN links                    jsonb  NOT NULL DEFAULT '[]';

ALTER TABLE logs
    ADD COLUMN observed_time_unix_nano  bigint NOT NULL DEFAULT 0,
    ADD COLUMN body_type                text   NOT NULL DEFAULT 'string',
    ADD COLUMN flags                    bigint NOT NULL DEFAULT 0,
    ADD COLUMN scope_name               text   NOT NULL DEFAULT '',
    ADD COLUMN scope_version            text   NOT NULL DEFAULT '',
    ADD COLUMN dropped_attributes_count bigint NOT NULL DEFAULT 0;
