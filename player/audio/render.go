package audio

// render fills buf with the next output frames and returns how many carry output, n, and whether the engine must
// wait for a command before rendering more. The frames after n are silence. It stops early (wait) when nothing
// plays, and, on an unpaced sink only, when the current track comes within MaxCrossfade of its end while the
// caller has not yet said what follows it: with no clock, the caller's answer must not race the render loop, or
// the output would depend on goroutine scheduling.
func (e *Engine) render(buf [][2]float64, paced bool) (n int, wait bool) {
	clear(buf)
	o, active := 0, 0
	for o < len(buf) {
		if e.next != nil && e.cur == nil {
			e.start(o, false)
		}
		if e.cur == nil && e.out == nil {
			return active, true
		}
		chunk := len(buf) - o
		if e.cur != nil {
			if e.next != nil {
				if r := e.framesBeforeTransition(e.next); r == 0 {
					e.start(o, false)
					continue
				} else if r > 0 {
					chunk = min(chunk, r)
				}
			} else if !paced && !e.decided {
				if rem := e.cur.remaining(); rem >= 0 {
					r := rem - e.maxXF
					if r <= 0 {
						return o, true
					}
					chunk = min(chunk, r)
				}
			}
		}
		k := chunk
		if e.cur != nil {
			k = e.cur.stream(e.tmp[:chunk])
			mixInto(buf[o:], e.tmp[:k])
		}
		if e.out != nil {
			m := e.out.stream(e.tmp[:k])
			mixInto(buf[o:], e.tmp[:m])
			active = max(active, o+m)
			if e.out.done {
				e.finish(e.out, o+m)
				e.out = nil
			}
		}
		if e.cur != nil {
			active = o + k
			for every := e.rate.N(e.cfg.PositionEvery); e.cur.pos >= e.cur.nextPosition; e.cur.nextPosition += every {
				e.emit(Event{Kind: EventPosition, TrackID: e.cur.track.ID, Position: e.rate.D(e.cur.nextPosition)}, o+k)
			}
			if e.cur.done {
				e.finish(e.cur, o+k)
				e.cur = nil
			}
		}
		o += k
	}
	return active, false
}

func mixInto(dst, src [][2]float64) {
	for i := range src {
		dst[i][0] += src[i][0]
		dst[i][1] += src[i][1]
	}
}

// crossfadeFrames is the overlap v asks for when it follows the current track, at most half of v.
func (e *Engine) crossfadeFrames(v *voice) int {
	xf := e.rate.N(v.track.crossfade(&e.cfg))
	if v.length >= 0 {
		xf = min(xf, v.length/2)
	}
	return xf
}

// framesBeforeTransition is how many frames the current track plays before next starts; -1 when the current
// track's length is unknown (next then starts when it ends, without overlap).
func (e *Engine) framesBeforeTransition(next *voice) int {
	rem := e.cur.remaining()
	if rem < 0 {
		return -1
	}
	return max(rem-e.crossfadeFrames(next), 0)
}

// start makes the prepared track current at offset o of the block, crossfading out the current one; cut says a
// Play asked for it before the current track's end.
func (e *Engine) start(o int, cut bool) {
	v := e.next
	e.next = nil
	if e.cur != nil {
		xf := e.crossfadeFrames(v)
		if rem := e.cur.remaining(); rem >= 0 {
			xf = min(xf, rem)
		}
		reason := EndFinished
		if cut {
			reason = EndReplaced
		}
		if e.out != nil { // a crossfade still running: its outgoing track is cut at once
			e.finish(e.out, o)
			e.out = nil
		}
		if xf > 0 {
			e.cur.startFadeOut(xf, reason)
			e.out = e.cur
			v.fadeIn = xf
		} else {
			e.cur.endReason = reason
			e.finish(e.cur, o)
		}
	}
	e.cur, e.decided = v, false
	v.nextPosition = e.rate.N(e.cfg.PositionEvery)
	e.emit(Event{Kind: EventTrackStarted, TrackID: v.track.ID, GainDB: v.gainDB}, o)
}
