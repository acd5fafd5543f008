package origin

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// handleEnroll redeems a one-time token: the device, its credential and the store's re-signed device-key record
// are written in one transaction with the token's redemption, so a replayed or racing token enrolls nothing.
// The same device asking again (same token, same libp2p key) before the token's expiry gets the same answer:
// a device killed between origin's commit and saving the answer would otherwise be locked out for good.
func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollRequest
	if err := decode(r, api.MaxEnrollBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	pub, err := p2pcrypto.UnmarshalPublicKey(req.PeerPublicKey)
	if err != nil {
		writeProblem(w, api.BadField("peer_public_key", "peer_public_key is not a libp2p public key: %v", err))
		return
	}
	pid, err := peer.IDFromPublicKey(pub)
	if err != nil {
		writeProblem(w, api.BadField("peer_public_key", "peer_public_key: %v", err))
		return
	}
	if !strings.HasPrefix(req.Token, enrollSecretPrefix) {
		writeProblem(w, api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "unknown enrollment token"))
		return
	}
	h := hashSecret(req.Token)
	tok, err := s.cat.EnrollmentTokenByHash(r.Context(), h)
	if errors.Is(err, catalog.ErrNotFound) {
		writeProblem(w, api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "unknown enrollment token"))
		return
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	if tok.UsedBy != "" {
		s.reenroll(w, r, tok, req.PeerPublicKey)
		return
	}
	devID := uuid.NewString()
	cred := s.deviceCredential(devID, h)
	credHash := hashSecret(cred)
	dev := catalog.Device{ID: devID, TenantID: tok.TenantID, StoreID: tok.StoreID, ZoneID: tok.ZoneID,
		Name: req.Name, PublicKey: req.PeerPublicKey, PeerID: pid.String(), CredentialHash: credHash,
		EnrolledAt: s.now().UTC(), Telemetry: catalog.DeviceTelemetry{AppVersion: req.AppVersion}}
	var st catalog.Shop
	err = s.cat.Update(r.Context(), tok.TenantID, func(tx catalog.Tx) error {
		if _, err := tx.RedeemEnrollmentToken(h, dev.ID, dev.EnrolledAt); err != nil {
			return err
		}
		if err := tx.CreateDevice(dev); err != nil {
			return err
		}
		if err := s.publishDeviceKeys(tx, dev.StoreID); err != nil {
			return err
		}
		st, err = tx.GetStore(dev.StoreID)
		return err
	})
	switch {
	case errors.Is(err, catalog.ErrTokenUsed):
		writeProblem(w, api.NewProblem(http.StatusConflict, api.ProblemConflict, "enrollment token already used"))
		return
	case errors.Is(err, catalog.ErrExpired):
		writeProblem(w, api.NewProblem(http.StatusGone, api.ProblemGone, "enrollment token expired"))
		return
	case errors.Is(err, catalog.ErrConflict):
		writeProblem(w, api.NewProblem(http.StatusConflict, api.ProblemConflict,
			"this libp2p key is already enrolled in the tenant"))
		return
	case err != nil:
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, s.enrollResponse(dev, cred, st))
}

func (s *Server) enrollResponse(dev catalog.Device, cred string, st catalog.Shop) api.EnrollResponse {
	return api.EnrollResponse{
		DeviceID: dev.ID, Credential: cred, OriginPublicKey: s.PublicKey(), TenantID: dev.TenantID,
		StoreID: dev.StoreID, ZoneID: dev.ZoneID, TimeZone: st.TimeZone,
		Mesh: s.signedMesh(st),
	}
}

// signedMesh is the store's mesh key as devices get it, signed so that they can pass it on to each other.
func (s *Server) signedMesh(st catalog.Shop) api.Mesh {
	m := api.Mesh{ID: st.MeshID, Key: st.MeshKey, Epoch: st.KeyEpoch}
	m.Sig = ed25519.Sign(s.key, api.MeshSigningBytes(m))
	return m
}

// reenroll answers a used token again for the device that redeemed it, if that device asks: the same libp2p key,
// not revoked, the token not yet expired, and a credential origin can derive again (not one from before
// credentials were derived, nor under another signing key). Anyone else gets the answer a used token always got.
func (s *Server) reenroll(w http.ResponseWriter, r *http.Request, tok catalog.EnrollmentToken, key []byte) {
	used := api.NewProblem(http.StatusConflict, api.ProblemConflict, "enrollment token already used")
	dev, err := s.cat.GetDevice(r.Context(), tok.TenantID, tok.UsedBy)
	if err != nil || !bytes.Equal(dev.PublicKey, key) || !dev.RevokedAt.IsZero() || !s.now().Before(tok.ExpiresAt) {
		writeProblem(w, used)
		return
	}
	cred := s.deviceCredential(dev.ID, tok.Hash)
	if hashSecret(cred) != dev.CredentialHash {
		writeProblem(w, used)
		return
	}
	st, err := s.cat.GetStore(r.Context(), dev.TenantID, dev.StoreID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, s.enrollResponse(dev, cred, st))
}

// deviceCredential derives a device's bearer credential from origin's signing key, the device id and the hash of
// the enrollment token that created it, so re-enrollment can hand the same one back without origin ever storing
// it (only its hash is kept). Replicas share the signing key, so any of them can answer.
func (s *Server) deviceCredential(deviceID string, token catalog.Hash) string {
	m := hmac.New(sha256.New, s.key.Seed())
	m.Write([]byte("lomuz/device-credential/v1\x00"))
	m.Write([]byte(deviceID))
	m.Write([]byte{0})
	m.Write(token[:])
	return deviceSecretPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
