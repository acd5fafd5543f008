package origin

import (
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
	cred, credHash := newSecret(deviceSecretPrefix)
	dev := catalog.Device{ID: uuid.NewString(), TenantID: tok.TenantID, StoreID: tok.StoreID, ZoneID: tok.ZoneID,
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
	writeJSON(w, r, http.StatusCreated, api.EnrollResponse{
		DeviceID: dev.ID, Credential: cred, OriginPublicKey: s.PublicKey(), TenantID: dev.TenantID,
		StoreID: dev.StoreID, ZoneID: dev.ZoneID, TimeZone: st.TimeZone,
		Mesh: api.Mesh{ID: st.MeshID, Key: st.MeshKey, Epoch: st.KeyEpoch},
	})
}
