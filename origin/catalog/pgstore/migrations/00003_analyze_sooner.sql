-- +goose Up
-- Autovacuum analyzes a table after 10% of it changed by default; the catalog's read plans depend on fresh
-- statistics for records (see pgstore afterBulk), so ask for it after 2%.
ALTER TABLE records SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE play_events SET (autovacuum_analyze_scale_factor = 0.02);

-- +goose Down
ALTER TABLE play_events RESET (autovacuum_analyze_scale_factor);
ALTER TABLE records RESET (autovacuum_analyze_scale_factor);
