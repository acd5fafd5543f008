-- +goose Up
-- Every table carries tenant_id; parents are unique on (tenant_id, id) so foreign keys also keep rows of one
-- tenant from pointing at another's.

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    -- the tenant's catalog revision: the last one a committed transaction took (0 before any record).
    revision   bigint NOT NULL DEFAULT 0
);

-- The state hash of the live records of each scope ('' = tenant-wide, else a store id), maintained in the
-- transaction that writes the records.
CREATE TABLE scope_hashes (
    tenant_id uuid  NOT NULL REFERENCES tenants (id),
    scope     text  NOT NULL,
    hash      bytea NOT NULL,
    PRIMARY KEY (tenant_id, scope)
);

-- Signed records, the latest per key (tombstones kept, so deltas can carry deletions).
CREATE TABLE records (
    tenant_id uuid    NOT NULL REFERENCES tenants (id),
    key       text    NOT NULL,
    scope     text    NOT NULL,
    rev       bigint  NOT NULL,
    deleted   boolean NOT NULL,
    body      bytea   NOT NULL,
    sig       bytea   NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
-- The change log: "records since R" is a range scan of this index.
CREATE INDEX records_by_rev ON records (tenant_id, rev, key);

CREATE TABLE stores (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    name         text NOT NULL,
    time_zone    text NOT NULL,
    mesh_key     bytea NOT NULL,
    key_epoch    bigint NOT NULL,
    mesh_id      text NOT NULL UNIQUE,
    target_lufs  double precision NOT NULL,
    crossfade_ms integer NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE zones (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    store_id   uuid NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, store_id, id),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE admin_tokens (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    name       text NOT NULL,
    role       text NOT NULL CHECK (role IN ('director', 'manager')),
    store_id   uuid,
    hash       bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE devices (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    store_id            uuid NOT NULL,
    zone_id             uuid NOT NULL,
    name                text NOT NULL,
    public_key          bytea NOT NULL,
    peer_id             text NOT NULL,
    credential_hash     bytea NOT NULL UNIQUE,
    enrolled_at         timestamptz NOT NULL,
    revoked_at          timestamptz,
    last_sync_at        timestamptz,
    app_version         text NOT NULL DEFAULT '',
    cached_assets_count integer NOT NULL DEFAULT 0,
    cached_bytes        bigint NOT NULL DEFAULT 0,
    acked_revision      bigint NOT NULL DEFAULT 0,
    status              bytea,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, peer_id),
    FOREIGN KEY (tenant_id, store_id, zone_id) REFERENCES zones (tenant_id, store_id, id)
);

CREATE TABLE enrollment_tokens (
    hash       bytea PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    store_id   uuid NOT NULL,
    zone_id    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_by    uuid,
    used_at    timestamptz,
    FOREIGN KEY (tenant_id, store_id, zone_id) REFERENCES zones (tenant_id, store_id, id)
);
CREATE INDEX enrollment_tokens_by_store ON enrollment_tokens (tenant_id, store_id);

CREATE TABLE assets (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    kind               text NOT NULL CHECK (kind IN ('music', 'spot', 'jingle')),
    title              text NOT NULL,
    artist             text NOT NULL,
    isrc               text NOT NULL,
    sha256             text NOT NULL,
    md5                text NOT NULL,
    size               bigint NOT NULL,
    duration_ms        bigint NOT NULL,
    codec              text NOT NULL,
    loudness_lufs      double precision NOT NULL,
    cue_in_ms          bigint NOT NULL,
    cue_out_ms         bigint NOT NULL,
    valid_from         timestamptz,
    valid_until        timestamptz,
    emergency_eligible boolean NOT NULL,
    state              text NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    master_key         text NOT NULL,
    rendition_sha256   text NOT NULL,
    rendition_size     bigint NOT NULL,
    fail_reason        text NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from)
);

-- asset_ids is ordered; membership is checked by the writer under the tenant lock (an array cannot carry a
-- foreign key).
CREATE TABLE playlists (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    name       text NOT NULL,
    asset_ids  uuid[] NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE schedules (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    store_id          uuid,
    zone_id           uuid,
    playlist_id       uuid NOT NULL,
    priority          integer NOT NULL,
    date_from         text NOT NULL,
    date_to           text NOT NULL,
    weekdays          integer[] NOT NULL,
    start_hm          text NOT NULL,
    end_hm            text NOT NULL,
    -- [{"playlist_id", "every_n_tracks", "every_n_minutes", "at"}], the spot playlists also in spot_playlist_ids
    spot_rules        jsonb NOT NULL,
    spot_playlist_ids uuid[] NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, playlist_id) REFERENCES playlists (tenant_id, id),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
    FOREIGN KEY (tenant_id, store_id, zone_id) REFERENCES zones (tenant_id, store_id, id)
);
CREATE INDEX schedules_by_store ON schedules (tenant_id, store_id);

CREATE TABLE sync_logs (
    id           bigserial PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    device_id    uuid NOT NULL,
    store_id     uuid,
    at           timestamptz NOT NULL,
    from_rev     bigint NOT NULL,
    to_rev       bigint NOT NULL,
    full_resync  boolean NOT NULL,
    upserts      integer NOT NULL,
    deletes      integer NOT NULL,
    downloads    integer NOT NULL,
    hash_matched boolean NOT NULL,
    inventory    bytea,
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX sync_logs_by_device ON sync_logs (tenant_id, device_id, id DESC);

-- Proof of play: (tenant, device, seq) stored once.
CREATE TABLE play_events (
    tenant_id   uuid NOT NULL,
    device_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    asset_id    uuid,
    store_id    uuid,
    zone_id     uuid,
    started_at  timestamptz NOT NULL,
    duration_ms bigint NOT NULL,
    fallback    text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX play_events_by_time ON play_events (tenant_id, started_at, device_id, seq);

-- +goose Down
DROP TABLE play_events, sync_logs, schedules, playlists, assets, enrollment_tokens, devices, admin_tokens, zones,
    stores, records, scope_hashes, tenants;
