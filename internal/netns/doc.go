// Package netns is the test harness for everything that touches a real network: it builds small labs of Linux network
// namespaces (a "switch" namespace holding a bridge, node namespaces attached to it by veth pairs, point-to-point
// links between namespaces), shapes links with tc, takes links down and up, reads byte counters from the kernel,
// runs a function or a process inside a namespace, and removes everything when the test ends, even after a failure.
//
// What it owns: namespaces named "lomuz-<pid>-<lab>-<name>" and the interfaces inside them. The bridge lives in its
// own namespace, so nothing is ever created on, bound to or routed through the host's interfaces. At the start of
// each lab, namespaces left behind by a crashed run (their pid no longer alive) are removed, after killing, by pid,
// the processes still inside them.
//
// What it must not do: touch the host's own interfaces, routes or firewall; kill processes it did not start (it
// kills only the processes it started and, for leftovers, processes inside its own leftover namespaces).
//
// Needs root and iproute2 (tc for shaping; delay and loss need the kernel's sch_netem, absent on some hosts). Without them a lab skips, or fails under CI / LOMUZ_REQUIRE_NETNS=1
// (internal/testenv.RequireRoot).
//
// Running Go code inside a namespace: a namespace belongs to an OS thread, and Go moves goroutines between threads.
// NS.Do runs a function on a locked thread switched into the namespace; only sockets created synchronously by that
// function live in the namespace. Libraries that dial or listen later from their own goroutines (memberlist, libp2p,
// zeroconf) must run in a child process started inside the namespace: NS.StartChild re-executes the test binary
// there (see RunChild for the TestMain hook), and the parent and child exchange JSON lines over stdin/stdout.
package netns
