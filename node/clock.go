package node

import "time"

// clock is the node's time source: Unix nanoseconds that never go backwards. It is the
// wall time at start plus the monotonic time elapsed since, so a wall-clock step (NTP,
// an operator) cannot move it; its rate error is the machine's oscillator drift, which
// the leases budget for (clock.drift.max).
type clock struct {
	start     time.Time // carries a monotonic reading
	startUnix int64
}

func newClock() clock {
	t := time.Now()
	return clock{start: t, startUnix: t.UnixNano()}
}

func (c clock) now() int64 { return c.startUnix + int64(time.Since(c.start)) }
