package download

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar draws one self-overwriting line of download progress on a terminal, for `lomuz node`. It is used from one
// goroutine.
type Bar struct {
	out   io.Writer
	width int // columns
	drawn bool
}

// NewBar returns a bar on f, or nil when f is not a terminal (logs, pipes, files get no control characters). A nil
// *Bar is valid and draws nothing.
func NewBar(f *os.File) *Bar {
	if f == nil || !isTerminal(f) {
		return nil
	}
	return &Bar{out: f, width: 80}
}

// Draw replaces the line with the current progress (or clears it when nothing is downloading).
func (b *Bar) Draw(ps []Progress) {
	if b == nil {
		return
	}
	line := FormatLine(ps, b.width-1)
	if line == "" && !b.drawn {
		return
	}
	// \r then erase-to-end-of-line: the previous line may have been longer.
	fmt.Fprint(b.out, "\r"+line+"\x1b[K")
	b.drawn = line != ""
}

// Run redraws the bar from m every interval until ctx ends, then clears it.
func (b *Bar) Run(ctx context.Context, m *Manager, interval time.Duration) {
	if b == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.Draw(nil)
			return
		case <-t.C:
			b.Draw(m.Progress())
		}
	}
}

// FormatLine renders downloads as one line of at most width runes, e.g.
//
//	downloads 2/5 [#######.............] 35%  12.0/34.3 MB  1.2 MB/s  current 3f9a1c..
//
// empty when there is nothing to download. Pure: the same input gives the same line.
func FormatLine(ps []Progress, width int) string {
	if len(ps) == 0 || width <= 0 {
		return ""
	}
	var done, total int64
	var bps float64
	active := 0
	var head *Progress
	for i := range ps {
		p := &ps[i]
		done += min(p.Bytes, p.Total)
		total += p.Total
		if p.State == Active {
			active++
			bps += p.BytesPerSec
			if head == nil {
				head = p
			}
		}
	}
	pct := 0
	if total > 0 {
		pct = int(done * 100 / total)
	}
	const cells = 20
	filled := pct * cells / 100
	line := fmt.Sprintf("downloads %d/%d [%s%s] %3d%%  %s/%s  %s/s", active, len(ps),
		strings.Repeat("#", filled), strings.Repeat(".", cells-filled), pct, mb(done), mb(total), mb(int64(bps)))
	if head != nil {
		line += "  " + head.Priority.String() + " " + head.SHA256[:min(6, len(head.SHA256))] + ".."
	}
	if r := []rune(line); len(r) > width {
		line = string(r[:width])
	}
	return line
}

func mb(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
