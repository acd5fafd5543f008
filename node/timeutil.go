package node

import "time"

func timeFromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
