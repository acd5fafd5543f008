package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/store"
	"github.com/lomuz/lomuz/player/trustedtime"
)

func marshalHistory(h schedule.History) ([]byte, error) { return json.Marshal(h) }
func marshalTime(s trustedtime.State) ([]byte, error)   { return json.Marshal(s) }

// DiskPersist keeps the node's durable memory in its data directory: the proof-of-play outbox and the trusted time
// in the device database (player/store), the shared-state snapshot and the play history as files replaced
// atomically (write, fsync, rename, fsync the directory). Losing a snapshot loses nothing that the outbox, peers
// or origin cannot give back.
type DiskPersist struct {
	Store  *store.Store
	Dir    string
	Tenant string
}

// snapshotFile and historyFile live in DiskPersist.Dir.
const (
	snapshotFile = "state.snapshot"
	historyFile  = "history.json"
)

// AppendPlay implements Persist: the event is encoded as a one-event crdt delta, the format the core restores.
func (d *DiskPersist) AppendPlay(ev crdt.PlayEvent) (uint64, error) {
	b, err := crdt.EncodeDelta(crdt.Delta{Tenant: d.Tenant, Plays: []crdt.PlayDelta{{Node: ev.Node, Events: []crdt.PlayEvent{ev}}}})
	if err != nil {
		return 0, err
	}
	return d.Store.AppendPlay(b)
}

func (d *DiskPersist) AckPlays(seq uint64) error { return d.Store.AckPlays(seq) }
func (d *DiskPersist) SaveSnapshot(b []byte) error {
	return writeAtomic(filepath.Join(d.Dir, snapshotFile), b)
}
func (d *DiskPersist) SaveHistory(b []byte) error {
	return writeAtomic(filepath.Join(d.Dir, historyFile), b)
}
func (d *DiskPersist) SaveTime(b []byte) error { return d.Store.SetTrustedTime(b) }

// Restored is what a node finds on disk at start.
type Restored struct {
	Snapshot []byte
	Plays    []crdt.PlayEvent
	History  schedule.History
	Time     trustedtime.State
}

// Load reads back what DiskPersist saved. Missing pieces are zero; a corrupt snapshot or history is reported and
// skipped (peers and origin give the state back), a corrupt outbox entry is an error (it is proof of play).
func (d *DiskPersist) Load() (Restored, []error, error) {
	var r Restored
	var warns []error
	if b, err := os.ReadFile(filepath.Join(d.Dir, snapshotFile)); err == nil {
		r.Snapshot = b
	} else if !errors.Is(err, os.ErrNotExist) {
		warns = append(warns, err)
	}
	if b, err := os.ReadFile(filepath.Join(d.Dir, historyFile)); err == nil {
		if err := json.Unmarshal(b, &r.History); err != nil {
			warns = append(warns, fmt.Errorf("play history: %w", err))
		}
	}
	if b, err := d.Store.TrustedTime(); err == nil && len(b) > 0 {
		if err := json.Unmarshal(b, &r.Time); err != nil {
			warns = append(warns, fmt.Errorf("trusted time: %w", err))
		}
	}
	for after := uint64(0); ; {
		batch, err := d.Store.PendingPlays(after, 0)
		if err != nil {
			return r, warns, err
		}
		if len(batch) == 0 {
			break
		}
		for _, p := range batch {
			dl, err := crdt.DecodeDelta(p.Data)
			if err != nil || len(dl.Plays) != 1 || len(dl.Plays[0].Events) != 1 {
				return r, warns, fmt.Errorf("play outbox entry %d is corrupt: %v", p.Seq, err)
			}
			r.Plays = append(r.Plays, dl.Plays[0].Events[0])
			after = p.Seq
		}
	}
	return r, warns, nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
