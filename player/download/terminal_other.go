//go:build !linux

package download

import "os"

// isTerminal falls back to "a character device" where the tty ioctl is not wired up.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
