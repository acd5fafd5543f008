package origin

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyEnv names the environment variable that may hold origin's signing key: the base64 (std) 32-byte ed25519
// seed. Replicas of one deployment must share one key, since devices pin it at enrollment.
const KeyEnv = "LOMUZ_ORIGIN_KEY"

// KeyFileName is the key's file inside the data directory when neither a path nor KeyEnv gives it.
const KeyFileName = "origin-ed25519.key"

// LoadKey returns origin's signing key: from KeyEnv if set, else from path (base64 seed, one line), generating
// and writing a new key there (mode 0600) when the file does not exist. The key is never logged; errors name the
// source, never the bytes.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	if v := os.Getenv(KeyEnv); v != "" {
		k, err := parseSeed(v)
		if err != nil {
			return nil, fmt.Errorf("origin: %s: %w", KeyEnv, err)
		}
		return k, nil
	}
	if path == "" {
		return nil, errors.New("origin: no signing key: set a key file or " + KeyEnv)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := parseSeed(string(b))
		if err != nil {
			return nil, fmt.Errorf("origin: key file %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("origin: key file: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("origin: key dir: %w", err)
	}
	// O_EXCL: two replicas starting on one fresh shared directory must not each write their own key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadKey(path)
		}
		return nil, fmt.Errorf("origin: key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("origin: write key file: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func parseSeed(s string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("want base64 of a %d-byte ed25519 seed", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
