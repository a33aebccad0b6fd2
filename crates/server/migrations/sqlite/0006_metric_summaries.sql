-- Quantiles of a summary point: JSON array text of [quantile, value] pairs, NULL for
-- any other kind.
ALTER TABLE metric_points ADD COLUMN quantiles TEXT;
