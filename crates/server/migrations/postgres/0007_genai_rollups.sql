-- GenAI usage rollups, maintained at ingest: LLM calls per minute and per hour (bucket
-- starts in ns), once under each dimension (`model`, `provider`, `agent`, `session`,
-- `user`) with its key (empty when the call has none). `cost_usd` is the cost of the
-- priced calls, `unpriced_calls` the calls without one; `hist` is the latency histogram
-- as in span_rollups (counts per bucket, merged by hist_merge, see rollup.rs).
CREATE TABLE genai_rollups (
    resolution         bigint           NOT NULL,
    bucket             bigint           NOT NULL,
    dimension          text             NOT NULL,
    key                text             NOT NULL,
    calls              bigint           NOT NULL,
    errors             bigint           NOT NULL,
    input_tokens       bigint           NOT NULL,
    output_tokens      bigint           NOT NULL,
    cache_read_tokens  bigint           NOT NULL,
    cache_write_tokens bigint           NOT NULL,
    reasoning_tokens   bigint           NOT NULL,
    cost_usd           double precision NOT NULL,
    unpriced_calls     bigint           NOT NULL,
    duration_sum_ns    bigint           NOT NULL,
    hist               bigint[]         NOT NULL,
    PRIMARY KEY (resolution, bucket, dimension, key)
);
