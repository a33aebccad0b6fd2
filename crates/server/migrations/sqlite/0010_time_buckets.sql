-- Start times indexed by bucket (`start_time_unix_nano >> 30`, 2^30 ns, about 1.07 s)
-- instead of by the time itself, for spans and LLM calls. Real traffic arrives with its
-- times out of order (batches of several services, clients that retry, clocks that
-- differ), and an index on the exact time put each new entry at a random place among
-- the last minutes' entries: every commit rewrote about one index page per row, four
-- such indexes in all. An index entry is its key and then the row id, and row ids grow
-- in arrival order, so within one bucket new entries go to the end: a commit now writes
-- about one page per bucket its rows fall in. Listings read the newest buckets through
-- these indexes and sort each bucket (store/sql.rs, `TIME_BUCKET_SHIFT`, which must
-- stay 30 with these expressions). Only indexes change: every row stays as it is.
DROP INDEX span_rows_by_time;
DROP INDEX span_rows_by_service_time;
CREATE INDEX span_rows_by_bucket ON span_rows ((start_time_unix_nano >> 30));
CREATE INDEX span_rows_by_service_bucket ON span_rows (service_name, (start_time_unix_nano >> 30));

DROP INDEX llm_calls_by_time;
DROP INDEX llm_calls_by_session;
CREATE INDEX llm_calls_by_bucket ON llm_calls ((start_time_unix_nano >> 30));
CREATE INDEX llm_calls_by_session_bucket ON llm_calls (session_id, (start_time_unix_nano >> 30));
