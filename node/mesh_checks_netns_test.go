package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
)

// Parts of the store lab (mesh_netns_test.go) that look at the mesh from outside or break one of its nodes.

// live lists the indexes of the lab's store nodes (not the other store's) whose process runs.
func (s *storeLab) live() []int {
	var out []int
	for i := range min(len(s.nodes), meshNodes) {
		select {
		case <-s.nodes[i].done:
		default:
			out = append(out, i)
		}
	}
	return out
}

// mustStatus reads node i's status, asking again for up to 30 s while the node's loop is too busy to answer (503)
// on this shared machine; it fails the test after that.
func (s *storeLab) mustStatus(ctx context.Context, i int) Status {
	s.t.Helper()
	var st Status
	var err error
	waitFor(s.t, 30*time.Second, fmt.Sprintf("node %d's status", i), func() bool {
		st, err = s.status(ctx, i)
		return err == nil
	})
	return st
}

// statuses reads the status of every live store node, by device id.
func (s *storeLab) statuses(ctx context.Context) map[string]Status {
	s.t.Helper()
	out := map[string]Status{}
	for _, i := range s.live() {
		st := s.mustStatus(ctx, i)
		out[st.Device] = st
	}
	return out
}

// metric reads one sample of node i's /metrics by its exact name and labels as exposed (`name{a="x",b="y"}`).
func (s *storeLab) metric(ctx context.Context, i int, series string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:7071/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := nsHTTP(s.nodes[i].ns).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("series %s not in node %d's metrics", series, i)
}

// checkTransfer (b) cross-checks the nodes' own byte counts with the kernel's: what they say came from the cloud
// crossed the uplink (rx bytes since they started; the uplink also carries syncs, HTTP and TCP/IP headers, within
// 5% plus 1 MiB), and every byte one node says it got from a peer, that peer says it served.
func checkTransfer(ctx context.Context, t *testing.T, s *storeLab, rx uint64) (uplinkPerCloudByte float64) {
	t.Helper()
	sts := s.statuses(ctx)
	var cloud, fromPeers, served int64
	for dev, st := range sts {
		cloud += st.Transfer.FromCloudBytes
		fromPeers += st.Transfer.FromPeersBytes
		served += st.Transfer.ServedBytes
		for p, n := range st.Transfer.FromPeer {
			t.Logf("b: %s got %d bytes from %s, which says it served it %d", dev[:8], n, p[:8],
				sts[p].Transfer.ServedTo[dev])
		}
	}
	t.Logf("b: nodes got %d bytes from the cloud (uplink carried %d: %.4fx), %d from peers; peers served %d",
		cloud, rx, float64(rx)/float64(cloud), fromPeers, served)
	if cloud > int64(rx) || float64(rx) > 1.05*float64(cloud)+(1<<20) {
		t.Fatalf("the nodes count %d bytes from the cloud, the uplink carried %d", cloud, rx)
	}
	if d := fromPeers - served; d > fromPeers/50+(1<<20) || -d > fromPeers/50+(1<<20) {
		t.Fatalf("the nodes got %d bytes from peers, and served %d", fromPeers, served)
	}
	st := s.mustStatus(ctx, 0)
	v, err := s.metric(ctx, 0, `lomuz_node_blob_bytes_received_total{peer="",source="cloud"}`)
	if err != nil || int64(v) != st.Transfer.FromCloudBytes {
		t.Fatalf("node 0's metrics say %v bytes from the cloud (err %v), its status %d", v, err,
			st.Transfer.FromCloudBytes)
	}
	return float64(rx) / float64(cloud)
}

// testAvahi (a') browses the mesh with avahi-browse, a DNS-SD browser that is not ours, from a namespace of its own
// on the store LAN. avahi-browse talks to avahi-daemon over the D-Bus system bus, so the namespace also gets a
// private /run (a mount namespace of its own) with its own dbus-daemon and avahi-daemon: nothing is shared with the
// host's bus or with another test's daemon. Every node must be listed with its TXT fields, none of which may name
// the tenant or the store.
func testAvahi(ctx context.Context, t *testing.T, s *storeLab, tenantID, tenantName, storeID, meshID string) {
	t.Helper()
	for _, tool := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon", "unshare"} {
		testenv.Tool(t, tool)
	}
	ns := s.lab.Namespace("avahi")
	s.bridge.Attach(ns)
	sts := s.statuses(ctx)
	// The script polls avahi-browse (which dumps what the daemon found so far) until every node is resolved, at most
	// 40 times, then stops both daemons; the lab kills whatever survives when it deletes the namespace.
	script := `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus
bus=$(dbus-daemon --system --fork --print-pid)
avahi-daemon --no-drop-root --no-chroot --no-rlimits -D
out=
for i in $(seq 1 40); do
  out=$(avahi-browse -rtp _lomuz._tcp 2>/dev/null || true)
  if [ "$(printf '%s\n' "$out" | grep -c '^=;.*;IPv4;lomuz-')" -ge "$1" ]; then break; fi
  sleep 0.5
done
printf '%s\n' "$out"
avahi-daemon -k || true
kill "$bus" || true
`
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t0 := time.Now()
	cmd := exec.CommandContext(cctx, "ip", "netns", "exec", ns.Name, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", script, "avahi", strconv.Itoa(len(sts)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("avahi in its namespace: %v\n%s\n%s", err, out, stderr.String())
	}
	// Resolved lines: =;iface;IPv4;instance;type;domain;host;address;port;"k=v" "k=v"...
	found := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.SplitN(l, ";", 10)
		if len(f) == 10 && f[0] == "=" && f[2] == "IPv4" && f[4] == "_lomuz._tcp" {
			found[strings.TrimPrefix(f[3], "lomuz-")] = l
		}
	}
	for dev, st := range sts {
		l, ok := found[dev]
		if !ok {
			t.Fatalf("avahi-browse did not resolve node %s:\n%s", dev, out)
		}
		f := strings.SplitN(l, ";", 10)
		i := slices.IndexFunc(s.nodes, func(n *meshNode) bool { return n.iface.IP().String() == f[7] })
		if i < 0 || f[8] != "7946" {
			t.Fatalf("avahi resolved %s at %s port %s, not a store node's gossip address", dev, f[7], f[8])
		}
		for _, kv := range []string{`"v=1"`, `"node=` + st.Device + `"`, `"mesh=` + meshID + `"`, `"gport=7946"`,
			`"tport=7947"`, `"p2p=`} {
			if !strings.Contains(f[9], kv) {
				t.Fatalf("TXT of %s lacks %s: %s", dev, kv, f[9])
			}
		}
		for _, secret := range []string{tenantID, tenantName, storeID} {
			if strings.Contains(strings.ToLower(l), strings.ToLower(secret)) {
				t.Fatalf("the announcement of %s reveals %q: %s", dev, secret, l)
			}
		}
	}
	t.Logf("a': avahi-browse resolved all %d nodes with their TXT in %v; no tenant or store in it", len(sts),
		time.Since(t0).Round(time.Millisecond))
}

// blobPath is where node n's cache keeps blob sha (player/cache's layout under the node's data directory).
func (n *meshNode) blobPath(sha string) string {
	return filepath.Join(n.data, "blobs", "blobs", sha[:2], sha)
}

// testCorruptPeer (f, second part): a blob file is corrupted in place (same size) on the disk of serving nodes while
// they run: their caches trust what they verified at install, so they serve the bad bytes. Another node that lost
// the blob (removed from its disk while stopped) asks its peers in its LAN ranking order: every holder but the
// last-ranked serves bad bytes, so whichever it asks first (by the time it decides it may not see every peer yet)
// is bad. It must drop each peer that served bad bytes as a source and get the blob from the sound one; its cache
// never installs, so never plays, the bad bytes.
func testCorruptPeer(ctx context.Context, t *testing.T, s *storeLab) (took time.Duration) {
	t.Helper()
	devIdx := map[string]int{}
	for _, i := range s.live() {
		st := s.mustStatus(ctx, i)
		devIdx[st.Device] = i
	}
	f := s.live()[0]
	fetcher := s.nodes[f]
	var fdev string
	var holders []string
	for dev, i := range devIdx {
		if i == f {
			fdev = dev
		} else {
			holders = append(holders, dev)
		}
	}
	ents, err := filepath.Glob(filepath.Join(fetcher.data, "blobs", "blobs", "*", "*"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("no blobs in node %d's cache (%v)", f, err)
	}
	slices.Sort(ents)
	sha := filepath.Base(ents[0])
	ranked := rankPullers(sha+"/lan/"+fdev, holders)
	corrupted, sound := ranked[:len(ranked)-1], ranked[len(ranked)-1]
	good, err := os.ReadFile(fetcher.blobPath(sha))
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	for i := len(bad) / 2; i < len(bad)/2+64<<10 && i < len(bad); i++ {
		bad[i] ^= 0xff
	}
	// Put the good bytes back afterwards, so the rest of the run has a sound store (a node would re-hash the file
	// at its next boot, since its mtime changed, and quarantine it).
	for _, dev := range corrupted {
		path := s.nodes[devIdx[dev]].blobPath(sha)
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.WriteFile(path, good, 0o644); err != nil {
				t.Error(err)
			}
		}()
	}
	_ = fetcher.cmd.Process.Kill()
	<-fetcher.done
	if err := os.Remove(fetcher.blobPath(sha)); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.start(f, "")
	var st Status
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err = s.status(ctx, f)
		if err == nil && st.Cache.Needed > 0 && st.Cache.Present == st.Cache.Needed && len(st.Downloads) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d did not get blob %s… back in 90 s: err %v, cache %+v, downloads %+v, transfer %+v",
				f, sha[:8], err, st.Cache, st.Downloads, st.Transfer)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took = time.Since(t0)
	if len(st.Transfer.BadSources) == 0 {
		t.Fatalf("node %d got the blob without asking a peer with bad bytes (from %v)", f, st.Transfer.FromPeer)
	}
	for _, dev := range st.Transfer.BadSources {
		if !slices.Contains(corrupted, dev) {
			t.Fatalf("node %d dropped %s as a source, which served sound bytes", f, dev)
		}
		if st.Transfer.FromPeer[dev] == 0 {
			t.Fatalf("node %d dropped %s but counts no bytes from it", f, dev)
		}
		if bs := s.mustStatus(ctx, devIdx[dev]); bs.Transfer.ServedTo[fdev] == 0 {
			t.Fatalf("the corrupt peer's status does not show what it served node %d: %v", f, bs.Transfer.ServedTo)
		}
	}
	if st.Transfer.FromCloudBytes != 0 {
		t.Fatalf("node %d went to the cloud (%d bytes) though peers held the blob", f, st.Transfer.FromCloudBytes)
	}
	if st.Transfer.FromPeer[sound] < int64(len(good)) {
		t.Fatalf("node %d got %v from peers: want the whole blob (%d) from %s, the sound one", f,
			st.Transfer.FromPeer, len(good), sound[:8])
	}
	got, err := os.ReadFile(fetcher.blobPath(sha))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != sha {
		t.Fatalf("node %d's cache holds bytes that do not hash to %s", f, sha)
	}
	if q, _ := filepath.Glob(filepath.Join(fetcher.data, "blobs", "partial", "*")); len(q) > 0 {
		t.Fatalf("node %d kept partial files %v", f, q)
	}
	t.Logf("f: node %d restarted without blob %s…; %d peer(s) served it bad bytes, dropped; the blob from the "+
		"sound one %v after the restart (bytes from peers %v)", f, sha[:8], len(st.Transfer.BadSources),
		took.Round(time.Millisecond), st.Transfer.FromPeer)
	return took
}

// testRevoked (f, revoked device): a sixth device of the store is enrolled and brings the signed device list that
// names it: gossip spreads the list, every gate admits the device, and it fetches the store's content from its
// peers. Then it is revoked through the admin API. Origin rotates the store's mesh key and re-signs the device list
// without it; one of the five is asked to sync (SIGHUP) and learns both from origin, and the other four get them
// from it: the rotated key by the key hand-over over libp2p, the list by gossip (then each syncs for itself).
// Every node's list, which is what its transfer gate admits, drops the device. A node restarted with origin out of
// reach comes back on the rotated key it kept. Then the revoked device: cannot sync
// (revoked), is out of gossip (it holds only the old key, which its peers stop reading after the key grace), has its
// libp2p connections refused by every peer's gate (counted by the peers), gets no byte of a blob it lost, and what
// it plays afterwards reaches no node. The five keep working together.
func testRevoked(ctx context.Context, t *testing.T, s *storeLab, storeID string) (out time.Duration) {
	t.Helper()
	tok := s.zoneToken(ctx, storeID, "Zona revogada")
	live := s.live()
	x := s.addNode("rev")
	xn := s.nodes[x]
	defer func() {
		_ = xn.cmd.Process.Kill()
		<-xn.done
	}()
	s.start(x, tok)
	var xdev string
	waitFor(t, 30*time.Second, "the sixth device to sync", func() bool {
		st, err := s.status(ctx, x)
		xdev = st.Device
		return err == nil && !st.LastSyncAt.IsZero() && slices.Contains(st.Devices, xdev)
	})
	s.waitDevices(ctx, live, xdev, true)
	waitFor(t, 2*time.Minute, "the sixth device to join and fetch the store's content", func() bool {
		st, err := s.status(ctx, x)
		return err == nil && len(st.Peers) == len(live) && st.Cache.Needed > 0 && st.Cache.Present == st.Cache.Needed &&
			st.Transfer.FromPeersBytes > 0
	})

	epoch := s.mustStatus(ctx, x).Transfer.MeshKeyEpoch
	t0 := time.Now()
	if _, err := s.admin.RevokeDevice(ctx, xdev); err != nil {
		t.Fatal(err)
	}
	s.syncNow(live[0])
	s.waitDevices(ctx, live, xdev, false)
	gated := time.Since(t0)
	// The four got the key from live[0]; the shorter list they got by gossip makes each sync for itself too.
	waitFor(t, time.Minute, "every node to hold the rotated mesh key, confirmed by origin", func() bool {
		for _, i := range live {
			if st, err := s.status(ctx, i); err != nil || st.Transfer.MeshKeyEpoch != epoch+1 ||
				st.Transfer.MeshKeyFromPeer {
				return false
			}
		}
		return true
	})
	// A node restarted with no way to origin comes back with the rotated key it kept on disk: its peers at once,
	// and no key from a peer (which would show as handed over).
	k := live[1]
	_ = s.nodes[k].cmd.Process.Kill()
	<-s.nodes[k].done
	s.start(k, "", "--origin", "http://127.0.0.1:9")
	waitFor(t, time.Minute, "the restarted node to find its mesh again", func() bool {
		st, err := s.status(ctx, k)
		return err == nil && len(st.Peers) == len(live)-1 && !slices.Contains(st.Peers, xdev)
	})
	if st := s.mustStatus(ctx, k); st.Transfer.MeshKeyEpoch != epoch+1 || st.Transfer.MeshKeyFromPeer {
		t.Fatalf("node %d restarted with mesh key epoch %d (from a peer: %v), want %d kept from origin", k,
			st.Transfer.MeshKeyEpoch, st.Transfer.MeshKeyFromPeer, epoch+1)
	}
	refused := func() (n uint64) {
		for _, i := range live {
			n += s.mustStatus(ctx, i).Transfer.RefusedConns
		}
		return n
	}
	refusedBefore := refused()
	// The revoked device loses a blob and reboots: origin refuses its sync, and no peer gives it the blob.
	ents, err := filepath.Glob(filepath.Join(xn.data, "blobs", "blobs", "*", "*"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("no blobs in the revoked device's cache (%v)", err)
	}
	_ = xn.cmd.Process.Kill()
	<-xn.done
	if err := os.Remove(ents[0]); err != nil {
		t.Fatal(err)
	}
	s.start(x, "")
	waitFor(t, 60*time.Second, "origin to refuse the revoked device", func() bool {
		st, err := s.status(ctx, x)
		return err == nil && st.Revoked
	})
	// Out of gossip, it asks the peers mDNS shows it for a newer key over libp2p: every gate refuses it.
	waitFor(t, time.Minute, "the peers' gates to refuse the revoked device's libp2p connections", func() bool {
		return refused() > refusedBefore
	})
	waitFor(t, 3*time.Minute, "the revoked device to be out of gossip", func() bool {
		st, err := s.status(ctx, x)
		if err != nil || len(st.Peers) > 0 {
			return false
		}
		for _, i := range live {
			if st, err := s.status(ctx, i); err != nil || slices.Contains(st.Peers, xdev) {
				return false
			}
		}
		return true
	})
	out = time.Since(t0)

	// What it plays from now on reaches nobody: watched for 10 s past its next play (gossip carries a play to
	// every node in well under a second).
	var seen uint64
	for _, i := range live {
		st := s.mustStatus(ctx, i)
		seen = max(seen, st.StorePlays[xdev].LastSeq)
	}
	waitFor(t, 4*time.Minute, "the revoked device to play on", func() bool {
		st, err := s.status(ctx, x)
		return err == nil && st.Plays.LastSeq > seen
	})
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		xs := s.mustStatus(ctx, x)
		if len(xs.Peers) > 0 || xs.Transfer.FromPeersBytes > 0 || xs.Cache.Present == xs.Cache.Needed ||
			xs.Transfer.MeshKeyEpoch != epoch {
			t.Fatalf("the revoked device got peers %v, %d bytes from peers, %d of %d blobs, mesh key epoch %d",
				xs.Peers, xs.Transfer.FromPeersBytes, xs.Cache.Present, xs.Cache.Needed, xs.Transfer.MeshKeyEpoch)
		}
		for _, i := range live {
			st := s.mustStatus(ctx, i)
			if got := st.StorePlays[xdev].LastSeq; got > seen {
				t.Fatalf("node %d took play %d of the revoked device (its log was at %d when it was shut out)", i,
					got, seen)
			}
			if len(st.Peers) != len(live)-1 {
				t.Fatalf("node %d sees peers %v: the store's nodes must keep their mesh", i, st.Peers)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("f: revoked device %s: every gate closed %v after the revocation (one node asked to sync), out of gossip "+
		"after %v (key grace %v); refused by origin and by the peers' gates (%d connections), no blob bytes from "+
		"peers; its plays since reach no node", xdev[:8], gated.Round(time.Millisecond), out.Round(time.Millisecond),
		meshKeyGrace, refused()-refusedBefore)
	return out
}

// waitDevices waits until every node in idx holds (or, with want false, no longer holds) dev in its signed device
// list: the transfer gate admits exactly that list.
func (s *storeLab) waitDevices(ctx context.Context, idx []int, dev string, want bool) {
	s.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var wrong []int
		for _, i := range idx {
			if st, err := s.status(ctx, i); err != nil || slices.Contains(st.Devices, dev) != want {
				wrong = append(wrong, i)
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nodes %v: device %s in their device list is still not %v", wrong, dev, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
