-- +goose Up
-- Library search (catalog.ListOptions.Query): a substring of "title artist isrc", ignoring case and accents,
-- served by a trigram index. unaccent() is only STABLE (its dictionary could change), so it cannot be indexed
-- directly; lomuz_fold names the dictionary explicitly and is declared IMMUTABLE, the usual way to index it.
-- Both extensions ship with PostgreSQL (contrib) and are available on Aurora and RDS.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
-- +goose StatementBegin
CREATE FUNCTION lomuz_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;
-- +goose StatementEnd
CREATE INDEX assets_search ON assets USING gin (lomuz_fold(title || ' ' || artist || ' ' || isrc) gin_trgm_ops);

-- +goose Down
DROP INDEX assets_search;
DROP FUNCTION lomuz_fold(text);
