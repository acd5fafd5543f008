package sim

import (
	"crypto/ed25519"
	"fmt"
	"net/http"
	"time"

	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/origin/api"
)

// simAsset is the simulator's truth about one asset: what origin was told, and the faults attached to it.
type simAsset struct {
	id, name, sha string
	kind          string
	size          int64
	dur           time.Duration
	from, until   *time.Time
	emergency     bool
	undecodable   bool
}

// catalogModel is the content the run created through the admin API.
type catalogModel struct {
	assets  []*simAsset
	byID    map[string]*simAsset
	bySHA   map[string]*simAsset
	music   []string // ids in the music playlist, in order
	musicPL string
	spotPL  string
}

func (w *world) setup() error {
	ctx := w.ctx
	sc := &w.sc
	w.cat.byID, w.cat.bySHA = map[string]*simAsset{}, map[string]*simAsset{}
	c := sc.Content
	for i := range c.Music {
		if _, err := w.newAsset(fmt.Sprintf("music-%03d", i), api.KindMusic, nil, nil, false); err != nil {
			return err
		}
	}
	var spots []string
	for i := range c.Spots {
		var from, until *time.Time
		if c.SpotFrom > 0 {
			t := sc.Start.Add(c.SpotFrom).Truncate(time.Second)
			from = &t
		}
		if c.SpotUntil > 0 {
			t := sc.Start.Add(c.SpotUntil).Truncate(time.Second)
			until = &t
		}
		a, err := w.newAsset(fmt.Sprintf("spot-%03d", i), api.KindSpot, from, until, false)
		if err != nil {
			return err
		}
		spots = append(spots, a.id)
	}
	for i := range c.Emergency {
		if _, err := w.newAsset(fmt.Sprintf("emergency-%03d", i), api.KindMusic, nil, nil, true); err != nil {
			return err
		}
	}
	for _, a := range w.cat.assets {
		if a.kind == api.KindMusic && !a.emergency {
			w.cat.music = append(w.cat.music, a.id)
		}
	}
	pl, err := w.org.admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "music", AssetIDs: w.cat.music})
	if err != nil {
		return err
	}
	w.cat.musicPL = pl.ID
	in := api.ScheduleInput{Scope: api.ScopeTenant, PlaylistID: pl.ID, Start: "00:00", End: "00:00"}
	if c.SpotEvery > 0 {
		sp, err := w.org.admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "spots", AssetIDs: spots})
		if err != nil {
			return err
		}
		w.cat.spotPL = sp.ID
		in.SpotRules = []api.SpotRule{{PlaylistID: sp.ID, EveryNTracks: c.SpotEvery}}
	}
	if _, err := w.org.admin.CreateSchedule(ctx, in); err != nil {
		return err
	}
	keys := w.rng("device-keys")
	for s := range sc.Topology.Stores {
		st, err := w.org.admin.CreateStore(ctx, api.StoreInput{Name: fmt.Sprintf("store-%02d", s),
			TimeZone: sc.Topology.TimeZone})
		if err != nil {
			return err
		}
		ss := newStore(w, s, st.ID)
		for z := range sc.Topology.Zones {
			zi, err := w.org.admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: fmt.Sprintf("zone-%d", z)})
			if err != nil {
				return err
			}
			ss.zones = append(ss.zones, zi.ID)
		}
		w.stores = append(w.stores, ss)
		for j := range sc.Topology.Nodes {
			tok, err := w.org.admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: st.ID,
				ZoneID: ss.zones[j%len(ss.zones)]})
			if err != nil {
				return err
			}
			var seed [32]byte
			for i := range seed {
				seed[i] = byte(keys.Uint32())
			}
			pk, err := p2pcrypto.UnmarshalEd25519PublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
			if err != nil {
				return err
			}
			raw, err := p2pcrypto.MarshalPublicKey(pk)
			if err != nil {
				return err
			}
			enr, err := w.org.admin.Enroll(ctx, api.EnrollRequest{Token: tok.Token, PeerPublicKey: raw,
				Name: fmt.Sprintf("s%02dn%02d", s, j), AppVersion: "sim"})
			if err != nil {
				return err
			}
			cl, err := w.org.client(enr.Credential, enr.OriginPublicKey)
			if err != nil {
				return err
			}
			n := newNode(w, ss, j, enr, cl)
			ss.nodes = append(ss.nodes, n)
			w.nodes = append(w.nodes, n)
			w.byID[n.id] = n
		}
	}
	for _, n := range w.nodes {
		if err := n.boot(); err != nil {
			return err
		}
	}
	for _, st := range w.stores {
		st.membership()
		st.startAntiEntropy()
	}
	return nil
}

// newAsset creates one asset through the admin API and records it in the model.
func (w *world) newAsset(name, kind string, from, until *time.Time, emergency bool) (*simAsset, error) {
	c := w.sc.Content
	a, err := w.org.addAsset(w.ctx, name, api.AssetInput{Kind: kind, ValidFrom: from, ValidUntil: until,
		EmergencyEligible: emergency}, c.SizeKB<<10, c.Track)
	if err != nil {
		return nil, err
	}
	sa := &simAsset{id: a.ID, name: name, sha: a.SHA256, kind: kind, size: a.Size,
		dur: time.Duration(a.DurationMS) * time.Millisecond, from: from, until: until, emergency: emergency}
	w.cat.assets = append(w.cat.assets, sa)
	w.cat.byID[sa.id], w.cat.bySHA[sa.sha] = sa, sa
	return sa, nil
}

// upload adds count new music assets and appends them to the music playlist (a content change mid-run).
func (w *world) upload(count int) {
	for range count {
		a, err := w.newAsset(fmt.Sprintf("music-%03d", len(w.cat.assets)), api.KindMusic, nil, nil, false)
		if err != nil {
			w.violate(nil, "setup", "upload failed: %v", err)
			return
		}
		w.cat.music = append(w.cat.music, a.id)
	}
	err := w.org.admin.Do(w.ctx, http.MethodPut, "/v1/playlists/"+w.cat.musicPL,
		api.PlaylistInput{Name: "music", AssetIDs: w.cat.music}, nil)
	if err != nil {
		w.violate(nil, "setup", "playlist update failed: %v", err)
	}
	w.tracef("content upload %d music (playlist now %d)", count, len(w.cat.music))
}
