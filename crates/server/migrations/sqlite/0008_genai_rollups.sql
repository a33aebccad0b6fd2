-- GenAI usage rollups, maintained at ingest: LLM calls per minute and per hour (bucket
-- starts in ns), once under each dimension (`model`, `provider`, `agent`, `session`,
-- `user`) with its key (empty when the call has none). `cost_usd` is the cost of the
-- priced calls, `unpriced_calls` the calls without one; `hist` is the latency histogram
-- as in span_rollups (little-endian u64 counts per bucket, see rollup.rs).
CREATE TABLE genai_rollups (
    resolution         INTEGER NOT NULL,
    bucket             INTEGER NOT NULL,
    dimension          TEXT    NOT NULL,
    key                TEXT    NOT NULL,
    calls              INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens   INTEGER NOT NULL,
    cost_usd           REAL    NOT NULL,
    unpriced_calls     INTEGER NOT NULL,
    duration_sum_ns    INTEGER NOT NULL,
    hist               BLOB    NOT NULL,
    PRIMARY KEY (resolution, bucket, dimension, key)
) WITHOUT ROWID;
