package cache

import (
	"fmt"
	"os"
	"slices"
)

// makeRoomLocked frees space so that size more bytes fit under the quota: first idle partial files of unpinned blobs
// (largest first: they cost the most to keep and the same to redo), then present unpinned blobs, least recently used
// first. Nothing pinned and nothing being written is touched. Called with c.mu held; returns the events to deliver
// after unlocking.
func (c *Cache) makeRoomLocked(size int64, except string) ([]Event, error) {
	q := c.cfg.QuotaBytes
	if q == 0 || c.used+size <= q {
		return nil, nil
	}
	if size > q {
		return nil, fmt.Errorf("%w: blob of %d bytes > quota %d", ErrQuotaExceeded, size, q)
	}
	var evs []Event
	parts := make([]string, 0, len(c.partials))
	for sha := range c.partials {
		if !c.pinned[sha] && sha != except {
			parts = append(parts, sha)
		}
	}
	slices.SortFunc(parts, func(a, b string) int { return int(c.partials[b] - c.partials[a]) })
	for _, sha := range parts {
		if c.used+size <= q {
			return evs, nil
		}
		if err := os.Remove(c.partialPath(sha)); err != nil && !os.IsNotExist(err) {
			c.cfg.Logger.Warn("cache: remove partial", "sha256", sha, "err", err)
			continue
		}
		c.used -= c.partials[sha]
		delete(c.partials, sha)
	}
	lru := make([]string, 0, len(c.present))
	for sha := range c.present {
		if !c.pinned[sha] {
			lru = append(lru, sha)
		}
	}
	slices.SortFunc(lru, func(a, b string) int { return cmpU64(c.present[a].use, c.present[b].use) })
	for _, sha := range lru {
		if c.used+size <= q {
			return evs, nil
		}
		b := c.present[sha]
		if err := os.Remove(c.blobPath(sha)); err != nil && !os.IsNotExist(err) {
			c.cfg.Logger.Warn("cache: evict", "sha256", sha, "err", err)
			continue
		}
		delete(c.present, sha)
		c.used -= b.size
		_ = c.j.append("D "+sha+"\n", false)
		evs = append(evs, Event{Kind: Evicted, SHA256: sha, Size: b.size})
	}
	if c.used+size <= q {
		return evs, nil
	}
	return evs, fmt.Errorf("%w: need %d bytes, %d of %d used by pinned or in-flight content", ErrQuotaExceeded,
		size, c.used, q)
}

// Remove deletes a present blob (the caller no longer needs it, e.g. an asset deleted from the catalog). Pinning
// does not protect against an explicit Remove.
func (c *Cache) Remove(sha string) error {
	c.mu.Lock()
	b := c.present[sha]
	if b == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNotFound, sha)
	}
	delete(c.present, sha)
	c.used -= b.size
	c.mu.Unlock()
	_ = c.j.append("D "+sha+"\n", false)
	if err := os.Remove(c.blobPath(sha)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
