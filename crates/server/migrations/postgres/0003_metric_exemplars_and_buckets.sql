-- Exemplars of a metric point, NULL for none.
ALTER TABLE metric_points ADD COLUMN exemplars jsonb;
CREATE INDEX metric_points_with_exemplars ON metric_points (name, time_unix_nano)
    WHERE exemplars IS NOT NULL;
-- Histogram bucket counts of a metric rollup row, by upper bound, NULL for none.
ALTER TABLE metric_rollups ADD COLUMN buckets jsonb;
-- The bucket-wise sum of two rollup bucket objects (NULL is none).
CREATE FUNCTION automagik_bucket_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN a IS NULL THEN b
        WHEN b IS NULL THEN a
        ELSE (SELECT jsonb_object_agg(k, COALESCE((a ->> k)::numeric, 0) + COALESCE((b ->> k)::numeric, 0))
                FROM (SELECT jsonb_object_keys(a) UNION SELECT jsonb_object_keys(b)) AS keys(k))
    END
$$;
