package pgstore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/catalogtest"
)

// world is a tenant with a store, a zone and devices, written through the catalog API.
type world struct {
	tenant, store, zone string
}

func newWorld(t *testing.T, s catalog.Store) world {
	t.Helper()
	ctx := context.Background()
	w := world{tenant: catalogtest.NewID(), store: catalogtest.NewID(), zone: catalogtest.NewID()}
	if err := s.CreateTenant(ctx, catalog.Tenant{ID: w.tenant, Name: "chain", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, w.tenant, func(tx catalog.Tx) error {
		if err := tx.PutStore(catalog.Shop{ID: w.store, Name: "s", TimeZone: "UTC", MeshKey: make([]byte, 32),
			MeshID: catalogtest.NewID()}); err != nil {
			return err
		}
		return tx.PutZone(catalog.Zone{ID: w.zone, StoreID: w.store, Name: "z"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w world) device(t *testing.T, s catalog.Store) catalog.Device {
	t.Helper()
	id := catalogtest.NewID()
	var h catalog.Hash
	copy(h[:], id)
	d := catalog.Device{ID: id, StoreID: w.store, ZoneID: w.zone, PublicKey: []byte("pk"), PeerID: "peer-" + id, CredentialHash: h}
	if err := s.Update(context.Background(), w.tenant, func(tx catalog.Tx) error { return tx.CreateDevice(d) }); err != nil {
		t.Fatal(err)
	}
	return d
}

func (w world) put(t *testing.T, s catalog.Store, key string) uint64 {
	t.Helper()
	var rev uint64
	err := s.Update(context.Background(), w.tenant, func(tx catalog.Tx) error {
		var err error
		if rev, err = tx.NextRevision(); err != nil {
			return err
		}
		return tx.PutRecord(crdt.Record{Key: key, Tenant: w.tenant, Rev: rev, Body: []byte("{}"), Sig: make([]byte, ed25519.SignatureSize)}, catalog.TenantScope)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// TestReplicaNeverBackwards uses a real lagging copy as the replica: a database cloned from the writer at
// revision 2, while the writer moves on to revision 3.
func TestReplicaNeverBackwards(t *testing.T) {
	ctx := context.Background()
	writerURL := testenv.Postgres(t)
	s := open(t, writerURL)
	w := newWorld(t, s)
	d1 := w.device(t, s)
	w.put(t, s, "asset/a")
	w.put(t, s, "asset/b")
	s.Close()

	replicaURL := cloneDB(t, writerURL)
	s = open(t, writerURL, replicaURL)
	w.put(t, s, "asset/c")
	d2 := w.device(t, s)

	st, err := s.SyncState(ctx, w.tenant, w.store, 0)
	if err != nil || st.Revision != 2 {
		t.Fatalf("lag-tolerant read: revision %d, %v; want the replica's 2", st.Revision, err)
	}
	st, err = s.SyncState(ctx, w.tenant, w.store, 3)
	if err != nil || st.Revision != 3 {
		t.Fatalf("device at 3: revision %d, %v; want the writer's 3", st.Revision, err)
	}
	p, err := s.RecordsSince(ctx, w.tenant, w.store, 3, "", 0)
	if err != nil || p.Revision != 3 || len(p.Records) != 0 {
		t.Fatalf("records since 3: %+v, %v", p, err)
	}
	p, err = s.RecordsSince(ctx, w.tenant, w.store, 2, "", 0)
	if err != nil || p.Revision != 2 || len(p.Records) != 0 {
		t.Fatalf("records since 2 from the replica: revision %d, %d records, %v", p.Revision, len(p.Records), err)
	}
	p, err = s.LiveRecords(ctx, w.tenant, w.store, 3, "", 0)
	if err != nil || p.Revision != 3 || len(p.Records) != 3 {
		t.Fatalf("live records at 3: revision %d, %d records, %v", p.Revision, len(p.Records), err)
	}
	_, st, err = s.DeviceSyncState(ctx, d1.CredentialHash, 3)
	if err != nil || st.Revision != 3 {
		t.Fatalf("device sync state at 3: %+v, %v", st, err)
	}
	// d2 was enrolled after the copy: the replica does not know it, the writer does.
	if _, err := s.DeviceByCredential(ctx, d2.CredentialHash); err != nil {
		t.Fatalf("new device through a lagging replica: %v", err)
	}
	if _, _, err := s.DeviceSyncState(ctx, d2.CredentialHash, 0); err != nil {
		t.Fatalf("new device sync state through a lagging replica: %v", err)
	}
}

// cloneDB copies a database (with no open connections) into a new one, dropped when the test ends.
func cloneDB(t *testing.T, src string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testenv.PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	u, _ := url.Parse(src)
	name := "lomuz_t_" + testenv.RandomHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, strings.TrimPrefix(u.Path, "/"))); err != nil {
		t.Fatalf("clone: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testenv.PostgresAdminURL())
		if err == nil {
			c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u.Path = "/" + name
	return u.String()
}

// proxy forwards TCP from a loopback port to PostgreSQL and can be cut and restored, like a writer that fails
// over behind a DNS name.
type proxy struct {
	t        *testing.T
	target   string
	addr     string
	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
	accepted atomic.Int64
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Errorf("proxy listen: %v", err)
		return
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

// down refuses new connections and resets the open ones.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestRetriesThroughFailover(t *testing.T) {
	direct := testenv.Postgres(t)
	u, _ := url.Parse(direct)
	px := newProxy(t, u.Host)
	u.Host = px.addr
	s := open(t, u.String())
	w := newWorld(t, s)
	w.put(t, s, "asset/a")

	// The writer goes away for 300 ms: connections are reset and new ones refused. Calls made meanwhile succeed
	// once it is back, within their deadline.
	px.down()
	before := px.accepted.Load()
	time.AfterFunc(300*time.Millisecond, px.up)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rev, err := s.Revision(ctx, w.tenant); err != nil || rev != 1 {
		t.Fatalf("revision across a failover: %d, %v", rev, err)
	}
	if err := s.Update(ctx, w.tenant, func(tx catalog.Tx) error {
		rev, err := tx.NextRevision()
		if err != nil {
			return err
		}
		return tx.PutRecord(crdt.Record{Key: "asset/b", Tenant: w.tenant, Rev: rev}, catalog.TenantScope)
	}); err != nil {
		t.Fatalf("update across a failover: %v", err)
	}
	if px.accepted.Load() == before {
		t.Fatal("no reconnection happened: the test did not exercise the outage")
	}

	// An outage longer than the deadline ends the call with the transient error (the test's timeout catches a hang).
	px.down()
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := s.Revision(short, w.tenant); err == nil {
		t.Fatal("revision succeeded with the writer down")
	}
	px.up()
}

// TestRetriesAdminShutdown terminates every session of the database (what a failover or restart does to them):
// the next calls reconnect and succeed.
func TestRetriesAdminShutdown(t *testing.T) {
	dbURL := testenv.Postgres(t)
	s := open(t, dbURL)
	w := newWorld(t, s)
	d := w.device(t, s)
	u, _ := url.Parse(dbURL)
	admin, err := pgx.Connect(context.Background(), testenv.PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var n int
	if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, strings.TrimPrefix(u.Path, "/")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no session to terminate: the pool holds no idle connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := s.DeviceSyncState(ctx, d.CredentialHash, 0); err != nil {
		t.Fatalf("device sync state after admin shutdown: %v", err)
	}
	w.put(t, s, "asset/after")
}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "40001"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("query: %w", pgconn.ErrConnClosed), true}, // a pooled connection to a restarted server
		{context.DeadlineExceeded, false},
		{catalog.ErrNotFound, false},
		{pgx.ErrNoRows, false},
		{fmt.Errorf("%w: %v", ErrCommitUnknown, io.ErrUnexpectedEOF), false}, // never re-run a commit that may have landed
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestMigrationsRunOnce(t *testing.T) {
	dbURL := testenv.Postgres(t)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ { // origin replicas starting together
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := Open(ctx, DefaultConfig(dbURL))
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	s := open(t, dbURL)
	var versions int
	if err := s.w.QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v, %v", files, err)
	}
	if versions != len(files) {
		t.Fatalf("%d applied migrations recorded, want %d", versions, len(files))
	}
}

// TestDeadReplica points the replica at a port nobody listens on: lag-tolerant reads fall back to the writer
// instead of failing or spending the caller's deadline on the replica.
func TestDeadReplica(t *testing.T) {
	writerURL := testenv.Postgres(t)
	u, _ := url.Parse(writerURL)
	u.Host = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s := open(t, writerURL, u.String())
	w := newWorld(t, s)
	d := w.device(t, s)
	w.put(t, s, "asset/a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel() // a replica retried until the deadline would fail these calls
	if _, err := s.DeviceByCredential(ctx, d.CredentialHash); err != nil {
		t.Fatalf("credential with a dead replica: %v", err)
	}
	if st, err := s.SyncState(ctx, w.tenant, w.store, 0); err != nil || st.Revision != 1 {
		t.Fatalf("sync state with a dead replica: %+v, %v", st, err)
	}
	if _, st, err := s.DeviceSyncState(ctx, d.CredentialHash, 0); err != nil || st.Revision != 1 {
		t.Fatalf("device sync state with a dead replica: %+v, %v", st, err)
	}
	if p, err := s.RecordsSince(ctx, w.tenant, w.store, 0, "", 0); err != nil || len(p.Records) != 1 {
		t.Fatalf("records since with a dead replica: %+v, %v", p, err)
	}
}

// TestAnalyzeAfterBulk checks that a bulk write refreshes the planner's statistics of records, so full resyncs
// keep their index plan before autovacuum gets to the table.
func TestAnalyzeAfterBulk(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig(testenv.Postgres(t))
	cfg.AnalyzeAfter = 20
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := newWorld(t, s)
	err = s.Update(ctx, w.tenant, func(tx catalog.Tx) error {
		rev, err := tx.NextRevision()
		if err != nil {
			return err
		}
		for i := 0; i < 20; i++ {
			r := crdt.Record{Key: fmt.Sprintf("asset/%d", i), Tenant: w.tenant, Rev: rev, Body: []byte("{}")}
			if err := tx.PutRecord(r, catalog.TenantScope); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Statistics views are updated asynchronously: poll them, with a deadline.
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		var n int64
		if err := s.w.QueryRow(ctx, `SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables
			WHERE relname = 'records'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("records was not analyzed after a bulk write")
		}
	}
}
