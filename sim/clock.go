package sim

import (
	"fmt"
	"time"
)

// clockBase is the Unix time every simulated clock starts near: 2026-01-01T00:00:00Z.
const clockBase = int64(1767225600) * int64(time.Second)

// ppmScale is the unit of drift: parts per million.
const ppmScale = 1_000_000

// clock is one node's local clock as a function of virtual time v:
//
//	local(v) = clockBase + offset + v + v*driftPPM/1e6
//
// offset starts as the node's skew and grows with forward jumps, so local is monotonic
// (1 + drift > 0 and jumps only go forward). The whole computation is integer arithmetic,
// identical on every platform.
type clock struct {
	offset   int64 // skew plus every jump so far
	driftPPM int64 // |driftPPM| < ClockDriftMax * 1e6
	// jumps bookkeeping for the drift budget (see allowJump).
	lastJumpAt int64
	jumps      int
}

// local returns the clock's reading at virtual time v.
func (c *clock) local(v int64) int64 {
	return clockBase + c.offset + v + v*c.driftPPM/ppmScale
}

// virtual returns the earliest virtual time v >= from at which local(v) >= t.
func (c *clock) virtual(t, from int64) int64 {
	if c.local(from) >= t {
		return from
	}
	x := t - clockBase - c.offset
	// A float estimate, then exact integer correction: the result does not depend on
	// floating point rounding.
	v := int64(float64(x) / (1 + float64(c.driftPPM)/ppmScale))
	v = max(v, from)
	for c.local(v) < t {
		v++
	}
	for v > from && c.local(v-1) >= t {
		v--
	}
	return v
}

// jumpBudget returns the largest forward jump allowed now, given the drift budget: the
// configured ClockDriftMax bounds the rate error the protocol tolerates, and this clock's
// own drift already uses |driftPPM| of it. Jumps are spaced at least window apart and
// each is at most half the remaining rate budget over one window, so over any interval T
// of at least one window the jumps add at most (driftMax - |drift|) * T: the clock's
// average rate over every interval the leases reason about stays within the bound.
func (c *clock) jumpBudget(now int64, driftMaxPPM int64, window time.Duration) time.Duration {
	if c.jumps > 0 && now-c.lastJumpAt < int64(window) {
		return 0
	}
	spare := driftMaxPPM - abs64(c.driftPPM)
	if spare <= 0 {
		return 0
	}
	return time.Duration(int64(window) / ppmScale * spare / 2)
}

// jump moves the clock forward by d at virtual time now.
func (c *clock) jump(now int64, d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("sim: clock jump backwards by %v", d))
	}
	c.offset += int64(d)
	c.lastJumpAt = now
	c.jumps++
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
