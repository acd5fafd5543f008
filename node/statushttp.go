package node

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lomuz/lomuz/player/schedule"
)

// statusServer serves /status (JSON), /metrics (Prometheus) and /healthz for one node.
type statusServer struct {
	ln   net.Listener
	addr string
	srv  *http.Server
}

func newStatusServer(listen string, r *Runner) (*statusServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&countersCollector{r: r})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		st, err := r.Status(ctx)
		if err != nil {
			http.Error(w, "node loop busy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		if err := r.Ping(ctx); err != nil {
			http.Error(w, "loop not answering", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &statusServer{ln: ln, addr: ln.Addr().String(),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

func (s *statusServer) serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
	}()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// countersCollector exports the runner's counters; it reads the copy the loop publishes, never the core.
type countersCollector struct{ r *Runner }

var (
	descSyncs    = prometheus.NewDesc("lomuz_node_syncs_total", "Sync attempts by outcome.", []string{"outcome"}, nil)
	descPulls    = prometheus.NewDesc("lomuz_node_fetches_started_total", "Blob fetches started by source.", []string{"source"}, nil)
	descBlobs    = prometheus.NewDesc("lomuz_node_blobs_fetched_total", "Blobs installed by source.", []string{"source"}, nil)
	descPlays    = prometheus.NewDesc("lomuz_node_plays_total", "Plays by fallback level.", []string{"level"}, nil)
	descDeadAir  = prometheus.NewDesc("lomuz_node_dead_air_total", "Silence reports from the output watchdog.", nil, nil)
	descDecode   = prometheus.NewDesc("lomuz_node_decode_failures_total", "Tracks the engine could not decode.", nil, nil)
	descGossip   = prometheus.NewDesc("lomuz_node_gossip_total", "Gossip payloads by direction.", []string{"dir"}, nil)
	descRejected = prometheus.NewDesc("lomuz_node_rejected_total", "Inputs rejected by kind.", []string{"kind"}, nil)
	descWarnings = prometheus.NewDesc("lomuz_node_warnings_total", "Warnings logged.", nil, nil)
	descRecvd    = prometheus.NewDesc("lomuz_node_blob_bytes_received_total",
		"Blob bytes received, by source (cloud or peer) and peer device id (empty for the cloud); payload only.",
		[]string{"source", "peer"}, nil)
	descServed = prometheus.NewDesc("lomuz_node_blob_bytes_served_total", "Blob bytes served to each peer device.",
		[]string{"peer"}, nil)
)

func (c *countersCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSyncs, descPulls, descBlobs, descPlays, descDeadAir, descDecode,
		descGossip, descRejected, descWarnings, descRecvd, descServed} {
		ch <- d
	}
}

func (c *countersCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.r.Counters()
	counter := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descSyncs, n.Syncs-n.SyncFailures, "ok")
	counter(descSyncs, n.SyncFailures, "failed")
	counter(descPulls, n.CloudPulls, "cloud")
	counter(descPulls, n.PeerPulls, "peer")
	counter(descBlobs, n.BlobsFromCloud, "cloud")
	counter(descBlobs, n.BlobsFromPeers, "peer")
	for l := schedule.LevelScheduled; l <= schedule.LevelSilence; l++ {
		counter(descPlays, n.Plays[l], levelString(l))
	}
	counter(descDeadAir, n.DeadAir)
	counter(descDecode, n.DecodeFailures)
	counter(descGossip, n.GossipSent, "sent")
	counter(descGossip, n.GossipReceived, "received")
	counter(descGossip, n.GossipDirect, "direct")
	counter(descRejected, n.GossipRejected, "gossip")
	counter(descRejected, n.RecordsRejected, "record")
	counter(descRejected, n.ManifestsRejected, "manifest")
	counter(descWarnings, n.Warnings)
	bytes := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	tr := c.r.Transfer()
	bytes(descRecvd, tr.FromCloudBytes, "cloud", "")
	for p, v := range tr.FromPeer {
		bytes(descRecvd, v, "peer", p)
	}
	for p, v := range tr.ServedTo {
		bytes(descServed, v, p)
	}
	counter(descRejected, int(tr.RefusedConns), "peer_connection")
}
