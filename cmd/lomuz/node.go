package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/node"
)

func init() {
	cfg := node.DefaultDeviceConfig()
	var origins string
	mesh := node.DefaultLANMeshConfig()
	var meshOn bool
	var meshIfaces, meshListen, staticPeers string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a store node: one player for one sound zone",
		Long: "Runs one player. On its first start it enrolls with origin using a one-time token (--token) and keeps\n" +
			"its credentials in --data; later starts need only --data and --origin. SIGHUP syncs with origin at once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Origins = strings.Split(origins, ",")
			if cfg.Core.SyncInterval < time.Second {
				return fmt.Errorf("--sync-interval %v: want at least 1s", cfg.Core.SyncInterval)
			}
			cfg.Core.SyncJitter = cfg.Core.SyncInterval / 5
			cfg.Logger = newLogger()
			if meshOn {
				if err := meshFlags(&mesh, meshIfaces, meshListen, staticPeers); err != nil {
					return err
				}
				mesh.Log = cfg.Logger.With("part", "mesh")
				cfg.Mesh = node.LANMeshFactory(ctx, mesh)
			}
			// SIGHUP (systemd's reload) syncs with origin now: a change made in the panel reaches the store at
			// once instead of at the next periodic sync, and gossip spreads it from this node.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			cfg.OnReady = func(r *node.Runner) {
				go func() {
					for {
						select {
						case <-hup:
							if !r.RequestSync() {
								cfg.Logger.Warn("sync request dropped: the node is busy; send SIGHUP again")
							}
						case <-ctx.Done():
							return
						}
					}
				}()
			}
			return node.RunDevice(ctx, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&origins, "origin", "http://127.0.0.1:8080", "origin base URL(s), comma-separated, tried in order")
	fl.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: database, blob cache, credentials")
	fl.StringVar(&cfg.Token, "token", "", "one-time enrollment token (first start only)")
	fl.StringVar(&cfg.Name, "name", "", "device name shown in the panel (default: host name)")
	fl.StringVar(&cfg.Output, "output", cfg.Output, "audio output: null, wav:PATH or speaker (needs -tags speaker)")
	fl.StringVar(&cfg.StatusListen, "status-listen", cfg.StatusListen, "status and metrics address (empty: off)")
	fl.Int64Var(&cfg.CacheQuota, "cache-quota", 0, "blob cache quota in bytes (0: the disk is the limit)")
	fl.Int64Var(&cfg.BytesPerSec, "bandwidth", 0, "download rate cap in bytes per second (0: none)")
	fl.Int64Var(&cfg.MemoryLimit, "memory-limit", 48<<20, "Go runtime soft memory limit in bytes (0: none)")
	fl.DurationVar(&cfg.Core.SyncInterval, "sync-interval", cfg.Core.SyncInterval,
		"time between syncs with origin, +-20% jitter")
	fl.Var(&cfg.ClockSkew, "clock-skew", "diagnostics: shift the wall clock the node reads, as "+
		"@RFC3339, +DURATION or -DURATION, optionally followed by xRATE (e.g. \"+8760h\", \"+0 x10\")")
	fl.StringVar(&cfg.Core.AppVersion, "app-version", "dev", "version reported to origin")
	fl.BoolVar(&meshOn, "mesh", false, "join the store mesh (peers on the LAN share catalog, play logs and blobs)")
	fl.StringVar(&meshIfaces, "mesh-interfaces", "", "store LAN interfaces for mDNS discovery, comma-separated")
	fl.StringVar(&meshListen, "mesh-listen", "", "IP to bind gossip and libp2p (default: the first interface's IPv4)")
	fl.IntVar(&mesh.GossipPort, "gossip-port", mesh.GossipPort, "gossip port, UDP and TCP (0: any free port)")
	fl.IntVar(&mesh.TransferPort, "transfer-port", mesh.TransferPort, "libp2p blob transfer TCP port (0: any)")
	fl.DurationVar(&mesh.KeyGrace, "mesh-key-grace", mesh.KeyGrace, "how long a rotated-out mesh key is still "+
		"accepted; a revoked device is shut out of gossip after it")
	fl.StringVar(&staticPeers, "static-peers", "", "gossip addresses of peers (host:port, comma-separated), "+
		"for networks that block multicast")
	root.AddCommand(cmd)
}

// meshFlags parses the mesh flags into cfg.
func meshFlags(cfg *node.LANMeshConfig, ifaces, listen, peers string) error {
	if ifaces != "" {
		cfg.Interfaces = strings.Split(ifaces, ",")
	}
	if listen != "" {
		a, err := netip.ParseAddr(listen)
		if err != nil {
			return fmt.Errorf("--mesh-listen: %w", err)
		}
		cfg.Listen = a
	}
	for _, p := range strings.Split(peers, ",") {
		if p == "" {
			continue
		}
		a, err := netip.ParseAddrPort(p)
		if err != nil {
			return fmt.Errorf("--static-peers: %w", err)
		}
		cfg.StaticPeers = append(cfg.StaticPeers, a)
	}
	return nil
}
