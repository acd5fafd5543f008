-- +goose Up
-- Proof-of-play queries by asset (what an advertiser asks) and by store, in the same order as the paging, so a
-- page is an index range rather than a scan of the tenant's history.
CREATE INDEX play_events_by_asset ON play_events (tenant_id, asset_id, started_at, device_id, seq);
CREATE INDEX play_events_by_store ON play_events (tenant_id, store_id, started_at, device_id, seq);

-- +goose Down
DROP INDEX play_events_by_store;
DROP INDEX play_events_by_asset;
