package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/cache"
	"github.com/lomuz/lomuz/player/download"
)

// Origin is the part of origin's device API the Run loop uses. *api.Client satisfies it; it must be safe for
// concurrent use and honour ctx.
type Origin interface {
	Sync(ctx context.Context, req api.SyncRequest) (*api.SyncManifest, error)
	// ResolveURL makes a manifest's download URL absolute.
	ResolveURL(u string) string
}

// Audio is the engine the Run loop drives. *audio.Engine satisfies it. Play, Prepare and Stop do not block on
// playback; Events is read by the loop only.
type Audio interface {
	Play(t audio.Track) error
	Prepare(t audio.Track) error
	Stop() error
	SetOutput(o audio.Output) error
	Events() <-chan audio.Event
}

// Downloads is the download manager. *download.Manager satisfies it.
type Downloads interface {
	Enqueue(reqs ...download.Request) error
	Redirect(sha string, src download.Source) bool
	Cancel(sha string)
	Events() <-chan download.Event
	Progress() []download.Progress
}

// Blobs is the local blob cache. *cache.Cache satisfies it; it is safe for concurrent use.
type Blobs interface {
	List() []string
	Has(sha string) bool
	Open(sha string) (cacheFile, error)
	SetPinned(shas []string)
}

// cacheFile is what Blobs.Open returns: a verified blob, read-only.
type cacheFile = io.ReadSeekCloser

// Mesh is the store LAN as the Run loop sees it (gossip, membership, transfer). Nil runs the node alone.
// Implementations are safe for concurrent use; the channels are read by the loop only.
type Mesh interface {
	// Broadcast gossips an encoded delta (at most the configured budget) to the store's nodes.
	Broadcast(b []byte) error
	// SendDirect sends an encoded delta too large for gossip to every live peer over a reliable stream. It must
	// not block the loop: the mesh sends in the background, and what it cannot send is left to push/pull.
	SendDirect(b []byte)
	// Received delivers peers' payloads: gossip parts and push/pull states.
	Received() <-chan GossipReceived
	// Members delivers the live peer set when it changes.
	Members() <-chan []string
	// Source fetches blobs from one peer over the LAN.
	Source(peer string) download.Source
	// SetAllowed replaces the libp2p keys admitted to the store's transfer layer.
	SetAllowed(keys [][]byte)
	// SetKey installs the store's (rotated) gossip key.
	SetKey(m api.Mesh) error
	// SetLocalState gives the push/pull exchange the node's latest encoded state (copied by the mesh).
	SetLocalState(b []byte)
}

// Persist is the node's durable memory. Every method is called from the loop only.
type Persist interface {
	// AppendPlay stores one own play event durably (fsync) and returns the sequence number it got.
	AppendPlay(ev crdt.PlayEvent) (uint64, error)
	// AckPlays prunes own events up to seq once origin holds them.
	AckPlays(seq uint64) error
	SaveSnapshot(b []byte) error
	SaveHistory(b []byte) error
	SaveTime(b []byte) error
}

// Parts are the real components a Runner composes. Only Mesh may be nil.
type Parts struct {
	Origin    Origin
	Audio     Audio
	Downloads Downloads
	Blobs     Blobs
	Persist   Persist
	Mesh      Mesh
	// Now reads the clocks; Start is the monotonic origin of Instant.Mono.
	Now    func() Instant
	Logger *slog.Logger
	// SyncTimeout bounds one sync request.
	SyncTimeout time.Duration
	// FreeDisk reports free bytes on the data disk for the status sent to origin; nil reports unknown.
	FreeDisk func() int64
	// EngineTargetLUFS is the loudness target Audio was configured with (0: store targets are not applied).
	EngineTargetLUFS float64
}

// Runner performs a Core's effects with real parts. Its loop is the only goroutine that touches the core.
type Runner struct {
	// engineTarget is the loudness target the audio engine was built with.
	engineTarget float64
	core         *Core
	p            Parts
	syncs        chan SyncResult
	// statusReq asks the loop for a fresh Status (the core is not safe to read from other goroutines).
	statusReq chan chan Status
	// pings checks that the loop is alive without computing anything.
	pings chan chan struct{}
	// injected carries events from the runner's helpers (cache notices) into the loop.
	injected chan Event
	counters sync.Mutex
	last     Counters
	brief    Brief
	// fetchPeers remembers which peer each LAN fetch uses, to report bad bytes against it.
	fetchPeers map[string]string
	// recv counts blob bytes received, from the cloud and per peer.
	recv received
}

// NewRunner returns a runner for core with parts.
func NewRunner(core *Core, p Parts) (*Runner, error) {
	if p.Origin == nil || p.Audio == nil || p.Downloads == nil || p.Blobs == nil || p.Persist == nil || p.Now == nil {
		return nil, errors.New("node: Runner needs Origin, Audio, Downloads, Blobs, Persist and Now")
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.SyncTimeout <= 0 {
		p.SyncTimeout = 2 * time.Minute
	}
	return &Runner{core: core, p: p, engineTarget: p.EngineTargetLUFS, syncs: make(chan SyncResult, 1), statusReq: make(chan chan Status), injected: make(chan Event, 16), pings: make(chan chan struct{}),
		fetchPeers: map[string]string{}}, nil
}

// Status asks the loop for the node's status; it fails when the loop does not answer before ctx is done.
func (r *Runner) Status(ctx context.Context) (Status, error) {
	ch := make(chan Status, 1)
	select {
	case r.statusReq <- ch:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
}

// Ping returns nil when the loop takes a request before ctx is done: the loop is alive and not stuck.
func (r *Runner) Ping(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case r.pings <- ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Brief returns the node's brief status as of the loop's last iteration; safe from any goroutine, never blocks on
// the loop.
func (r *Runner) Brief() Brief {
	r.counters.Lock()
	defer r.counters.Unlock()
	return r.brief
}

// inject hands an event to the loop; it blocks until the loop takes it or ctx is done.
func (r *Runner) inject(ctx context.Context, ev Event) {
	select {
	case r.injected <- ev:
	case <-ctx.Done():
	}
}

// RequestSync asks the loop for a sync with origin now (SyncRequested); safe from any goroutine. It reports false,
// doing nothing, when the loop is too busy to take the request at once: the caller may ask again.
func (r *Runner) RequestSync() bool {
	select {
	case r.injected <- SyncRequested{}:
		return true
	default:
		return false
	}
}

// Counters returns the core's totals as of the loop's last iteration; safe from any goroutine.
func (r *Runner) Counters() Counters {
	r.counters.Lock()
	defer r.counters.Unlock()
	return r.last
}

// Serve runs the loop until ctx is done. It starts no goroutine of its own except one per in-flight sync request.
func (r *Runner) Serve(ctx context.Context) error {
	r.core.Step(BlobsPresent{SHA256: r.p.Blobs.List()})
	var meshRecv <-chan GossipReceived
	var meshMembers <-chan []string
	if r.p.Mesh != nil {
		meshRecv, meshMembers = r.p.Mesh.Received(), r.p.Mesh.Members()
	}
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		r.core.Tick(r.p.Now())
		rd := r.core.Ready()
		if err := r.perform(ctx, rd, &wg); err != nil {
			return err
		}
		r.counters.Lock()
		r.last, r.brief = r.core.Counters(), r.core.Brief()
		r.counters.Unlock()
		wait := max(rd.NextTick-r.p.Now().Mono, time.Millisecond)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case res := <-r.syncs:
			r.core.Step(res)
		case ev := <-r.p.Downloads.Events():
			r.onDownload(ev)
		case ev := <-r.p.Audio.Events():
			r.onAudio(ev)
		case <-progress.C:
			for _, p := range r.p.Downloads.Progress() {
				r.core.Step(FetchProgress{SHA256: p.SHA256, Bytes: p.Bytes})
			}
		case g := <-meshRecv:
			r.core.Step(g)
		case live := <-meshMembers:
			r.core.Step(MembersChanged{Live: live})
		case ev := <-r.injected:
			r.core.Step(ev)
		case ch := <-r.pings:
			close(ch)
		case ch := <-r.statusReq:
			st := r.core.Status()
			st.FreeDiskBytes = -1
			if r.p.FreeDisk != nil {
				st.FreeDiskBytes = r.p.FreeDisk()
			}
			bad := st.Transfer.BadSources
			st.Transfer = r.Transfer()
			st.Transfer.BadSources = bad
			prog := map[string]download.Progress{}
			for _, p := range r.p.Downloads.Progress() {
				prog[p.SHA256] = p
			}
			for i := range st.Downloads {
				if p, ok := prog[st.Downloads[i].SHA256]; ok {
					st.Downloads[i].Bytes, st.Downloads[i].BytesPerSec = p.Bytes, p.BytesPerSec
				}
			}
			ch <- st
		}
	}
}

// perform carries out one Ready in the order its fields are declared.
func (r *Runner) perform(ctx context.Context, rd Ready, wg *sync.WaitGroup) error {
	log := r.p.Logger
	for _, ev := range rd.PersistPlays {
		seq, err := r.p.Persist.AppendPlay(ev)
		if err != nil {
			// Without a durable outbox proof of play would be lost silently: stop, let the supervisor restart us.
			return fmt.Errorf("node: persisting play event %d: %w", ev.Seq, err)
		}
		if seq != ev.Seq {
			log.Error("play outbox and shared log disagree on sequence", "outbox", seq, "log", ev.Seq)
		}
	}
	if rd.Snapshot || rd.PersistAcked > 0 {
		// The snapshot goes first: it carries the ack watermark, so pruning the outbox below never loses the
		// knowledge of which sequence numbers were used.
		if b, err := r.core.Snapshot(); err != nil {
			log.Error("state snapshot failed", "err", err)
		} else if err := r.p.Persist.SaveSnapshot(b); err != nil {
			log.Error("saving state snapshot failed", "err", err)
		} else {
			if rd.PersistAcked > 0 {
				if err := r.p.Persist.AckPlays(rd.PersistAcked); err != nil {
					log.Error("pruning acknowledged plays failed", "err", err)
				}
			}
			if r.p.Mesh != nil {
				r.p.Mesh.SetLocalState(b)
			}
		}
	}
	if rd.History != nil {
		if b, err := marshalHistory(*rd.History); err == nil {
			if err := r.p.Persist.SaveHistory(b); err != nil {
				log.Warn("saving play history failed", "err", err)
			}
		}
	}
	if rd.Time != nil {
		if b, err := marshalTime(*rd.Time); err == nil {
			if err := r.p.Persist.SaveTime(b); err != nil {
				log.Warn("saving trusted time failed", "err", err)
			}
		}
	}
	if o := rd.Output; o != nil {
		if err := r.p.Audio.SetOutput(audio.Output{VolumePct: o.VolumePct, Muted: o.Muted}); err != nil {
			log.Warn("audio output setting failed", "err", err)
		}
	}
	for _, cmd := range rd.Audio {
		r.playCommand(cmd)
	}
	if rd.Sync != nil {
		req := *rd.Sync
		if req.Status != nil && r.p.FreeDisk != nil {
			st := *req.Status
			st.FreeDiskBytes = r.p.FreeDisk()
			req.Status = &st
		}
		sent := r.p.Now().Mono
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, r.p.SyncTimeout)
			m, err := r.p.Origin.Sync(sctx, req)
			cancel()
			res := SyncResult{Manifest: m, Err: err, Sent: sent, Recv: r.p.Now().Mono}
			var p *api.Problem
			if errors.As(err, &p) {
				res.RetryAfter = time.Duration(p.RetryAfter) * time.Second
				// Origin answers a revoked device's credential with 403 and the "gone" problem type.
				res.Revoked = p.Type == api.ProblemGone
			}
			select {
			case r.syncs <- res:
			case <-ctx.Done():
			}
		}()
	}
	for _, sha := range rd.Cancels {
		r.p.Downloads.Cancel(sha)
		delete(r.fetchPeers, sha)
	}
	for _, f := range rd.Fetches {
		if r.p.Blobs.Has(f.SHA256) {
			// Already verified here (the manager would skip it without an event).
			r.core.Step(FetchResult{SHA256: f.SHA256, Kind: FetchDone, Peer: f.Peer})
			continue
		}
		req := download.Request{SHA256: f.SHA256, MD5: f.MD5, Size: f.Size, Priority: downloadPriority(f.Priority)}
		if f.Peer != "" && r.p.Mesh != nil {
			req.Source = r.recv.counted(f.Peer, r.p.Mesh.Source(f.Peer))
		} else {
			req.Source = r.recv.counted("", &download.HTTPSource{URL: constURL(r.p.Origin.ResolveURL(f.URL))})
		}
		_, moving := r.fetchPeers[f.SHA256]
		r.fetchPeers[f.SHA256] = f.Peer
		if moving && r.p.Downloads.Redirect(f.SHA256, req.Source) {
			continue // the core moved a fetch in flight to another source; it resumes from its partial file
		}
		if err := r.p.Downloads.Enqueue(req); err != nil {
			delete(r.fetchPeers, f.SHA256)
			r.core.Step(FetchResult{SHA256: f.SHA256, Kind: FetchFailed, Peer: f.Peer, Err: err})
		}
	}
	if rd.Pins != nil {
		r.p.Blobs.SetPinned(rd.Pins)
	}
	if r.p.Mesh != nil {
		if rd.Allowed != nil {
			r.p.Mesh.SetAllowed(rd.Allowed)
		}
		if rd.Mesh != nil {
			if err := r.p.Mesh.SetKey(*rd.Mesh); err != nil {
				log.Error("installing the rotated mesh key failed", "err", err)
			}
		}
		for _, b := range rd.Broadcast {
			if err := r.p.Mesh.Broadcast(b); err != nil {
				log.Warn("gossip broadcast failed", "err", err)
			}
		}
		for _, b := range rd.Direct {
			r.p.Mesh.SendDirect(b)
		}
	}
	for _, l := range rd.Logs {
		log.Log(ctx, l.Level, l.Msg, l.Attrs...)
	}
	return nil
}

// audioCodec maps origin's codec names (api.Asset.Codec) to the engine's hints; an unknown one leaves the engine to
// recognise the file by its first bytes.
func audioCodec(c string) audio.Codec {
	switch c {
	case "vorbis", "ogg":
		return audio.CodecVorbis
	case "mp3":
		return audio.CodecMP3
	case "flac":
		return audio.CodecFLAC
	case "pcm", "wav":
		return audio.CodecWAV
	}
	return ""
}

func constURL(u string) func(string) string { return func(string) string { return u } }

func downloadPriority(p string) download.Priority {
	switch p {
	case api.PriorityCurrent:
		return download.Current
	case api.PriorityEmergency:
		return download.Emergency
	}
	return download.Future
}

func (r *Runner) onDownload(ev download.Event) {
	peer := r.fetchPeers[ev.SHA256]
	switch ev.Kind {
	case download.Done:
		delete(r.fetchPeers, ev.SHA256)
		r.core.Step(FetchResult{SHA256: ev.SHA256, Kind: FetchDone, Peer: peer})
	case download.Failed:
		delete(r.fetchPeers, ev.SHA256)
		r.core.Step(FetchResult{SHA256: ev.SHA256, Kind: FetchFailed, Peer: peer, Err: ev.Err,
			BadBytes: errors.Is(ev.Err, cache.ErrHashMismatch)})
	case download.Retrying:
		if peer != "" && errors.Is(ev.Err, cache.ErrHashMismatch) {
			// A peer that serves bad bytes is dropped at once; the core picks another source.
			r.p.Downloads.Cancel(ev.SHA256)
			delete(r.fetchPeers, ev.SHA256)
			r.core.Step(FetchResult{SHA256: ev.SHA256, Kind: FetchFailed, Peer: peer, Err: ev.Err, BadBytes: true})
		}
	}
}

func (r *Runner) onAudio(ev audio.Event) {
	tok, _ := strconv.ParseUint(ev.TrackID, 10, 64)
	switch ev.Kind {
	case audio.EventTrackStarted:
		r.core.Step(AudioEvent{Kind: AudioStarted, Token: tok})
	case audio.EventTrackEnded:
		r.core.Step(AudioEvent{Kind: AudioEnded, Token: tok})
	case audio.EventDecodeFailed:
		r.core.Step(AudioEvent{Kind: AudioFailed, Token: tok, Err: ev.Err})
	case audio.EventOutputSilent:
		r.core.Step(AudioEvent{Kind: AudioSilent, Silent: ev.Duration})
	case audio.EventOutputRestored:
		r.core.Step(AudioEvent{Kind: AudioRestored, Silent: ev.Duration})
	}
}

func (r *Runner) playCommand(cmd PlayCommand) {
	if cmd.Kind == PlayStop {
		if err := r.p.Audio.Stop(); err != nil {
			r.p.Logger.Warn("audio stop failed", "err", err)
		}
		return
	}
	t := audio.JingleTrack()
	if !cmd.Builtin {
		sha := cmd.Asset.SHA256
		t = audio.Track{
			Open:         func() (io.ReadSeekCloser, error) { return r.p.Blobs.Open(sha) },
			Codec:        audioCodec(cmd.Asset.Codec),
			LoudnessLUFS: cmd.Asset.LoudnessLUFS,
			CueIn:        cmd.Asset.CueIn,
			CueOut:       cmd.Asset.CueOut,
		}
		// The store's crossfade applies to music and spots; the jingle keeps its own (none: see JingleTrack).
		t.Crossfade = cmd.Crossfade
		if cmd.Crossfade < 0 {
			t.Crossfade = audio.NoCrossfade
		}
	}
	if cmd.TargetLUFS != 0 && t.LoudnessLUFS != 0 && r.engineTarget != 0 {
		// The engine applies (its target - the track's loudness); shifting the loudness it is told by the
		// difference of targets makes it apply (the store's target - the track's loudness) instead.
		t.LoudnessLUFS -= cmd.TargetLUFS - r.engineTarget
	}
	t.ID = strconv.FormatUint(cmd.Token, 10)
	var err error
	if cmd.Kind == PlayNow {
		err = r.p.Audio.Play(t)
	} else {
		err = r.p.Audio.Prepare(t)
	}
	if err != nil {
		r.core.Step(AudioEvent{Kind: AudioFailed, Token: cmd.Token, Err: err})
	}
}
