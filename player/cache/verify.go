package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// verifyChunk is the read size of the background re-hash and the limiter's burst, in bytes.
const verifyChunk = 256 << 10

// Serve re-hashes every blob found at Open (unverified ones first), at most Config.VerifyBytesPerSec, then waits for
// blobs queued by Verify, until ctx ends. A blob whose hash does not match is quarantined. It returns ctx's error.
// Run one Serve per Cache.
func (c *Cache) Serve(ctx context.Context) error {
	lim := rate.NewLimiter(rate.Inf, verifyChunk)
	if c.cfg.VerifyBytesPerSec > 0 {
		lim = rate.NewLimiter(rate.Limit(c.cfg.VerifyBytesPerSec), verifyChunk)
	}
	for {
		c.mu.Lock()
		var sha string
		if len(c.verifyQ) > 0 {
			sha = c.verifyQ[0]
			c.verifyQ = c.verifyQ[1:]
		}
		c.mu.Unlock()
		if sha == "" {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.verifyKick:
				continue
			}
		}
		if err := c.verifyOne(ctx, sha, lim); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Verify queues sha for a full re-hash by Serve (e.g. after the audio engine failed to decode it).
func (c *Cache) Verify(sha string) {
	c.mu.Lock()
	c.verifyQ = append(c.verifyQ, sha)
	c.mu.Unlock()
	select {
	case c.verifyKick <- struct{}{}:
	default:
	}
}

// verifyOne hashes one blob and acts on the result. A blob removed meanwhile is skipped.
func (c *Cache) verifyOne(ctx context.Context, sha string, lim *rate.Limiter) error {
	c.mu.Lock()
	_, wasUnverified := c.unverified[sha]
	known := wasUnverified || c.present[sha] != nil
	c.mu.Unlock()
	if !known {
		return nil
	}
	got, fi, err := hashFile(ctx, c.blobPath(sha), lim)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil && ctx.Err() != nil {
		// Interrupted: put it back so a later Serve finishes the job.
		c.mu.Lock()
		c.verifyQ = append([]string{sha}, c.verifyQ...)
		c.mu.Unlock()
		return err
	}
	if err == nil {
		c.mu.Lock()
		c.verified++
		c.verifiedBytes += fi.Size()
		c.mu.Unlock()
	}
	if err == nil && got == sha {
		if wasUnverified {
			c.mu.Lock()
			size := c.unverified[sha]
			delete(c.unverified, sha)
			c.clock++
			b := &blob{size: fi.Size(), mtime: fi.ModTime().UnixNano(), use: c.clock}
			c.present[sha] = b
			c.used += b.size - size
			line := installLine(sha, b) // under the lock: Open updates b.use
			c.mu.Unlock()
			_ = c.j.append(line, true)
			c.notify([]Event{{Kind: Verified, SHA256: sha, Size: b.size}})
		}
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%w: sha256 %s", ErrHashMismatch, got)
	}
	return c.quarantineBlob(sha, err)
}

// quarantineBlob takes sha out of service and moves its file to quarantine/ for inspection.
func (c *Cache) quarantineBlob(sha string, why error) error {
	c.mu.Lock()
	var size int64
	if b := c.present[sha]; b != nil {
		size = b.size
		delete(c.present, sha)
	} else {
		size = c.unverified[sha]
		delete(c.unverified, sha)
	}
	c.used -= size
	c.quarantine++
	n := c.quarantine
	c.mu.Unlock()
	_ = c.j.append("D "+sha+"\n", true)
	dst := filepath.Join(c.cfg.Dir, "quarantine", sha+"."+strconv.FormatInt(time.Now().UnixNano(), 36)+"."+strconv.Itoa(n))
	if err := os.Rename(c.blobPath(sha), dst); err != nil {
		// Cannot move it aside: delete it rather than leave it where it could be trusted again.
		_ = os.Remove(c.blobPath(sha))
	}
	_ = syncDir(filepath.Dir(c.blobPath(sha)))
	c.cfg.Logger.Warn("cache: blob quarantined", "sha256", sha, "err", why)
	c.notify([]Event{{Kind: Quarantined, SHA256: sha, Size: size, Err: why}})
	return nil
}

// hashFile returns the sha256 of a file read at most lim's rate, and the file's info from before the read.
func hashFile(ctx context.Context, path string, lim *rate.Limiter) (string, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	h := sha256.New()
	buf := make([]byte, verifyChunk)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if err := lim.WaitN(ctx, n); err != nil {
				return "", nil, err
			}
			h.Write(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), fi, nil
}

// VerifyAll hashes every present and unverified blob now, unbounded, in the caller's goroutine, quarantining any
// that fails, and returns how many bytes it read. Boot verification without Serve (tools, benchmarks).
func (c *Cache) VerifyAll(ctx context.Context) (int64, error) {
	c.mu.Lock()
	q := c.verifyQ
	c.verifyQ = nil
	c.mu.Unlock()
	var total int64
	lim := rate.NewLimiter(rate.Inf, verifyChunk)
	for i, sha := range q {
		c.mu.Lock()
		if b := c.present[sha]; b != nil {
			total += b.size
		} else {
			total += c.unverified[sha]
		}
		c.mu.Unlock()
		if err := c.verifyOne(ctx, sha, lim); err != nil && ctx.Err() != nil {
			c.mu.Lock()
			c.verifyQ = append(q[i+1:], c.verifyQ...)
			c.mu.Unlock()
			return total, ctx.Err()
		}
	}
	return total, nil
}
