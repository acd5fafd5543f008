package main

import (
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/schedule/schedtest"
	_ "modernc.org/sqlite"
)

const schema = `CREATE TABLE assets (
	id TEXT NOT NULL,
	playlist_id TEXT NOT NULL,
	file_hash TEXT NOT NULL,
	valid_from INTEGER NOT NULL,
	valid_until INTEGER NOT NULL,
	local_file_exists INTEGER NOT NULL,
	is_emergency INTEGER NOT NULL,
	last_played INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'ACTIVE',
	duration_ms INTEGER NOT NULL,
	artist TEXT NOT NULL
)`

// The seed's statements (section 3.2), with NOW in Unix milliseconds as Date.now() gives it.
const (
	qExpire    = `UPDATE assets SET status='EXPIRED' WHERE valid_until < ?`
	qScheduled = `SELECT rowid, duration_ms FROM assets
	WHERE playlist_id = ? AND valid_from <= ? AND valid_until >= ? AND local_file_exists = 1
	ORDER BY last_played ASC LIMIT 1`
	qEmergency = `SELECT rowid, duration_ms FROM assets
	WHERE is_emergency = 1 AND valid_from <= ? AND valid_until >= ? AND local_file_exists = 1
	ORDER BY RANDOM() LIMIT 1`
	qPlayed = `UPDATE assets SET last_played = ? WHERE rowid = ?`
)

// The indexes of the second variant: the scheduled query walks (playlist, present, last_played) in order and stops
// at the first row in its window. The index covers the window and the duration, so that rows outside their window
// (never played, so always first) are skipped without a table lookup: 2-3x faster here than the bare index. The
// emergency query reads only present emergency rows.
var indexes = []string{
	`CREATE INDEX assets_next ON assets(playlist_id, local_file_exists, last_played, valid_from, valid_until, duration_ms)`,
	`CREATE INDEX assets_emergency ON assets(local_file_exists, valid_from) WHERE is_emergency = 1`,
}

func main() {
	variant := flag.String("variant", "seed", "seed | indexed")
	calls := flag.Int("calls", 300, "timed calls")
	dir := flag.String("dir", "", "directory for the database file (default: a new temporary directory)")
	memory := flag.Bool("memory", false, "keep the database in memory rather than in a WAL file")
	flag.Parse()
	if err := run(*variant, *calls, *dir, *memory); err != nil {
		fmt.Fprintln(os.Stderr, "selectsql:", err)
		os.Exit(1)
	}
}

func run(variant string, calls int, dir string, memory bool) error {
	if variant != "seed" && variant != "indexed" {
		return fmt.Errorf("unknown variant %q", variant)
	}
	if calls < 1 || calls > 10_000_000 {
		return fmt.Errorf("calls %d outside 1..10,000,000", calls)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "selectsql-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cat := schedtest.Generate(schedtest.BenchSpec())
	cfg := schedule.DefaultConfig()
	cfg.Rand = rand.NewPCG(1, 1)
	resolver, err := schedtest.Load(cat, cfg) // only to know the current playlist at each instant, untimed
	if err != nil {
		return err
	}
	dsn := "file:" + filepath.Join(dir, "local.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	if memory {
		dsn = "file::memory:"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := load(db, cat); err != nil {
		return err
	}
	if variant == "indexed" {
		for _, q := range indexes {
			if _, err := db.Exec(q); err != nil {
				return err
			}
		}
	}
	if _, err := db.Exec(`ANALYZE`); err != nil {
		return err
	}
	plan, err := queryPlan(db, qScheduled)
	if err != nil {
		return err
	}
	stmts := map[string]*sql.Stmt{}
	for name, q := range map[string]string{"expire": qExpire, "scheduled": qScheduled, "emergency": qEmergency, "played": qPlayed} {
		st, err := db.Prepare(q)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", name, err)
		}
		defer st.Close()
		stmts[name] = st
	}
	lat := make([]time.Duration, 0, calls)
	sel := make([]time.Duration, 0, calls) // the SELECTs alone, without the writes
	t := cat.Start
	fallbacks := 0
	for range calls {
		pl := ""
		if sc, ok := resolver.Active(t); ok {
			pl = sc.PlaylistID
		}
		now := t.UnixMilli()
		t0 := time.Now()
		if variant == "seed" {
			if _, err := stmts["expire"].Exec(now); err != nil {
				return err
			}
		}
		var rowid, durMS int64
		t1 := time.Now()
		err := stmts["scheduled"].QueryRow(pl, now, now).Scan(&rowid, &durMS)
		if err == sql.ErrNoRows {
			fallbacks++
			err = stmts["emergency"].QueryRow(now, now).Scan(&rowid, &durMS)
		}
		sel = append(sel, time.Since(t1))
		switch {
		case err == sql.ErrNoRows:
			durMS = 30_000 // the built-in jingle
		case err != nil:
			return err
		default:
			if _, err := stmts["played"].Exec(now, rowid); err != nil {
				return err
			}
		}
		lat = append(lat, time.Since(t0))
		t = t.Add(time.Duration(max(durMS, 1000)) * time.Millisecond)
	}
	slices.Sort(lat)
	slices.Sort(sel)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	pct := func(l []time.Duration, p float64) int64 {
		return l[min(len(l)-1, int(float64(len(l))*p))].Nanoseconds()
	}
	storage := "wal-file"
	if memory {
		storage = "memory"
	}
	fmt.Printf("variant=%s storage=%s calls=%d p50_ns=%d p99_ns=%d mean_ns=%d select_p50_ns=%d select_p99_ns=%d fallbacks=%d plan=%q\n",
		variant, storage, calls, pct(lat, 0.50), pct(lat, 0.99), sum.Nanoseconds()/int64(len(lat)), pct(sel, 0.50),
		pct(sel, 0.99), fallbacks, plan)
	return nil
}

func load(db *sql.DB, cat schedtest.Catalog) error {
	if _, err := db.Exec(schema); err != nil {
		return err
	}
	present := make(map[string]bool, len(cat.Present))
	for _, sha := range cat.Present {
		present[sha] = true
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.Prepare(`INSERT INTO assets(id, playlist_id, file_hash, valid_from, valid_until, local_file_exists,
		is_emergency, duration_ms, artist) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	for _, a := range cat.Assets {
		// The seed's comparisons fail on NULL, so open bounds are stored as the extremes.
		from, until := int64(0), int64(1)<<62
		if !a.ValidFrom.IsZero() {
			from = a.ValidFrom.UnixMilli()
		}
		if !a.ValidUntil.IsZero() {
			until = a.ValidUntil.UnixMilli()
		}
		if _, err := ins.Exec(a.ID, cat.PlaylistOf[a.ID], a.SHA256, from, until, b(present[a.SHA256]),
			b(a.EmergencyEligible), a.PlayLength().Milliseconds(), a.Artist); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func queryPlan(db *sql.DB, q string) (string, error) {
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, "pl-000", 0, 0)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		steps = append(steps, detail)
	}
	return strings.Join(steps, "; "), rows.Err()
}
