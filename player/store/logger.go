package store

import (
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger forwards badger's warnings and errors to slog and drops its chatty info and debug lines (one per
// compaction and table open).
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}

func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
