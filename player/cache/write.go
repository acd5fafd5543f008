package cache

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Writer writes one blob into its partial file and installs it on Commit. It is used by one goroutine at a time.
// Close without Commit keeps the partial file so that a later Create resumes from Offset.
type Writer struct {
	c      *Cache
	sha    string
	md5    string // lowercase hex, or "" when not checked
	size   int64
	f      *os.File
	h, m   hash.Hash
	off    int64
	done   bool
	broken error // a failed write: the file's tail is unknown, so Commit refuses
}

// Create opens a writer for blob sha of size bytes; md5Hex (lowercase hex) is checked too when not empty. It resumes
// from the partial file an earlier writer left (Offset says where; the existing bytes are re-read to seed the hashes).
// It reserves size bytes against the quota, evicting unpinned content if needed; ErrQuotaExceeded when only pinned
// content is left. ErrExists if the blob is installed, ErrBusy if another writer holds it.
func (c *Cache) Create(sha string, size int64, md5Hex string) (*Writer, error) {
	if !ValidSHA256(sha) {
		return nil, fmt.Errorf("%w: sha256 %q", ErrInvalid, sha)
	}
	if md5Hex != "" {
		if b, err := hex.DecodeString(md5Hex); err != nil || len(b) != md5.Size || hex.EncodeToString(b) != md5Hex {
			return nil, fmt.Errorf("%w: md5 %q", ErrInvalid, md5Hex)
		}
	}
	if size <= 0 || size > MaxBlobSize {
		return nil, fmt.Errorf("%w: size %d (want 1..%d)", ErrInvalid, size, int64(MaxBlobSize))
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.present[sha] != nil || c.unverified[sha] > 0:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrExists, sha)
	case c.writing[sha] > 0:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrBusy, sha)
	}
	// Reserve the whole size; the partial file's bytes are part of it from now on.
	had := c.partials[sha]
	c.used -= had
	delete(c.partials, sha)
	evs, err := c.makeRoomLocked(size, sha)
	if err != nil {
		if had > 0 { // still on disk, still resumable
			c.partials[sha] = had
			c.used += had
		}
		c.mu.Unlock()
		c.notify(evs)
		return nil, err
	}
	c.writing[sha] = size
	c.used += size
	c.mu.Unlock()
	c.notify(evs)

	w := &Writer{c: c, sha: sha, md5: md5Hex, size: size, h: sha256.New()}
	if md5Hex != "" {
		w.m = md5.New()
	}
	if err := w.open(); err != nil {
		w.release(0)
		return nil, err
	}
	return w, nil
}

// open opens the partial file and hashes what it already holds.
func (w *Writer) open() error {
	f, err := os.OpenFile(w.c.partialPath(w.sha), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > w.size {
		err = f.Truncate(0) // longer than the blob: not ours to trust
	}
	if err == nil {
		var n int64
		n, err = io.Copy(w.hashes(), io.LimitReader(f, w.size))
		w.off = n
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("cache: resume %s: %w", w.sha, err)
	}
	w.f = f
	return nil
}

func (w *Writer) hashes() io.Writer {
	if w.m != nil {
		return io.MultiWriter(w.h, w.m)
	}
	return w.h
}

// Offset is the number of bytes already written (resume from here).
func (w *Writer) Offset() int64 { return w.off }

// Size is the declared size.
func (w *Writer) Size() int64 { return w.size }

// Write appends p. Bytes past the declared size are not written: Write writes what fits and returns ErrTooLarge
// (the hash check at Commit judges what was kept). A full disk fails with ErrDiskFull, after which the writer can
// only be closed or aborted.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done || w.f == nil {
		return 0, ErrClosed
	}
	if w.broken != nil {
		return 0, w.broken
	}
	var tooLarge error
	if room := w.size - w.off; int64(len(p)) > room {
		tooLarge = fmt.Errorf("%w: %d bytes past %d of %s", ErrTooLarge, int64(len(p))-room, w.size, w.sha)
		p = p[:room]
	}
	n, err := w.f.Write(p)
	w.hashes().Write(p[:n])
	w.off += int64(n)
	if err != nil {
		w.broken = wrapDiskErr(err)
		return n, w.broken
	}
	return n, tooLarge
}

func wrapDiskErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return fmt.Errorf("cache: %w", err)
}

// Commit verifies the hashes and installs the blob: fsync, rename into blobs/, fsync the directories, journal.
// ErrIncomplete if fewer than Size bytes were written (the partial file is kept); ErrHashMismatch if the content is
// wrong (the partial file is deleted: which byte is wrong is unknown). The writer is finished either way.
func (w *Writer) Commit() error {
	if w.done || w.f == nil {
		return ErrClosed
	}
	if w.broken != nil {
		w.Close()
		return w.broken
	}
	if w.off != w.size {
		w.Close()
		return fmt.Errorf("%w: %d of %d bytes of %s", ErrIncomplete, w.off, w.size, w.sha)
	}
	if got := hex.EncodeToString(w.h.Sum(nil)); got != w.sha {
		w.Abort()
		return fmt.Errorf("%w: sha256 %s, want %s", ErrHashMismatch, got, w.sha)
	}
	if w.m != nil {
		if got := hex.EncodeToString(w.m.Sum(nil)); got != w.md5 {
			w.Abort()
			return fmt.Errorf("%w: md5 %s, want %s of %s", ErrHashMismatch, got, w.md5, w.sha)
		}
	}
	if err := w.install(); err != nil {
		w.Close()
		return err
	}
	return nil
}

func (w *Writer) install() error {
	c := w.c
	if err := w.f.Sync(); err != nil {
		return wrapDiskErr(err)
	}
	fi, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return wrapDiskErr(err)
	}
	w.f = nil
	dst := c.blobPath(w.sha)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return wrapDiskErr(err)
	}
	if err := os.Rename(c.partialPath(w.sha), dst); err != nil {
		return fmt.Errorf("cache: install: %w", err)
	}
	// From here the blob is complete and verified on disk; a failed directory sync or journal write only costs a
	// re-hash (or a re-download) after a power cut, so it is logged, not returned.
	if err := syncDir(filepath.Dir(dst)); err != nil {
		c.cfg.Logger.Warn("cache: fsync blobs dir", "err", err)
	}
	_ = syncDir(filepath.Join(c.cfg.Dir, "partial"))
	c.mu.Lock()
	c.clock++
	b := &blob{size: w.size, mtime: fi.ModTime().UnixNano(), use: c.clock}
	c.present[w.sha] = b
	delete(c.writing, w.sha)
	w.done = true
	line := installLine(w.sha, b) // under the lock: Open updates b.use
	c.mu.Unlock()
	if err := c.j.append(line, true); err != nil {
		c.cfg.Logger.Warn("cache: journal install", "sha256", w.sha, "err", err)
	}
	return nil
}

// Close ends the writer without installing; the partial file stays for a later resume. Safe to call after Commit.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	// After a failed write the file may hold bytes the hash saw but the disk did not: measure it.
	keep := w.off
	if fi, serr := os.Stat(w.c.partialPath(w.sha)); serr == nil {
		keep = fi.Size()
	}
	w.release(keep)
	return err
}

// Abort ends the writer and deletes the partial file.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	err := os.Remove(w.c.partialPath(w.sha))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	w.release(0)
	return err
}

// release drops the reservation; partialBytes stay accounted as an idle partial file.
func (w *Writer) release(partialBytes int64) {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	w.done = true
	if c.writing[w.sha] > 0 {
		c.used -= c.writing[w.sha]
		delete(c.writing, w.sha)
	}
	if partialBytes > 0 {
		c.partials[w.sha] = partialBytes
		c.used += partialBytes
	}
}
