// Package panel is the director's web panel that origin serves under /panel/: sign-in with an admin (director)
// or store-manager token; the fleet with live status, and forms for stores, zones and one-time enrollment
// tokens; the library with upload, transcode state and an edit form (validity window, emergency flag, kind,
// metadata); playlists; schedules with a weekly grid and spot rules; a "what will this zone play" preview;
// proof-of-play reports with CSV export; alerts; and the zones screen (volume and mute overrides). Pages are rendered on the server (html/template, embedded); a small script adds the
// upload progress bar, and every screen works with the keyboard and without the script. English and pt-BR
// (Accept-Language, or the switch), every string in the message catalogs of i18n.go.
//
// It owns no rules and no data. Every read and write goes through origin's own HTTP API, called in-process with
// the signed-in user's token (Config.API), so validation, roles (a manager token may only read, except its own store's zone overrides) and tenant
// isolation are exactly origin's; Config.Authenticate, supplied by origin, says whose a token is. The preview
// runs the players' own selection code (player/schedule) on the catalog as origin serves it. It must not import
// origin (origin mounts it) nor keep state between requests.
//
// Sessions: the cookie lomuz_session holds the token, an expiry and a random nonce, sealed with AES-256-GCM under
// a key derived (HMAC-SHA256, label "lomuz-panel-session-v1") from Config.Secret, which origin sets to its
// signing key's seed: any replica of the deployment opens it, before or after a restart, and nothing is stored
// server-side. HttpOnly, SameSite=Strict, Secure when the request came over TLS (or X-Forwarded-Proto: https),
// path-scoped to the panel. CSRF: every POST carries HMAC(key "lomuz-panel-csrf-v1", nonce) in the field csrf,
// the header X-CSRF-Token or (the streamed multipart upload) the query; sign-in uses a pre-session cookie bound
// the same way. A revoked token stops working at the next request, as Authenticate runs on every one.
//
// Store managers see their own store's fleet, schedules and plays, read-only, and change the overrides of their
// own store's zones. Device telemetry today carries
// last sync, app version, cached assets and bytes and the acked revision; "now playing" and the fallback level
// come from the device's newest proof-of-play event. Clock offset, covered-until and free disk are not reported
// by devices yet, so the panel says so rather than guessing.
package panel
