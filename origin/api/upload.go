package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AudioExtensions are the file extensions UploadFolder picks up.
var AudioExtensions = []string{".ogg", ".oga", ".mp3", ".flac", ".wav", ".m4a", ".aac", ".opus"}

// UploadFile uploads the file, hashing it first so origin can verify the bytes it receives, then creates an asset
// of it from in (Title defaults to the file name without extension).
func (c *Client) UploadFile(ctx context.Context, path string, in AssetInput) (Asset, error) {
	f, err := os.Open(path)
	if err != nil {
		return Asset{}, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return Asset{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Asset{}, err
	}
	if in.Title == "" {
		in.Title = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	up, err := c.Upload(ctx, hex.EncodeToString(h.Sum(nil)), size, f)
	if err != nil {
		return Asset{}, fmt.Errorf("%s: %w", path, err)
	}
	in.MasterSHA256 = up.SHA256
	a, err := c.CreateAsset(ctx, in)
	if err != nil {
		return a, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// UploadFolder uploads every audio file directly in dir (by AudioExtensions), in name order, each with the
// metadata of tmpl and its own title. It stops at the first error and returns what was uploaded.
func (c *Client) UploadFolder(ctx context.Context, dir string, tmpl AssetInput) ([]Asset, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []Asset
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || !contains(AudioExtensions, ext) {
			continue
		}
		in := tmpl
		in.Title = ""
		a, err := c.UploadFile(ctx, filepath.Join(dir, e.Name()), in)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
