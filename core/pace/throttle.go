// Package pace paces a node's background byte traffic.
package pace

import (
	"math"
	"math/bits"
)

// Throttle paces steps of work, shared by many logs, so that their bytes average at most
// BytesPerSec: after a step of b bytes done at now, no step starts before b/BytesPerSec
// past now, or past the time the step before it released, if later. The log cleaner
// (log.cleaner.io.max.bytes.per.second) and the leader's service of replicas a
// reassignment adds (leader.replication.throttled.rate) each have one per node. The zero
// Throttle (and a nil one) lets every step start at once.
//
// Steps whose size is known only once they end (a read of up to some bytes) are marked
// begun (Begin): no other step starts until each ends (End) or is given up (Abandon),
// for steps started side by side would all be charged after the fact.
type Throttle struct {
	BytesPerSec int64
	ready       int64 // ns: when the next step may start
	running     int   // steps begun and not yet charged or given up
}

// Ready is when the next step may start (node time, ns): never while a begun step runs.
func (t *Throttle) Ready() int64 {
	if t == nil {
		return 0
	}
	if t.running > 0 && t.BytesPerSec > 0 {
		return math.MaxInt64
	}
	return t.ready
}

// Begin marks a step started; End or Abandon ends it.
func (t *Throttle) Begin() {
	if t != nil {
		t.running++
	}
}

// Abandon ends a begun step whose outcome will never be known, charging nothing.
func (t *Throttle) Abandon() {
	if t != nil && t.running > 0 {
		t.running--
	}
}

// End ends a begun step of bytes at now and charges it.
func (t *Throttle) End(now, bytes int64) {
	t.Abandon()
	t.Spent(now, bytes)
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
