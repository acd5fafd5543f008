-- +goose Up
-- The current override of each zone (volume, mute window), and the audit trail of every change. The current row
-- goes with its zone; the trail outlives it (who muted what, and when, is asked after the fact).
CREATE TABLE zone_overrides (
    zone_id     uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    store_id    uuid NOT NULL,
    volume_pct  smallint NOT NULL CHECK (volume_pct BETWEEN 0 AND 100),
    mute_from   timestamptz,
    mute_until  timestamptz,
    cleared     boolean NOT NULL,
    hlc_wall_ms bigint NOT NULL,
    hlc_logical bigint NOT NULL,
    set_by      uuid,
    set_by_name text NOT NULL,
    set_at      timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, store_id, zone_id) REFERENCES zones (tenant_id, store_id, id) ON DELETE CASCADE,
    CHECK ((mute_from IS NULL) = (mute_until IS NULL) AND (mute_from IS NULL OR mute_from < mute_until))
);
CREATE INDEX zone_overrides_store ON zone_overrides (tenant_id, store_id, zone_id);

CREATE TABLE zone_override_log (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    zone_id     uuid NOT NULL,
    store_id    uuid NOT NULL,
    volume_pct  smallint NOT NULL,
    mute_from   timestamptz,
    mute_until  timestamptz,
    cleared     boolean NOT NULL,
    hlc_wall_ms bigint NOT NULL,
    hlc_logical bigint NOT NULL,
    set_by      uuid,
    set_by_name text NOT NULL,
    set_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, zone_id, hlc_wall_ms, hlc_logical)
);

-- +goose Down
DROP TABLE zone_override_log, zone_overrides;
