-- OTLP fields of spans and logs kept since this migration. Spans: W3C trace state,
-- OTLP flags, instrumentation scope, dropped attribute/event/link counts, and links (a
-- JSON array of {trace_id, span_id, trace_state, attributes, flags,
-- dropped_attributes_count}). Logs: observed time (ns), the body's OTLP type (`body`
-- keeps its text, which search reads), W3C trace flags, scope and dropped attribute
-- count. Rows stored before read as the defaults: no links, a string body, zeros.
ALTER TABLE spans ADD COLUMN trace_state TEXT NOT NULL DEFAULT '';
ALTER TABLE spans ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spans ADD COLUMN scope_name TEXT NOT NULL DEFAULT '';
ALTER TABLE spans ADD COLUMN scope_version TEXT NOT NULL DEFAULT '';
ALTER TABLE spans ADD COLUMN dropped_attributes_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spans ADD COLUMN dropped_events_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spans ADD COLUMN dropped_links_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spans ADD COLUMN links TEXT NOT NULL DEFAULT '[]';

ALTER TABLE logs ADD COLUMN observed_time_unix_nano INTEGER NOT NULL DEFAULT 0;
ALTER TABLE logs ADD COLUMN body_type TEXT NOT NULL DEFAULT 'string';
ALTER TABLE logs ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE logs ADD COLUMN scope_name TEXT NOT NULL DEFAULT '';
ALTER TABLE logs ADD COLUMN scope_version TEXT NOT NULL DEFAULT '';
ALTER TABLE logs ADD COLUMN dropped_attributes_count INTEGER NOT NULL DEFAULT 0;
