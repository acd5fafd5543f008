package origin

import (
	"context"
	"errors"
	"net/http"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// storePlays stores proof-of-play events delivered by device d and returns an ack for each. An event may have been
// recorded by another device of d's store (the store mesh relays them); events of a device outside d's store are
// rejected and nothing is stored. Store and zone come from the recording device's row, not from the event.
func (s *Server) storePlays(ctx context.Context, d catalog.Device, evs []api.PlayEvent) ([]api.PlayAck, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	devs := map[string]catalog.Device{d.ID: d}
	out := make([]catalog.PlayEvent, 0, len(evs))
	now := s.now().UTC()
	for _, e := range evs {
		rec, ok := devs[e.DeviceID]
		if !ok {
			var err error
			rec, err = s.cat.GetDevice(ctx, d.TenantID, e.DeviceID)
			if errors.Is(err, catalog.ErrNotFound) || (err == nil && rec.StoreID != d.StoreID) {
				return nil, api.BadField("play_events.device_id", "device %s is not a device of this store", e.DeviceID)
			} else if err != nil {
				return nil, err
			}
			devs[e.DeviceID] = rec
		}
		out = append(out, catalog.PlayEvent{TenantID: d.TenantID, DeviceID: e.DeviceID, Seq: e.Seq,
			AssetID: e.AssetID, StoreID: rec.StoreID, ZoneID: rec.ZoneID, StartedAt: e.StartedAt.UTC(),
			DurationMS: e.DurationMS, Fallback: e.Fallback, ReceivedAt: now})
	}
	if _, err := s.cat.AddPlayEvents(ctx, d.TenantID, out); err != nil {
		return nil, err
	}
	acks := make([]api.PlayAck, len(evs))
	for i, e := range evs {
		acks[i] = api.PlayAck{DeviceID: e.DeviceID, Seq: e.Seq}
	}
	return acks, nil
}

// handlePlays stores a batch of play events outside a sync; sending the same batch twice stores it once.
func (s *Server) handlePlays(w http.ResponseWriter, r *http.Request) {
	var req api.PlayUpload
	if err := decode(r, api.MaxSyncBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	acks, err := s.storePlays(r.Context(), deviceOf(r), req.Events)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if acks == nil {
		acks = []api.PlayAck{}
	}
	writeJSON(w, r, http.StatusOK, api.PlayAcks{Acks: acks})
}
