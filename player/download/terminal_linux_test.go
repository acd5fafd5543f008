package download

import (
	"os"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lomuz/lomuz/internal/testenv"
)

// openPTY opens a pseudo-terminal pair, so that the bar can be tested on a real tty.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		testenv.Unavailable(t, "no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestBarOnATerminal(t *testing.T) {
	m, s := openPTY(t)
	b := NewBar(s)
	if b == nil {
		t.Fatal("no bar on a terminal")
	}
	b.Draw([]Progress{{SHA256: "abcdef", State: Active, Bytes: 1e6, Total: 2e6}})
	buf := make([]byte, 256)
	n, err := m.Read(buf)
	if err != nil || n < 20 || string(buf[:11]) != "\rdownloads " {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
