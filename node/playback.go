package node

import (
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/trustedtime"
)

// track is a choice handed to the engine.
type track struct {
	token  uint64
	choice schedule.Choice
	length time.Duration
	start  time.Duration // monotonic start (current track only)
}

// playState follows the engine: at most one track playing and one prepared to follow it.
type playState struct {
	token   uint64
	current *track
	next    *track
	// bad are blobs the engine could not decode: never chosen again in this boot.
	bad map[string]bool
}

// playDeadline is when the next track must be chosen, if a track is playing and none is prepared.
func (c *Core) playDeadline() (time.Duration, bool) {
	p := &c.play
	if p.current == nil || p.next != nil || c.muted() {
		return 0, false
	}
	return p.current.start + p.current.length - c.cfg.PrepareAhead, true
}

// lost drops a prepared track whose blob left the cache before it started.
func (p *playState) lost(sha string) {
	if p.next != nil && p.next.choice.Asset.SHA256 == sha {
		p.next = nil
	}
}

func levelString(l schedule.Level) string {
	switch l {
	case schedule.LevelScheduled:
		return crdt.FallbackScheduled
	case schedule.LevelSpot:
		return crdt.FallbackSpot
	case schedule.LevelEmergency:
		return crdt.FallbackEmergency
	case schedule.LevelBuiltin:
		return crdt.FallbackBuiltin
	}
	return crdt.FallbackSilence
}

// shifted is the trusted interval d from now: selection checks the window over the whole future play. An unknown
// bound (zero) stays unknown: shifted, it would read as a date in year 1, and an unknown upper bound that became
// "year 1" would make every asset with an end date eligible while the clock cannot be trusted.
func shifted(iv trustedtime.Interval, d time.Duration) trustedtime.Interval {
	if !iv.Lo.IsZero() {
		iv.Lo = iv.Lo.Add(d)
	}
	if !iv.Hi.IsZero() {
		iv.Hi = iv.Hi.Add(d)
	}
	if !iv.Wall.IsZero() {
		iv.Wall = iv.Wall.Add(d)
	}
	return iv
}

func (c *Core) tickPlay() {
	p := &c.play
	if c.muted() {
		return // nothing is chosen during an override's mute (override.go)
	}
	switch {
	case p.current == nil && p.next == nil:
		c.choose(PlayNow, 0)
	case p.current != nil && p.next == nil:
		end := p.current.start + p.current.length
		if c.cfg.PrepareAtStart || c.now.Mono >= end-c.cfg.PrepareAhead {
			c.choose(PlayNext, max(end-c.now.Mono, 0))
		}
	}
}

// choose asks the selector for the track that starts in `in` and hands it to the engine.
func (c *Core) choose(kind PlayCommandKind, in time.Duration) {
	iv := shifted(c.Interval(), in)
	ch := c.sel.Next(iv)
	for tries := 0; ch.Level <= schedule.LevelEmergency && c.play.bad[ch.Asset.SHA256] && tries < 8; tries++ {
		// An undecodable blob is taken out of selection for this boot, then the choice is made again.
		c.sel.SetPresent(ch.Asset.SHA256, false)
		ch = c.sel.Next(iv)
	}
	length := ch.Asset.PlayLength()
	if ch.Level >= schedule.LevelBuiltin || length <= 0 {
		length = c.cfg.Schedule.BuiltinLength
	}
	c.play.token++
	t := &track{token: c.play.token, choice: ch, length: length}
	c.play.next = t
	cmd := PlayCommand{Kind: kind, Token: t.token, Asset: ch.Asset, Level: ch.Level,
		Builtin:   ch.Level >= schedule.LevelBuiltin,
		Crossfade: c.crossfade(), TargetLUFS: c.cat.store.TargetLUFS}
	if ch.Level == schedule.LevelSilence {
		cmd.Kind = PlayStop
	}
	c.out.Audio = append(c.out.Audio, cmd)
	if ch.Level == schedule.LevelEmergency {
		c.logf(levelWarn, "playing emergency mode", "asset", ch.Asset.ID, "reason", ch.Reason.String())
	}
	if ch.Level >= schedule.LevelBuiltin {
		c.logf(levelWarn, "nothing eligible to play: built-in fallback", "level", levelString(ch.Level),
			"reason", ch.Reason.String())
	}
}

func (c *Core) crossfade() time.Duration {
	if ms := c.cat.store.CrossfadeMS; ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return c.cfg.Crossfade
}

func (c *Core) onAudio(e AudioEvent) {
	p := &c.play
	switch e.Kind {
	case AudioStarted:
		if p.next == nil || p.next.token != e.Token {
			return
		}
		t := p.next
		p.current, p.next = t, nil
		t.start = c.now.Mono
		c.recordPlay(t)
		if c.cfg.PrepareAtStart {
			c.tickPlay()
		}
	case AudioEnded:
		if p.current != nil && p.current.token == e.Token {
			p.current = nil
		}
		c.tickPlay()
	case AudioFailed:
		c.counters.DecodeFailures++
		var sha string
		switch {
		case p.next != nil && p.next.token == e.Token:
			sha = p.next.choice.Asset.SHA256
			p.next = nil
		case p.current != nil && p.current.token == e.Token:
			sha = p.current.choice.Asset.SHA256
			p.current = nil
		}
		if sha != "" {
			if p.bad == nil {
				p.bad = map[string]bool{}
			}
			p.bad[sha] = true
			c.sel.SetPresent(sha, false)
			c.logf(levelWarn, "track could not be decoded; skipped", "sha256", sha, "err", e.Err)
		}
		c.tickPlay()
	case AudioSilent:
		if c.muted() {
			return // the mute's silence is wanted (the engine does not report it either)
		}
		c.counters.DeadAir++
		c.logf(levelWarn, "output silent", "for", e.Silent)
		c.tickPlay()
	case AudioRestored:
		c.logf(levelInfo, "output restored", "after", e.Silent)
	}
}

// recordPlay selects the track as played and writes its proof-of-play event (persisted before anything else).
func (c *Core) recordPlay(t *track) {
	now := c.Interval().Now()
	c.sel.Played(t.choice, now)
	c.counters.Plays[t.choice.Level]++
	ev := crdt.PlayEvent{
		HLC:        c.state.Clock(now.UnixMilli()),
		AssetID:    t.choice.Asset.ID,
		SHA256:     t.choice.Asset.SHA256,
		StartedAt:  now.UnixMilli(),
		DurationMS: t.length.Milliseconds(),
		Fallback:   levelString(t.choice.Level),
		Zone:       c.cfg.Zone,
	}
	stored, err := c.state.AppendPlay(ev)
	if err != nil {
		c.logf(levelError, "play event not recorded", "err", err)
		return
	}
	c.out.PersistPlays = append(c.out.PersistPlays, stored)
	h := c.sel.History()
	c.out.History = &h
	c.gossipDirty()
}
