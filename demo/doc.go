// Package demo runs the whole of Lomuz in one process on embedded defaults, for `lomuz demo`: an origin on
// loopback with a fresh tenant, generated demo content (music, a spot with a validity window, an emergency track),
// and one store whose zones are nodes joined by an in-memory LAN (no multicast on the user's network). It prints
// the origin URL and admin token and a live line of what each zone plays, and stops cleanly when its context ends.
//
// It owns only the orchestration: every part it starts is the production code (origin, node, player).
package demo
