// Package pace paces a node's background byte traffic.
package pace

import "math/bits"

// Throttle paces steps of work, shared by many logs, so that their bytes average at most
// BytesPerSec: after a step of b bytes done at now, no step starts before b/BytesPerSec
// past now, or past the time the step before it released, if later. The log cleaner
// (log.cleaner.io.max.bytes.per.second) and the leader's service of replicas a
// reassignment adds (leader.replication.throttled.rate) each have one per node. The zero
// Throttle (and a nil one) lets every step start at once.
type Throttle struct {
	BytesPerSec int64
	ready       int64 // ns: when the next step may start
}

// Ready is when the next step may start (node time, ns).
func (t *Throttle) Ready() int64 {
	if t == nil {
		return 0
	}
	return t.ready
}

// Spent charges a step of bytes that ended at now.
func (t *Throttle) Spent(now, bytes int64) {
	if t == nil || t.BytesPerSec <= 0 || bytes <= 0 {
		return
	}
	// bytes×1e9/rate in 128 bits; a wait past 2^62 ns (146 years) is cut there.
	hi, lo := bits.Mul64(uint64(bytes), 1_000_000_000)
	rate := uint64(t.BytesPerSec)
	wait := int64(1 << 62)
	if hi < rate {
		q, r := bits.Div64(hi, lo, rate)
		if r > 0 {
			q++
		}
		wait = int64(min(q, 1<<62))
	}
	if t.ready = max(t.ready, now); t.ready > 1<<62 {
		return
	}
	t.ready = max(t.ready, now) + wait
}
