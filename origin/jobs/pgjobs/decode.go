package pgjobs

import (
	"encoding/json"
	"fmt"
)

// decodeArgs reads a job row's args. Rows come from our own inserts, bounded by jobs.MaxPayload, but the table is
// shared infrastructure: check the size before decoding.
func decodeArgs(b []byte) (args, error) {
	var a args
	if len(b) > 4*1024*1024 {
		return a, fmt.Errorf("pgjobs: job args of %d bytes", len(b))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("pgjobs: job args: %w", err)
	}
	return a, nil
}
