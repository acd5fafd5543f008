package origin

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
	"github.com/lomuz/lomuz/origin/blob/s3blob"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/pgstore"
)

// DeployConfig says where a deployment's stores and key live; `lomuz origin` fills it from flags.
type DeployConfig struct {
	// DataDir holds the embedded catalog, the default blob directory and the generated signing key.
	DataDir string
	// PostgresURL selects the PostgreSQL catalog instead of the embedded one; ReplicaURLs are its read replicas.
	PostgresURL string
	ReplicaURLs []string
	// S3 selects the S3 blob store when S3.Bucket is set; otherwise BlobDir (default DataDir/blobs).
	S3      s3blob.Config
	BlobDir string
	// KeyFile is the signing key's file (default DataDir/origin-ed25519.key); KeyEnv overrides it.
	KeyFile string
}

// Deployment is an opened set of stores and the signing key.
type Deployment struct {
	Catalog catalog.Store
	Blobs   blob.Store
	Key     ed25519.PrivateKey
}

// Close releases the stores.
func (d *Deployment) Close() error {
	if d.Catalog != nil {
		return d.Catalog.Close()
	}
	return nil
}

// Open opens the catalog, blob store and key that dc names.
func Open(ctx context.Context, dc DeployConfig) (*Deployment, error) {
	if dc.DataDir == "" {
		return nil, errors.New("origin: a data directory is required")
	}
	if err := os.MkdirAll(dc.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("origin: data dir: %w", err)
	}
	keyFile := dc.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(dc.DataDir, KeyFileName)
	}
	key, err := LoadKey(keyFile)
	if err != nil {
		return nil, err
	}
	d := &Deployment{Key: key}
	if dc.S3.Bucket != "" {
		d.Blobs, err = s3blob.New(ctx, dc.S3)
	} else {
		dir := dc.BlobDir
		if dir == "" {
			dir = filepath.Join(dc.DataDir, "blobs")
		}
		d.Blobs, err = dirblob.New(dirblob.DefaultConfig(dir))
	}
	if err != nil {
		return nil, fmt.Errorf("origin: blob store: %w", err)
	}
	if dc.PostgresURL != "" {
		pc := pgstore.DefaultConfig(dc.PostgresURL)
		pc.ReplicaURLs = dc.ReplicaURLs
		d.Catalog, err = pgstore.Open(ctx, pc)
	} else {
		d.Catalog, err = openEmbedded(ctx, filepath.Join(dc.DataDir, "catalog"))
	}
	if err != nil {
		return nil, fmt.Errorf("origin: catalog: %w", err)
	}
	return d, nil
}

// Run opens dc's deployment and serves cfg until ctx ends.
func Run(ctx context.Context, cfg Config, dc DeployConfig, opts ...Option) error {
	d, err := Open(ctx, dc)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := New(cfg, d.Catalog, d.Blobs, d.Key, opts...)
	if err != nil {
		return err
	}
	slog.Info("origin: serving", "listen", s.cfg.Listen, "postgres", dc.PostgresURL != "", "s3", dc.S3.Bucket != "")
	return s.Serve(ctx)
}

// Bootstrap creates a tenant and its first director token, returning the tenant id and the token's secret (shown
// once; only its hash is stored).
func Bootstrap(ctx context.Context, cat catalog.Store, tenantName, tokenName string) (tenantID, token string, err error) {
	t := catalog.Tenant{ID: uuid.NewString(), Name: tenantName, CreatedAt: time.Now().UTC()}
	if err := cat.CreateTenant(ctx, t); err != nil {
		return "", "", err
	}
	secret, h := newSecret(adminSecretPrefix)
	err = cat.Update(ctx, t.ID, func(tx catalog.Tx) error {
		return tx.CreateAdminToken(catalog.AdminToken{ID: uuid.NewString(), TenantID: t.ID, Name: tokenName,
			Role: catalog.RoleDirector, Hash: h, CreatedAt: t.CreatedAt})
	})
	if err != nil {
		return "", "", err
	}
	return t.ID, secret, nil
}
