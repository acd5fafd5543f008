package netns

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Environment of a child process: which ChildFunc to run, and its argument as JSON.
const (
	envChild = "LOMUZ_NETNS_CHILD"
	envArg   = "LOMUZ_NETNS_ARG"
)

// maxLine bounds one JSON line between parent and child (64 MiB: state snapshots in tests stay far below).
const maxLine = 64 << 20

// ChildFunc is the body of a child process. It runs inside the namespace; ctx ends when the parent stops the child
// or goes away (its stdin closes). arg is the JSON the parent passed to StartChild. The process exits 0 when it
// returns nil, else 1 with the error on stderr.
type ChildFunc func(ctx context.Context, c *Conn, arg json.RawMessage) error

// RunChild must be the first call in TestMain of a package that starts children. In the parent it returns at once;
// in a child it runs the named function and exits the process.
func RunChild(children map[string]ChildFunc) {
	name := os.Getenv(envChild)
	if name == "" {
		return
	}
	fn, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "netns child: unknown function %q\n", name)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	ctx, cancel := context.WithCancel(ctx)
	c := newConn(os.Stdin, os.Stdout, cancel)
	err := fn(ctx, c, json.RawMessage(os.Getenv(envArg)))
	cancel()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "netns child %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Conn carries JSON lines between a parent and a child. Send is safe for concurrent use; Recv must be called from
// one goroutine at a time.
type Conn struct {
	wmu   sync.Mutex
	w     io.Writer
	lines chan []byte
	done  chan struct{} // closed when the reading side ends (EOF or error)
	err   error         // why reading ended; read after done is closed
}

func newConn(r io.Reader, w io.Writer, onEOF func()) *Conn {
	c := &Conn{w: w, lines: make(chan []byte, 64), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			c.lines <- bytes.Clone(sc.Bytes())
		}
		c.err = sc.Err()
		if c.err == nil {
			c.err = io.EOF
		}
		close(c.done)
		if onEOF != nil {
			onEOF()
		}
	}()
	return c
}

// Send writes v as one JSON line.
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.w.Write(append(b, '\n'))
	return err
}

// Recv decodes the next line into v. It returns ctx's error when ctx ends first, and io.EOF (or the read error)
// when the other side has closed and every line has been read.
func (c *Conn) Recv(ctx context.Context, v any) error {
	select {
	case line := <-c.lines:
		return json.Unmarshal(line, v)
	default:
	}
	select {
	case line := <-c.lines:
		return json.Unmarshal(line, v)
	case <-c.done:
		select {
		case line := <-c.lines:
			return json.Unmarshal(line, v)
		default:
			return c.err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Proc is a child process running inside a namespace of a lab.
type Proc struct {
	*Conn
	Name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	waitMu sync.Mutex
	werr   error
	stderr *lockedBuffer
}

// StartChild re-executes the test binary inside ns to run the ChildFunc registered under fn (see RunChild), passing
// arg as JSON. The lab stops it when the test ends and logs its stderr if the test failed.
func (ns *NS) StartChild(fn string, arg any) *Proc {
	t := ns.lab.t
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(arg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+fn, envArg+"="+string(a))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: ns.Short + "/" + fn, cmd: cmd, stdin: stdin, exited: make(chan struct{}), stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child %s in %s: %v", fn, ns.Short, err)
	}
	p.Conn = newConn(stdout, stdin, nil)
	go func() {
		err := cmd.Wait()
		p.waitMu.Lock()
		p.werr = err
		p.waitMu.Unlock()
		close(p.exited)
	}()
	ns.lab.mu.Lock()
	ns.lab.procs = append(ns.lab.procs, p)
	ns.lab.mu.Unlock()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", p.Name, p.stderr.String())
		}
	})
	return p
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the child process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is the child's exit error after Exited is closed.
func (p *Proc) Err() error {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.werr
}

// Stderr returns what the child wrote to stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Kill ends the child at once with SIGKILL (a node that dies), and waits for it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop closes the child's stdin (its context ends), waits up to 5 s, then kills it. It is idempotent.
func (p *Proc) Stop() {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return
	case <-time.After(5 * time.Second):
	}
	p.Kill()
}

// Call sends req and decodes the next line into resp: for children that answer each request with one line.
func (p *Proc) Call(ctx context.Context, req, resp any) error {
	if err := p.Send(req); err != nil {
		return fmt.Errorf("send to %s: %w", p.Name, err)
	}
	if err := p.Recv(ctx, resp); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Stderr())
		}
		return fmt.Errorf("recv from %s: %w", p.Name, err)
	}
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the first MiB: enough to diagnose, bounded if a child loops
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
