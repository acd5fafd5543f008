// Command selectsql is the SQL side of the selection benchmark (scripts/bench.d/30-selection.sh), in a module of
// its own so that the product does not depend on SQLite.
//
// It loads the catalog that player/schedule/schedtest generates (the same 100,000 assets in 100 playlists that
// Lomuz's selector is measured on) into SQLite (modernc.org/sqlite, pure Go; a file database in WAL mode with
// synchronous=NORMAL, as a device would keep it) in the seed proposal's shape, one row per asset carrying its
// playlist, and runs the proposal's next-track algorithm (its section 3.2) in two variants:
//
//   - seed: as written: the expiry UPDATE on every call, no index;
//   - indexed: the best indexes found for the query, and no per-call UPDATE.
//
// Each call is timed from the first statement to the last: (expiry UPDATE,) the scheduled SELECT, the emergency
// SELECT when the first finds nothing, and the UPDATE of last_played that any player must do to rotate. Which
// playlist is current at each instant is resolved by Lomuz's schedule code outside the timed part; spots and artist
// separation are not done at all on this side (the seed has neither), so the comparison flatters SQL.
//
// Output: one line per variant, "variant=NAME calls=N p50_ns=X p99_ns=Y mean_ns=Z select_p50_ns=A select_p99_ns=B
// fallbacks=F plan=...", where select_* time the SELECTs alone (without the writes), for a comparison that flatters
// SQL even more.
package main
