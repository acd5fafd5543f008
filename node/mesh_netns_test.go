package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
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

// meshKeyGrace is how long the lab's nodes accept a rotated-out mesh key: long enough for the store's nodes to
// reboot onto the new key and for the revoked device, still in gossip meanwhile, to ask a peer for a blob at the
// closed gate; short enough to then see it shut out of gossip (the default is 2 min).
const meshKeyGrace = 60 * time.Second

type storeLab struct {
	t      *testing.T
	lab    *netns.Lab
	bin    string
	cloud  *netns.NS
	uplink *netns.Iface // the gateway's end of the uplink: RxBytes is what came from the cloud
	gwUp   netip.Addr   // the gateway's uplink address, the cloud's route back to the store
	gwLAN  netip.Addr
	origin string // origin's URL, reachable from the store via the gateway
	admin  *api.Client
	nodes  []*meshNode
	logDir string
	bridge *netns.Bridge
}

type meshNode struct {
	ns    *netns.NS
	iface *netns.Iface
	data  string
	log   string
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process exited
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

// startProc runs bin inside ns with its output appended to logPath, and kills it when the test ends.
func startProc(t *testing.T, ns *netns.NS, logPath string, args ...string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	cmd := ns.Command(args[0], args[1:]...)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
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
	if dir := os.Getenv("LOMUZ_MESH_LOGS"); dir != "" {
		// Keeps the processes' logs of a passing run too (a failing run prints them).
		t.Cleanup(func() { _ = exec.Command("cp", "-r", s.logDir, dir).Run() })
	}
	s.cloud = lab.Namespace("cloud")
	gw := lab.Namespace("gw")
	cloudEnd, gwEnd := lab.Connect(s.cloud, gw, uplinkNet)
	s.uplink, s.gwUp = gwEnd, gwEnd.IP()
	br := lab.Bridge("lan", storeNet)
	s.bridge = br
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

// zoneToken creates a zone in store storeID and returns an enrollment token for it.
func (s *storeLab) zoneToken(ctx context.Context, storeID, name string) string {
	s.t.Helper()
	z, err := s.admin.CreateZone(ctx, storeID, api.ZoneInput{Name: name})
	if err != nil {
		s.t.Fatal(err)
	}
	tok, err := s.admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: storeID, ZoneID: z.ID})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Token
}

// addNode adds a namespace on the store LAN (routed to the cloud) for one more node and returns its index; start
// runs it.
func (s *storeLab) addNode(short string) int {
	s.t.Helper()
	ns := s.lab.Namespace(short)
	ifc := s.bridge.Attach(ns)
	ns.Route(uplinkNet, s.gwLAN)
	s.nodes = append(s.nodes, &meshNode{ns: ns, iface: ifc, data: s.t.TempDir(),
		log: filepath.Join(s.logDir, fmt.Sprintf("node%d.log", len(s.nodes)))})
	return len(s.nodes) - 1
}

// start runs `lomuz node` i with mDNS discovery only (no static peers); token is needed on the first start.
func (s *storeLab) start(i int, token string, extra ...string) {
	s.t.Helper()
	n := s.nodes[i]
	args := []string{s.bin, "node", "--data", n.data, "--origin", s.origin, "--output", "null",
		"--status-listen", "127.0.0.1:7071", "--name", fmt.Sprintf("player %d", i),
		"--mesh", "--mesh-interfaces", n.iface.Name, "--mesh-listen", n.iface.IP().String(),
		"--mesh-key-grace", meshKeyGrace.String()}
	if token != "" {
		args = append(args, "--token", token)
	}
	args = append(args, extra...)
	n.cmd, n.done = startProc(s.t, n.ns, n.log, args...)
}

// syncNow asks node i to sync with origin at once, as `systemctl reload` does (SIGHUP).
func (s *storeLab) syncNow(i int) {
	s.t.Helper()
	if err := s.nodes[i].cmd.Process.Signal(syscall.SIGHUP); err != nil {
		s.t.Fatalf("node %d: SIGHUP: %v", i, err)
	}
}

// restart kills node i (as a power cut would) and starts it again; it syncs with origin as it boots.
func (s *storeLab) restart(i int) {
	s.t.Helper()
	n := s.nodes[i]
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("node %d did not exit", i)
	}
	s.start(i, "")
}

// originPlays returns the sequence numbers origin holds for device id.
func (s *storeLab) originPlays(ctx context.Context, id string) ([]uint64, error) {
	var seqs []uint64
	cursor := ""
	for range 100 {
		var page api.Page[api.Play]
		if err := s.admin.Do(ctx, "GET", "/v1/plays?device_id="+id+"&limit=500&cursor="+cursor, nil, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			seqs = append(seqs, p.Seq)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	slices.Sort(seqs)
	return slices.Compact(seqs), nil
}

func totalPlays(st Status) int {
	n := 0
	for _, p := range st.Counters.Plays {
		n += p
	}
	return n
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
		for i, n := range s.nodes {
			select {
			case <-n.done:
				continue // killed on purpose: the others are asked
			default:
			}
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
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
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
		tokens = append(tokens, s.zoneToken(ctx, st.ID, fmt.Sprintf("Zona %d", i)))
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
	formed := time.Since(t0)
	t.Logf("mesh formed in %v", formed.Round(time.Millisecond))

	// b: every node holds every file; the uplink carried each about once.
	var unique int64
	s.waitAll(ctx, 150*time.Second, "every node to hold every file", func(st Status) bool {
		if st.Cache.Needed == len(ids) && st.Cache.Present == len(ids) {
			unique = st.Cache.NeededBytes
			return true
		}
		return false
	})
	held := time.Since(t0)
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
	perCloudByte := checkTransfer(ctx, t, s, rx)
	var tenant api.Tenant
	if err := s.admin.Do(ctx, "GET", "/v1/tenant", nil, &tenant); err != nil {
		t.Fatal(err)
	}
	testAvahi(ctx, t, s, tenant.ID, tenant.Name, st.ID, st.MeshID)
	corrupt := testCorruptPeer(ctx, t, s)
	synced, change, spread := testRouteCut(ctx, t, s, pl, ids)
	testUplinkCut(ctx, t, s, (synced+1)%meshNodes)
	testPullerKilled(ctx, t, s, pl)
	testOutsider(ctx, t, s)
	// Last: the revoked device is left running and shut out, which would get in the way of the checks above.
	revoked := testRevoked(ctx, t, s, st.ID)

	if out := os.Getenv("LOMUZ_MESH_FIGURES"); out != "" {
		b, _ := json.Marshal(map[string]any{"nodes": meshNodes, "unique_bytes": unique, "uplink_bytes": rx,
			"amplification": amp, "formed_s": formed.Seconds(), "held_s": held.Seconds(), "change_s": change.Seconds(),
			"record_spread_s":         spread.Seconds(),
			"uplink_per_counted_byte": perCloudByte, "corrupt_peer_s": corrupt.Seconds(),
			"revoked_out_s": revoked.Seconds(), "key_grace_s": meshKeyGrace.Seconds()})
		_ = os.WriteFile(out, b, 0o644)
	}
}

// testRouteCut (d): one node loses its route to the cloud; a new track added to the playlist reaches it, records and
// blob, through its peers. The node cut is the last in the new blob's pull ranking, so the pull and the spread are
// measured without a failing cloud pull in the way. The first-ranked node is asked to sync (SIGHUP) and pulls it;
// spread is how long the changed record took to reach every node once one had it.
func testRouteCut(ctx context.Context, t *testing.T, s *storeLab, pl api.Playlist, ids []string) (synced int,
	took, spread time.Duration) {
	t.Helper()
	p := makeTrack(t, t.TempDir(), "new.wav", 990, 13, 0)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	devs := map[string]int{}
	var before Status
	for _, i := range s.live() {
		st, err := s.status(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		devs[st.Device] = i
	}
	ranked := rankPullers(hex.EncodeToString(sum[:]), slices.Collect(maps.Keys(devs)))
	cut, first := devs[ranked[len(ranked)-1]], devs[ranked[0]]
	n := s.nodes[cut]
	if out, err := exec.Command("ip", "-n", n.ns.Name, "route", "del", uplinkNet.String()).CombinedOutput(); err != nil {
		t.Fatalf("cut node %d's route: %v: %s", cut, err, out)
	}
	if before, err = s.status(ctx, cut); err != nil {
		t.Fatal(err)
	}
	a := uploadAsset(t, ctx, s.admin, p, "new track", "mesh")
	waitFor(t, 30*time.Second, "the new asset to be ready", func() bool {
		page, err := s.admin.ListAssets(ctx, "", 100)
		return err == nil && slices.ContainsFunc(page.Items, func(x api.Asset) bool {
			return x.ID == a.ID && x.Status == api.AssetReady
		})
	})
	in := api.PlaylistInput{Name: pl.Name, AssetIDs: append(slices.Clone(ids), a.ID)}
	if err := s.admin.Do(ctx, "PUT", "/v1/playlists/"+pl.ID, in, nil); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.syncNow(first)
	want := len(ids) + 1
	spread = s.recordSpread(ctx, func(st Status) bool { return st.Cache.Needed == want })
	s.waitAll(ctx, 90*time.Second, "every node to hold the new track", func(st Status) bool {
		return st.Cache.Needed == want && st.Cache.Present == want
	})
	after, err := s.status(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	// Needing the new track means the cut node holds the changed playlist record, which only peers could give it.
	if after.Counters.BlobsFromPeers <= before.Counters.BlobsFromPeers ||
		after.Counters.BlobsFromCloud != before.Counters.BlobsFromCloud {
		t.Fatalf("node %d without a route: blobs from peers %d -> %d, from the cloud %d -> %d", cut,
			before.Counters.BlobsFromPeers, after.Counters.BlobsFromPeers, before.Counters.BlobsFromCloud,
			after.Counters.BlobsFromCloud)
	}
	took = time.Since(t0)
	t.Logf("d: node %d got the change through peers in %v; the record was on every node %v after the first had it",
		cut, took.Round(time.Millisecond), spread.Round(time.Millisecond))
	n.ns.Route(uplinkNet, s.gwLAN)
	return first, took, spread
}

// recordSpread waits until has holds on every node (within 90 s) and returns the time from the first node whose
// catalog changed to the last, by the nodes' own trusted-time stamps (CatalogChangedAt; the nodes share the host's
// clock): how long a catalog change takes to converge over the mesh once one node synced it.
func (s *storeLab) recordSpread(ctx context.Context, has func(Status) bool) time.Duration {
	s.t.Helper()
	var sts map[string]Status
	waitFor(s.t, 90*time.Second, "a catalog change to reach every node", func() bool {
		sts = map[string]Status{}
		for _, i := range s.live() {
			st, err := s.status(ctx, i)
			if err != nil || !has(st) {
				return false
			}
			sts[st.Device] = st
		}
		return true
	})
	var first, last time.Time
	for _, st := range sts {
		at := st.CatalogChangedAt
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	for _, st := range sts {
		s.t.Logf("d: %s had the change %v after the first", st.Device[:8], st.CatalogChangedAt.Sub(first))
	}
	return last.Sub(first)
}

// testUplinkCut (e): the store's uplink goes down (the gateway's end, so syncs fail at once with "unreachable" rather
// than hang); node r reboots meanwhile, and its first sync fails. Every node keeps playing. Once the uplink is back,
// node r's retry (after the sync backoff) relays the play logs gossiped to it during the outage: every node's plays
// reach origin through node r. Then none may be missing: for every node, origin must hold 1..N without a gap, N
// being the last sequence number the node had persisted. Node r's relayed copy may have holes (events not yet
// gossiped to it); those are not acknowledged, so each node still holds them, and delivers them itself with its
// own sync: a node whose log origin lacks part of is asked to sync (SIGHUP) rather than waiting for its periodic
// sync.
func testUplinkCut(ctx context.Context, t *testing.T, s *storeLab, r int) {
	t.Helper()
	if err := s.uplink.SetUp(false); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	healed := false
	defer func() {
		if !healed {
			_ = s.uplink.SetUp(true)
		}
	}()
	s.restart(r)
	start := map[string]int{}
	for _, i := range s.live() {
		var st Status
		waitFor(t, 20*time.Second, "status", func() bool {
			var err error
			st, err = s.status(ctx, i)
			return err == nil
		})
		start[st.Device] = totalPlays(st)
	}
	played := map[string]int{}
	s.waitAll(ctx, 90*time.Second, "every node to play two more tracks without the uplink", func(st Status) bool {
		played[st.Device] = totalPlays(st)
		return st.NowPlaying != nil && totalPlays(st) >= start[st.Device]+2
	})
	t.Logf("e: every node played on for %v without the uplink", time.Since(cut).Round(time.Millisecond))
	if err := s.uplink.SetUp(true); err != nil {
		t.Fatal(err)
	}
	healed = true
	t0 := time.Now()
	waitFor(t, 90*time.Second, "every node's plays at origin after the uplink returned", func() bool {
		for dev := range played {
			if seqs, err := s.originPlays(ctx, dev); err != nil || len(seqs) == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("e: plays of all %d nodes at origin %v after the uplink returned", len(played),
		time.Since(t0).Round(time.Millisecond))

	// None lost: what each node persisted reaches origin, whole.
	last := map[string]uint64{}
	for dev, st := range s.statuses(ctx) {
		last[dev] = st.Plays.LastSeq
	}
	t1 := time.Now()
	asked := map[string]bool{}
	holes := func(dev string) string {
		seqs, err := s.originPlays(ctx, dev)
		if err != nil {
			return err.Error()
		}
		if n := uint64(len(seqs)); n < last[dev] || (n > 0 && seqs[n-1] != n) {
			return fmt.Sprintf("%d persisted, origin holds %s", last[dev], seqRanges(seqs))
		}
		return ""
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		var bad []string
		for _, i := range s.live() {
			st, err := s.status(ctx, i)
			if err != nil {
				continue // not answering this round: asked again in the next
			}
			if h := holes(st.Device); h != "" {
				bad = append(bad, fmt.Sprintf("node %d (%s): %s", i, st.Device[:8], h))
				if !asked[st.Device] {
					t.Logf("e: node %d's log at origin after the relay: %s; asking it to sync", i, h)
					asked[st.Device] = true
					s.syncNow(i)
				}
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("play events persisted by nodes are missing at origin:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("e: origin holds every play each node persisted (%v), %d node(s) asked to sync to deliver their own, "+
		"whole after %v", last, len(asked), time.Since(t1).Round(time.Millisecond))
	s.waitAll(ctx, 60*time.Second, "the mesh to re-form", func(st Status) bool { return len(st.Peers) == meshNodes-1 })
}

// seqRanges prints sorted sequence numbers as ranges: [1-40 42-57].
func seqRanges(seqs []uint64) string {
	var b strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", seqs[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", seqs[i], seqs[j])
		}
		i = j + 1
	}
	return "[" + b.String() + "]"
}

// testPullerKilled (c): the uplink is shaped to 20 Mbit/s; a large new file's first-ranked puller (rebooted to fetch
// the change at once) is killed after about 15% of it crossed the uplink; another node finishes the pull and every
// live node gets the file, with at most 1.3x its size across the uplink.
func testPullerKilled(ctx context.Context, t *testing.T, s *storeLab, pl api.Playlist) {
	t.Helper()
	p := makeTrack(t, t.TempDir(), "big.wav", 440, 180, 0) // 31.8 MB
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(b))
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	devs := map[string]int{}
	for _, i := range s.live() {
		st, err := s.status(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		devs[st.Device] = i
	}
	puller := devs[rankPullers(sha, slices.Collect(maps.Keys(devs)))[0]]
	a := uploadAsset(t, ctx, s.admin, p, "big track", "mesh")
	waitFor(t, 30*time.Second, "the big asset to be ready", func() bool {
		page, err := s.admin.ListAssets(ctx, "", 100)
		return err == nil && slices.ContainsFunc(page.Items, func(x api.Asset) bool {
			return x.ID == a.ID && x.Status == api.AssetReady
		})
	})
	var cur api.Playlist
	if err := s.admin.Do(ctx, "GET", "/v1/playlists/"+pl.ID, nil, &cur); err != nil {
		t.Fatal(err)
	}
	if err := s.admin.Do(ctx, "PUT", "/v1/playlists/"+pl.ID, api.PlaylistInput{Name: cur.Name,
		AssetIDs: append(cur.AssetIDs, a.ID)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.uplink.Peer.Shape(netns.Shaping{RateBits: 20_000_000}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.uplink.Peer.Shape(netns.Shaping{}) }()
	rx0 := s.uplinkRx()
	t0 := time.Now()
	s.restart(puller)
	var got int64
	deadline := time.Now().Add(60 * time.Second)
	for got < size*15/100 {
		if time.Now().After(deadline) {
			for i, st := range s.statuses(ctx) {
				t.Logf("node %s: sync %v %q, revision %d, cache %+v, pending schedules %d, peers %v, downloads %+v",
					i[:8], st.LastSyncAt, st.LastSyncError, st.Revision, st.Cache, st.PendingSchedules, st.Peers,
					st.Downloads)
			}
			t.Fatalf("node %d never pulled 15%% of the big file (at %d bytes)", puller, got)
		}
		if st, err := s.status(ctx, puller); err == nil {
			for _, d := range st.Downloads {
				if d.SHA256 == sha && d.Peer == "" {
					got = d.Bytes
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = s.nodes[puller].cmd.Process.Kill()
	<-s.nodes[puller].done
	killed := time.Since(t0)
	s.waitAll(ctx, 150*time.Second, "every live node to hold the big file", func(st Status) bool {
		return slices.ContainsFunc(st.Downloads, func(d DownloadStatus) bool { return d.SHA256 == sha }) == false &&
			st.Cache.Needed == st.Cache.Present && st.Cache.NeededBytes >= size
	})
	rx := s.uplinkRx() - rx0
	amp := float64(rx) / float64(size)
	t.Logf("c: node %d killed at %d of %d bytes after %v; all live nodes held it after %v; uplink %.3fx the file",
		puller, got, size, killed.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), amp)
	if amp > 1.3 {
		for dev, st := range s.statuses(ctx) {
			t.Logf("node %s: from the cloud %d bytes (%d blobs), from peers %v, bad sources %v", dev[:8],
				st.Transfer.FromCloudBytes, st.Counters.BlobsFromCloud, st.Transfer.FromPeer, st.Transfer.BadSources)
		}
		t.Fatalf("uplink carried %.3fx the file, want <= 1.3x", amp)
	}
}

// testOutsider (f, first part): a node of another store on the same LAN, told node 0's gossip address as a static
// peer, joins nobody: discovery ignores its mesh id and memberlist cannot decrypt it (another key).
func testOutsider(ctx context.Context, t *testing.T, s *storeLab) {
	t.Helper()
	st, err := s.admin.CreateStore(ctx, api.StoreInput{Name: "Outra loja", TimeZone: "America/Sao_Paulo"})
	if err != nil {
		t.Fatal(err)
	}
	tok := s.zoneToken(ctx, st.ID, "Z")
	i := s.addNode("out")
	s.start(i, tok, "--static-peers", netip.AddrPortFrom(s.nodes[0].iface.IP(), 7946).String())
	var outsider string
	waitFor(t, 30*time.Second, "the outsider to run", func() bool {
		st, err := s.status(ctx, i)
		outsider = st.Device
		return err == nil && outsider != ""
	})
	// Ten seconds is several re-join rounds (1 s probes, 10 s re-join) and discovery rounds (4 s).
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		for j := range s.nodes {
			select {
			case <-s.nodes[j].done:
				continue
			default:
			}
			st, err := s.status(ctx, j)
			if err != nil {
				continue
			}
			if j == i && len(st.Peers) > 0 {
				t.Fatalf("the other store's node sees peers %v", st.Peers)
			}
			if j != i && slices.Contains(st.Peers, outsider) {
				t.Fatalf("node %d lists the other store's node as a peer", j)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("f: the other store's node joined nobody in 10 s")
}
