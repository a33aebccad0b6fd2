-- Exemplars of a metric point (JSON array text), NULL for none.
ALTER TABLE metric_points ADD COLUMN exemplars TEXT;
CREATE INDEX metric_points_with_exemplars ON metric_points (name, time_unix_nano)
    WHERE exemplars IS NOT NULL;
-- Histogram bucket counts of a metric rollup row, by upper bound (JSON object text,
-- merged by the server's bucket_merge function), NULL for none.
ALTER TABLE metric_rollups ADD COLUMN buckets TEXT;
