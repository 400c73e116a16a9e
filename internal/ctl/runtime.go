package ctl

import (
	"runtime"
	"runtime/metrics"
)

// RuntimeStats are the process figures both daemons report in their
// status, so an operator (and the soak test) can see that nothing grows:
// goroutines, and the heap that was live at the last collection (RSS also
// counts garbage not yet collected and memory not yet returned).
type RuntimeStats struct {
	Goroutines    int    `json:"goroutines"`
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
}

// ReadRuntime reads the figures now.
func ReadRuntime() RuntimeStats {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	r := RuntimeStats{Goroutines: runtime.NumGoroutine()}
	if s[0].Value.Kind() == metrics.KindUint64 {
		r.HeapLiveBytes = s[0].Value.Uint64()
	}
	return r
}
