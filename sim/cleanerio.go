package sim

import (
	"math"
	"math/bits"
	"time"
)

// The cleaner's I/O. Some seeds draw log.cleaner.io.buffer.size down to a few hundred
// bytes, so that passes take many steps with appends, reads, retention and truncations
// between them, and log.cleaner.io.max.bytes.per.second down to a few KiB/s, so that
// steps wait for the throttle. The check (cleaner-throttle): whenever a node emits a
// Clean op, the bytes of the Clean steps whose completions it took since it started are
// at most the rate times the time since its first Clean op, on its own clock.

// streamCleanerIO is the stream of the cleaner I/O draws.
const streamCleanerIO = "cleaner-io"

func drawCleanerIO(seed uint64, c *Config) {
	rng := Stream(seed, streamCleanerIO, 0)
	if rng.IntN(3) > 0 {
		c.CleanerStepBytes = int32(128) << rng.IntN(10)
	}
	if rng.IntN(2) == 0 {
		c.CleanerBytesPerSec = int64(4<<10) << rng.IntN(9)
	}
}

// cleanerIO is what the check knows of a node's incarnation.
type cleanerIO struct {
	first   int64 // its clock at its first Clean op; -1 before
	doneSum int64 // bytes of the Clean steps it was told of
	// seen is doneSum at the node's last drain. A node takes several inputs between
	// drains (node.go), so a Clean op drained now may have been emitted before a
	// completion taken in the same batch: only those taken before the batch began are
	// sure to have been charged to the throttle when the op left.
	seen int64
}

func (n *simNode) resetCleanerIO() { n.cleaner = cleanerIO{first: -1} }

// cleanerStepDone counts a Clean completion handed to the node.
func (n *simNode) cleanerStepDone(bytes int64, more bool) {
	n.cleaner.doneSum += bytes
	if more {
		n.w.cov.Inc("cleaner:step-continued")
	}
}

// rateAllows is how many bytes rate (per second) allows in elapsed ns.
func rateAllows(rate, elapsed int64) uint64 {
	hi, lo := bits.Mul64(uint64(rate), uint64(elapsed))
	if hi >= 1e9 {
		return math.MaxUint64 // beyond any byte count
	}
	allowed, _ := bits.Div64(hi, lo, 1e9)
	return allowed
}

// cleanerDrained notes that the node drained its outputs: every completion taken so far
// was charged before anything it emits next.
func (n *simNode) cleanerDrained() { n.cleaner.seen = n.cleaner.doneSum }

// checkCleanerRate checks a Clean op the node emits at now, its clock.
func (n *simNode) checkCleanerRate(now int64) {
	rate := n.w.cfg.CleanerBytesPerSec
	if n.cleaner.first < 0 {
		n.cleaner.first = now
	}
	if rate <= 0 {
		return
	}
	elapsed := now - n.cleaner.first
	if uint64(n.cleaner.seen) > rateAllows(rate, elapsed)+1 {
		n.w.fail("cleaner-throttle", n.spec.ID, "node %d starts a cleaning step %v after its first with %d bytes of steps done: above log.cleaner.io.max.bytes.per.second=%d",
			n.spec.ID, time.Duration(elapsed), n.cleaner.seen, rate)
		return
	}
	if n.cleaner.seen > 0 {
		n.w.cov.Inc("check:cleaner-throttle")
	}
}
