-- Quantiles of a summary point: a JSON array of [quantile, value] pairs, NULL for any
-- other kind.
ALTER TABLE metric_points ADD COLUMN quantiles jsonb;
