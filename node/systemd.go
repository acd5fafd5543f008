package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifySystemd tells systemd the node is ready and, when the unit sets WatchdogSec, pets the watchdog for as long
// as the node's loop answers: a loop stuck for longer than WatchdogSec gets the process restarted. Outside systemd
// (no NOTIFY_SOCKET) it does nothing.
func notifySystemd(ctx context.Context, r *Runner, log *slog.Logger) error {
	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("systemd notify failed", "err", err)
	} else if !ok {
		return nil // not under systemd
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(interval / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
			return nil
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, interval/3)
			err := r.Ping(sctx)
			cancel()
			if err == nil {
				_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			} else {
				log.Error("node loop not answering; not petting the systemd watchdog", "err", err)
			}
		}
	}
}
