package cache

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// journal is the append-only index.log. Lines (space-separated, one record each):
//
//	I <sha256> <size> <mtime unix ns> <use>   installed
//	U <sha256> <use>                          used (LRU clock)
//	D <sha256>                                removed (evicted or quarantined)
//
// A torn last line after a crash does not parse and is ignored: the blob it described is then re-hashed at boot.
type journal struct {
	mu sync.Mutex
	f  *os.File
	n  int64 // bytes appended since the last compaction
}

// defaultJournalLimit is how many bytes of appended lines (mostly use records, ~80 bytes per play) trigger a
// compaction while running: about 50,000 plays, months of a zone's life.
const defaultJournalLimit = 4 << 20

// maxJournalLine bounds one line when reading (a real line is under 120 bytes).
const maxJournalLine = 256

func readJournal(path string) (map[string]*blob, error) {
	recs := map[string]*blob{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache: journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, maxJournalLine), maxJournalLine)
	for sc.Scan() {
		parseJournalLine(sc.Text(), recs)
	}
	// ErrTooLong or a read error: what was read so far stands; the rest of the blobs are re-hashed.
	return recs, nil
}

func parseJournalLine(line string, recs map[string]*blob) {
	f := strings.Fields(line)
	if len(f) < 2 || !ValidSHA256(f[1]) {
		return
	}
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0
	}
	switch {
	case f[0] == "I" && len(f) == 5:
		size, ok1 := num(f[2])
		mtime, ok2 := num(f[3])
		use, ok3 := num(f[4])
		if ok1 && ok2 && ok3 {
			recs[f[1]] = &blob{size: size, mtime: mtime, use: uint64(use)}
		}
	case f[0] == "U" && len(f) == 3:
		if use, ok := num(f[2]); ok && recs[f[1]] != nil {
			recs[f[1]].use = uint64(use)
		}
	case f[0] == "D" && len(f) == 2:
		delete(recs, f[1])
	}
}

func installLine(sha string, b *blob) string {
	return fmt.Sprintf("I %s %d %d %d\n", sha, b.size, b.mtime, b.use)
}

// compactJournal rewrites the journal with one I line per present blob (atomically: temp file, fsync, rename, fsync
// dir) and opens it for appending.
func compactJournal(path string, present map[string]*blob) (*journal, error) {
	f, err := writeCompacted(path, present)
	if err != nil {
		return nil, err
	}
	return &journal{f: f}, nil
}

// compact rewrites a running cache's journal once it has grown past the limit. It holds c.mu (then the journal's
// lock, the same order as every other path) so that no install or removal slips between the snapshot and the swap.
func (c *Cache) compact() {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.j
	j.mu.Lock()
	defer j.mu.Unlock()
	if c.closed || j.f == nil || j.n <= c.journalLimit {
		return
	}
	f, err := writeCompacted(c.journalPath(), c.present)
	j.n = 0 // on failure too: retry after another limit's worth, not on every line
	if err != nil {
		c.cfg.Logger.Warn("cache: journal compaction", "err", err)
		return
	}
	j.f.Close()
	j.f = f
}

func writeCompacted(path string, present map[string]*blob) (*os.File, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("cache: journal: %w", err)
	}
	w := bufio.NewWriter(f)
	keys := make([]string, 0, len(present))
	for k := range present {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.WriteString(installLine(k, present[k]))
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("cache: journal: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("cache: journal: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("cache: journal: %w", err)
	}
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache: journal: %w", err)
	}
	return f, nil
}

// append writes one line, synced when durable. A failure is returned but the journal is advisory: a missing I line
// costs a re-hash at next boot, a missing D line is corrected by the boot scan (the file is gone).
func (j *journal) append(line string, durable bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return ErrClosed
	}
	if _, err := j.f.WriteString(line); err != nil {
		return err
	}
	j.n += int64(len(line))
	if durable {
		return j.f.Sync()
	}
	return nil
}

// grown reports whether more than limit bytes were appended since the last compaction.
func (j *journal) grown(limit int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n > limit
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
