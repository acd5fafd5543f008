package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// diskReserve is the space the disk guard holds back for the device database: one new badger memtable file
// (player/store's 8 MiB, plus its arena slack) and the level-0 table a full memtable flushes into (at most as big).
const diskReserve = 20 << 20

// diskGuard keeps a node alive when its data disk fills up. badger writes its write-ahead log (the memtable file)
// and new tables through memory-mapped files it creates sparse; on a file system with no block left, the first
// write to a new page faults with SIGBUS and kills the process, and a restart on the full disk dies the same way
// (found by TestNodeDiskFull). The guard (1) allocates the blocks of badger's memtable files (fallocate) as soon as
// it sees them, so log writes land on blocks that exist, and (2) holds a reserve file of diskReserve bytes that it
// deletes as soon as free space falls below lowWater, so that a memtable rotation or flush finds room; it creates
// the reserve again once the disk has room for it twice over. Free reports free space without the reserve, so a
// full disk reads as full (status, origin's fleet view) before the database is at risk. It cannot help when the
// reserve is gone too: then a badger write may still fault, and the supervisor's restart meets the same disk.
type diskGuard struct {
	dir, db string
	reserve int64
	log     *slog.Logger
	// every is the polling period; a disk that fills faster than lowWater per period can beat the guard.
	every    time.Duration
	lowWater int64

	mu        sync.Mutex
	held      bool
	allocated map[string]int64 // memtable files allocated, with the size they had
}

func newDiskGuard(dataDir, dbDir string, log *slog.Logger) *diskGuard {
	return &diskGuard{dir: dataDir, db: dbDir, reserve: diskReserve, log: log, every: 250 * time.Millisecond,
		lowWater: 4 << 20, allocated: map[string]int64{}}
}

func (g *diskGuard) reservePath() string { return filepath.Join(g.dir, "disk.reserve") }

// Free is the free space on the data disk that the node may use, without the reserve; -1 unknown. Safe for
// concurrent use.
func (g *diskGuard) Free() int64 {
	free := freeDisk(g.dir)
	if free < 0 {
		return free
	}
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if !held {
		free = max(free-g.reserve, 0)
	}
	return free
}

// check releases or re-creates the reserve as free space requires and allocates new memtable files. Safe for
// concurrent use.
func (g *diskGuard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if fi, err := os.Stat(g.reservePath()); err == nil && fi.Size() == g.reserve && !g.held {
		g.held = true // left by an earlier run
	}
	free := freeDisk(g.dir)
	switch {
	case free < 0:
	case g.held && free < g.lowWater:
		if err := os.Remove(g.reservePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			g.log.Error("data disk full; releasing the database reserve failed", "err", err)
		} else {
			g.held = false
			g.log.Error("data disk full: released the database reserve", "free_bytes", free, "reserve_bytes", g.reserve)
		}
	case !g.held && free > 2*g.reserve+g.lowWater:
		if err := allocateFile(g.reservePath(), g.reserve); err != nil {
			_ = os.Remove(g.reservePath())
			g.log.Warn("holding the database reserve failed", "err", err)
		} else {
			g.held = true
		}
	}
	g.allocateMemtables()
}

// allocateMemtables allocates every block of badger's memtable files that it has not allocated yet.
func (g *diskGuard) allocateMemtables() {
	ents, err := os.ReadDir(g.db)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		seen[e.Name()] = true
		fi, err := e.Info()
		if err != nil || g.allocated[e.Name()] == fi.Size() {
			continue
		}
		if err := allocateFile(filepath.Join(g.db, e.Name()), fi.Size()); err != nil {
			// Retried at the next check; until then this file's unwritten pages may fault on a full disk.
			g.log.Warn("allocating the database log failed", "file", e.Name(), "err", err)
			continue
		}
		g.allocated[e.Name()] = fi.Size()
	}
	for name := range g.allocated {
		if !seen[name] {
			delete(g.allocated, name)
		}
	}
}

// Serve checks every period until ctx ends.
func (g *diskGuard) Serve(ctx context.Context) error {
	t := time.NewTicker(g.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			g.check()
		}
	}
}

// allocateFile makes path at least size bytes long with every block allocated, keeping what it holds.
func allocateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		err = syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
