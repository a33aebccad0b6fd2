-- Exemplars of a metric point, NULL for none.
ALTER TABLE metric_points ADD COLUMN exemplars jsonb;
CREATE INDEX metric_points_with_exemplars ON metric_points (name, time_unix_nano)
    WHERE exemplars IS NOT NULL;
