package compact

import (
	"math"
	"slices"
)

// Pass records that a cleaning pass at TimeMs first cleaned the offsets below End (and
// at or above the End of the pass before it). A tombstone may go DeleteRetentionMs after
// the pass that first cleaned it.
type Pass struct {
	End    int64
	TimeMs int64
}

// A pass's TimeMs of 0 marks it swept: a later pass removed its tombstones, so none is
// left in its range to wait for.

// PassesMax bounds the passes a log remembers. Merging two neighbours keeps the later
// time for both: tombstones then stay longer, never shorter.
const PassesMax = 64

// Passes is a log's cleaning history, by End, rising.
type Passes []Pass

// FirstCleanedMs returns when the pass that first cleaned offset ran, ok=false when no
// pass cleaned it yet.
func (ps Passes) FirstCleanedMs(offset int64) (int64, bool) {
	for _, p := range ps {
		if offset < p.End {
			return p.TimeMs, true
		}
	}
	return 0, false
}

// Cleaned returns the dirty end: the offset below which every offset was cleaned once.
func (ps Passes) Cleaned() int64 {
	if len(ps) == 0 {
		return 0
	}
	return ps[len(ps)-1].End
}

// Add returns ps with a pass at nowMs that cleaned up to end (nothing new when end is
// not past ps's), without the passes wholly below start (the log start offset) and at
// most PassesMax long.
func (ps Passes) Add(end, nowMs, start int64) Passes {
	out := Passes{}
	for _, p := range ps {
		if p.End > start {
			out = append(out, p)
		}
	}
	if end > start && end > ps.Cleaned() {
		out = append(out, Pass{End: end, TimeMs: nowMs})
	}
	for len(out) > PassesMax {
		// Merge the oldest two: their tombstones are the first to go, and keeping them
		// longer costs the least.
		out[1].TimeMs = max(out[0].TimeMs, out[1].TimeMs)
		out = out[1:]
	}
	return out
}

// SweepDue reports whether a pass at p.NowMs would remove tombstones no pass removed yet:
// some pass's delete.retention.ms ran out and no pass swept it since.
func (ps Passes) SweepDue(p Policy) bool {
	for _, q := range ps {
		if q.TimeMs > 0 && expired(q.TimeMs, p.DeleteRetentionMs, p.NowMs) {
			return true
		}
	}
	return false
}

// Swept returns ps with the passes whose tombstones a pass at p.NowMs removed marked
// swept (TimeMs 0). It describes the history before that pass.
func (ps Passes) Swept(p Policy) Passes {
	out := slices.Clone(ps)
	for i, q := range out {
		if expired(q.TimeMs, p.DeleteRetentionMs, p.NowMs) {
			out[i].TimeMs = 0
		}
	}
	return out
}

// Clip returns the passes that still describe a log starting at start and ending at end
// (a truncation may have cut the last ones).
func (ps Passes) Clip(start, end int64) Passes {
	out := Passes{}
	if end <= start {
		return out
	}
	for _, p := range ps {
		if p.End <= start {
			continue
		}
		if p.End >= end {
			out = append(out, Pass{End: end, TimeMs: p.TimeMs})
			break
		}
		out = append(out, p)
	}
	return out
}

// Record is what the keep rule needs to know of a record being cleaned.
type Record struct {
	Offset    int64
	Key       []byte // nil: the record has no key
	Tombstone bool   // the value is null
}

// Keep decides whether a pass keeps r: latest is what the pass's OffsetMap says of r's key
// (ok=false when the key was not mapped), passes the log's cleaning history before this
// pass. Keyless records go, as in Kafka: a compacted log cannot hold them. A tombstone
// goes once DeleteRetentionMs has passed since the pass that first cleaned it.
func Keep(r Record, latest int64, mapped bool, passes Passes, p Policy) bool {
	if r.Key == nil {
		return false
	}
	if mapped && latest > r.Offset {
		return false
	}
	if !r.Tombstone {
		return true
	}
	first, ok := passes.FirstCleanedMs(r.Offset)
	return !ok || !expired(first, p.DeleteRetentionMs, p.NowMs)
}

func expired(fromMs, afterMs, nowMs int64) bool {
	if afterMs < 0 || fromMs > math.MaxInt64-afterMs {
		return false
	}
	return nowMs >= fromMs+afterMs
}
