package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/netns"
	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
)

// The store lab: a "cloud" namespace running `lomuz origin`, a gateway namespace routing the store LAN (a bridge)
// to it over one uplink link, and one namespace per `lomuz node`. The uplink's kernel counters (the gateway's end)
// measure what the store pulls from the cloud.
var (
	uplinkNet = netip.MustParsePrefix("10.99.0.0/30")
	storeNet  = netip.MustParsePrefix("10.98.0.0/24")
)

// meshNodes is the store's size: five players, as the design's reference store.
const meshNodes = 5

type storeLab struct {
	t      *testing.T
	lab    *netns.Lab
	bin    string
	cloud  *netns.NS
	uplink *netns.Iface // the gateway's end of the uplink: RxBytes is what came from the cloud
	gwLAN  netip.Addr
	origin string // origin's URL, reachable from the store via the gateway
	admin  *api.Client
	nodes  []*meshNode
	logDir string
}

type meshNode struct {
	ns    *netns.NS
	iface *netns.Iface
	data  string
	log   string
	cmd   *exec.Cmd
	done  chan error
}

// nsDialer dials from inside ns: the socket is created on a thread switched into it, and stays there.
func nsDialer(ns *netns.NS) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

func nsHTTP(ns *netns.NS) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: nsDialer(ns)}}
}

// startProc runs bin inside ns with its output in logPath, and kills it when the test ends.
func startProc(t *testing.T, ns *netns.NS, logPath string, args ...string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := ns.Command(args[0], args[1:]...)
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", filepath.Base(logPath), tail(string(b), 3000))
		}
	})
	return cmd, done
}

func newStoreLab(t *testing.T) *storeLab {
	t.Helper()
	lab := netns.New(t)
	s := &storeLab{t: t, lab: lab, bin: testenv.Lomuz(t), logDir: t.TempDir()}
	s.cloud = lab.Namespace("cloud")
	gw := lab.Namespace("gw")
	cloudEnd, gwEnd := lab.Connect(s.cloud, gw, uplinkNet)
	s.uplink = gwEnd
	br := lab.Bridge("lan", storeNet)
	gwLAN := br.Attach(gw)
	s.gwLAN = gwLAN.IP()
	gw.Forwarding()
	s.cloud.Route(storeNet, gwEnd.IP())

	data := t.TempDir()
	out, err := exec.Command(s.bin, "origin", "bootstrap", "--data", data, "--tenant", "Mesh chain").CombinedOutput()
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`token\s+(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no token:\n%s", out)
	}
	listen := netip.AddrPortFrom(cloudEnd.IP(), 8080).String()
	s.origin = "http://" + listen
	startProc(t, s.cloud, filepath.Join(s.logDir, "origin.log"), s.bin, "origin", "--data", data, "--listen", listen,
		"--transcode=false")
	hc := nsHTTP(s.cloud)
	waitFor(t, 30*time.Second, "origin to listen", func() bool {
		resp, err := hc.Get(s.origin + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	s.admin, err = api.NewClient(api.ClientConfig{BaseURLs: []string{s.origin}, Credential: string(m[1]), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	for i := range meshNodes {
		ns := lab.Namespace(fmt.Sprintf("n%d", i))
		ifc := br.Attach(ns)
		ns.Route(uplinkNet, s.gwLAN)
		s.nodes = append(s.nodes, &meshNode{ns: ns, iface: ifc, data: t.TempDir(),
			log: filepath.Join(s.logDir, fmt.Sprintf("node%d.log", i))})
	}
	return s
}

// start runs `lomuz node` i with mDNS discovery only (no static peers); token is needed on the first start.
func (s *storeLab) start(i int, token string) {
	s.t.Helper()
	n := s.nodes[i]
	args := []string{s.bin, "node", "--data", n.data, "--origin", s.origin, "--output", "null",
		"--status-listen", "127.0.0.1:7071", "--name", fmt.Sprintf("player %d", i),
		"--mesh", "--mesh-interfaces", n.iface.Name, "--mesh-listen", n.iface.IP().String()}
	if token != "" {
		args = append(args, "--token", token)
	}
	n.cmd, n.done = startProc(s.t, n.ns, n.log, args...)
}

// status reads node i's /status from inside its namespace.
func (s *storeLab) status(ctx context.Context, i int) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:7071/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := nsHTTP(s.nodes[i].ns).Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitAll polls every node's status until ok holds for all of them, within d.
func (s *storeLab) waitAll(ctx context.Context, d time.Duration, what string, ok func(Status) bool) {
	s.t.Helper()
	last := make([]Status, len(s.nodes))
	deadline := time.Now().Add(d)
	for {
		all := true
		for i := range s.nodes {
			st, err := s.status(ctx, i)
			if err != nil || !ok(st) {
				all = false
			}
			last[i] = st
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			for i, st := range last {
				s.t.Logf("node %d: peers %v, cache %+v, downloads %d, sync %v %q", i, st.Peers, st.Cache,
					len(st.Downloads), st.LastSyncAt, st.LastSyncError)
			}
			s.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *storeLab) uplinkRx() uint64 {
	s.t.Helper()
	c, err := s.uplink.Counters()
	if err != nil {
		s.t.Fatal(err)
	}
	return c.RxBytes
}

// TestMeshNetns runs a store of five `lomuz node` processes in network namespaces behind one uplink: they find each
// other by mDNS alone (a), and pull each of 20 large files across the uplink once (b).
func TestMeshNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := newStoreLab(t)

	// 20 WAV files of about 2.3 MB (13 s of 44.1 kHz stereo), uploaded untranscoded so the blobs stay large.
	st, err := s.admin.CreateStore(ctx, api.StoreInput{Name: "Loja Mesh", TimeZone: "America/Sao_Paulo"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var ids []string
	for i := range 20 {
		p := makeTrack(t, dir, fmt.Sprintf("t%02d.wav", i), 220+20*i, 13, 0)
		ids = append(ids, uploadAsset(t, ctx, s.admin, p, fmt.Sprintf("track %d", i), "mesh").ID)
	}
	waitFor(t, 60*time.Second, "assets to be ready", func() bool {
		page, err := s.admin.ListAssets(ctx, "", 100)
		if err != nil {
			return false
		}
		n := 0
		for _, a := range page.Items {
			if a.Status == api.AssetReady {
				n++
			}
		}
		return n == len(ids)
	})
	pl, err := s.admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "Dia", AssetIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.CreateSchedule(ctx, api.ScheduleInput{Scope: api.ScopeStore, StoreID: st.ID,
		PlaylistID: pl.ID, Start: "00:00", End: "00:00"}); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i := range meshNodes {
		z, err := s.admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: fmt.Sprintf("Zona %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: st.ID, ZoneID: z.ID})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok.Token)
	}

	rx0 := s.uplinkRx()
	t0 := time.Now()
	for i := range meshNodes {
		s.start(i, tokens[i])
	}

	// a: every node sees the four others, found by mDNS alone.
	s.waitAll(ctx, 60*time.Second, "every node to see the others", func(st Status) bool {
		return len(st.Peers) == meshNodes-1 && !slices.Contains(st.Peers, st.Device)
	})
	t.Logf("mesh formed in %v", time.Since(t0).Round(time.Millisecond))

	// b: every node holds every file; the uplink carried each about once.
	var unique int64
	s.waitAll(ctx, 150*time.Second, "every node to hold every file", func(st Status) bool {
		if st.Cache.Needed == len(ids) && st.Cache.Present == len(ids) {
			unique = st.Cache.NeededBytes
			return true
		}
		return false
	})
	rx := s.uplinkRx() - rx0
	amp := float64(rx) / float64(unique)
	t.Logf("unique blob bytes %d, uplink bytes %d: %.3fx (naive %dx), all held after %v", unique, rx, amp, meshNodes,
		time.Since(t0).Round(time.Millisecond))
	if unique < 40<<20 {
		t.Fatalf("the files total %d bytes, want >= 40 MiB", unique)
	}
	if amp > 1.05 {
		t.Fatalf("uplink carried %.3fx the unique bytes, want <= 1.05x", amp)
	}
	if out := os.Getenv("LOMUZ_MESH_FIGURES"); out != "" {
		b, _ := json.Marshal(map[string]any{"unique_bytes": unique, "uplink_bytes": rx, "amplification": amp})
		_ = os.WriteFile(out, b, 0o644)
	}
}
