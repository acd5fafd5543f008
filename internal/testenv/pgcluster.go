package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGCluster is a private PostgreSQL server that one test owns: it may stop, restart or crash it without touching
// the shared server other packages' tests use at the same time. It listens on 127.0.0.1 at a free port and on a
// Unix socket in its own directory; authentication is trust.
type PGCluster struct {
	t     testing.TB
	bin   string // directory of initdb, pg_ctl and postgres
	dir   string // owns data/ and the socket; removed at cleanup
	data  string
	log   string
	Port  int
	asUID *syscall.Credential // postgres refuses to run as root: as root, run it as the postgres user
}

// PrivatePostgres initdbs and starts a fresh cluster and stops it (immediately) and removes it when the test ends.
// It skips (or fails under Strict) where the PostgreSQL server binaries are not installed.
func PrivatePostgres(t testing.TB) *PGCluster {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		Unavailable(t, "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH")
	}
	// The directory must be reachable by the postgres user when running as root: t.TempDir's parents are 0700.
	dir, err := os.MkdirTemp("", "lomuz-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &PGCluster{t: t, bin: bin, dir: dir, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "server.log"),
		Port: FreePort(t)}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Unavailable(t, "running as root and there is no postgres user to run a private PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.asUID = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-instructions"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"max_connections = 200\nshared_buffers = 32MB\nlogging_collector = off\n", c.Port, dir)
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() { _, _ = c.run("pg_ctl", "-D", c.data, "stop", "-m", "immediate", "-w") })
	return c
}

// URL is the connection URL of database db (postgres is always there).
func (c *PGCluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// CreateDatabase creates an empty database and returns its URL.
func (c *PGCluster) CreateDatabase(name string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		c.t.Fatalf("private PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		c.t.Fatalf("create database: %v", err)
	}
	return c.URL(name)
}

// Start starts the server and waits until it accepts connections.
func (c *PGCluster) Start() {
	c.t.Helper()
	if out, err := c.run("pg_ctl", "-D", c.data, "-l", c.log, "-w", "-t", "60", "start"); err != nil {
		b, _ := os.ReadFile(c.log)
		c.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, b)
	}
}

// Stop stops the server with mode (smart, fast or immediate; immediate is a crash: recovery runs at next start).
func (c *PGCluster) Stop(mode string) {
	c.t.Helper()
	if out, err := c.run("pg_ctl", "-D", c.data, "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		c.t.Fatalf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}

// Restart is `pg_ctl restart -m mode`: every session is cut, and the server is back when it returns.
func (c *PGCluster) Restart(mode string) {
	c.t.Helper()
	if out, err := c.run("pg_ctl", "-D", c.data, "-l", c.log, "-m", mode, "-w", "-t", "60", "restart"); err != nil {
		b, _ := os.ReadFile(c.log)
		c.t.Fatalf("pg_ctl restart -m %s: %v\n%s\n%s", mode, err, out, b)
	}
}

func (c *PGCluster) run(tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, tool), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.asUID != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.asUID}
		cmd.Env = append(cmd.Env, "HOME="+c.dir)
	}
	return cmd.CombinedOutput()
}

// postgresBinDir finds the newest /usr/lib/postgresql/N/bin holding pg_ctl, else the directory of pg_ctl on PATH.
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(filepath.Dir(binDir)), "/"))
	return n
}
