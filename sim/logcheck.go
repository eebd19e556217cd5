package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The log history checker: a fast, specific check of produce and fetch histories, the
// complement of Porcupine for partition logs. Records are identified by a unique value
// their producer wrote. It reports:
//
//   - lost: an acknowledged produce whose record is missing from the final complete read
//     (or sits at another offset than the one acknowledged);
//   - duplicate: one value at two offsets;
//   - reorder: two produces to one partition where the first was acknowledged before the
//     second was invoked, but the second's record sits at a lower offset;
//   - phantom: a record read that no produce wrote (or only a produce that never left its
//     client);
//   - inconsistent: two reads disagreeing about the record at one offset;
//   - backwards: a client seeing a partition's high watermark decrease;
//   - stale: a fetch that began after a produce was acknowledged, with a high watermark
//     not above that produce's offset.

// LogRecord is a record read at an offset.
type LogRecord struct {
	Offset int64
	Value  string
}

// LogProduce is one produce of one record.
type LogProduce struct {
	Client    int32
	Partition string
	Value     string
	Call      int64
	Return    int64
	// Outcome OK means acknowledged at Offset. Failed with NotSent means the request
	// never left the client; any other failure may still have been written.
	Outcome Outcome
	Offset  int64
	NotSent bool
}

// LogFetch is one read of a partition.
type LogFetch struct {
	Client    int32
	Partition string
	Call      int64
	Return    int64
	Records   []LogRecord
	// HW is the high watermark the response carried.
	HW int64
}

// LogHistory is what the checker reads. Final holds, per partition, a complete read of
// the log at the end of the run, in offset order.
type LogHistory struct {
	Produces []LogProduce
	Fetches  []LogFetch
	Final    map[string][]LogRecord
}

// LogViolation is one problem found.
type LogViolation struct {
	Kind      string // lost, duplicate, reorder, phantom, inconsistent, backwards, stale
	Partition string
	Message   string
}

func (v LogViolation) String() string {
	return fmt.Sprintf("%s in %s: %s", v.Kind, v.Partition, v.Message)
}

// logViolationsMax bounds what the checker reports.
const logViolationsMax = 20

// CheckLog checks a log history and returns what it found (nil when the history is
// fine), in a deterministic order.
func CheckLog(h *LogHistory) []LogViolation {
	c := logChecker{h: h, at: map[string]map[int64]string{}, where: map[string]map[string]int64{}}
	c.readsAgree()
	if len(c.out) == 0 {
		c.lostAndReordered()
		c.phantoms()
		c.watermarks()
	}
	return c.out
}

type logChecker struct {
	h *LogHistory
	// at maps partition -> offset -> value, from every read; where maps partition ->
	// value -> offset.
	at    map[string]map[int64]string
	where map[string]map[string]int64
	out   []LogViolation
}

func (c *logChecker) report(kind, partition, format string, args ...any) {
	if len(c.out) < logViolationsMax {
		c.out = append(c.out, LogViolation{Kind: kind, Partition: partition, Message: fmt.Sprintf(format, args...)})
	}
}

// see records that a read saw value at offset.
func (c *logChecker) see(partition string, r LogRecord, source string) {
	at, where := c.at[partition], c.where[partition]
	if at == nil {
		at, where = map[int64]string{}, map[string]int64{}
		c.at[partition], c.where[partition] = at, where
	}
	if v, ok := at[r.Offset]; ok && v != r.Value {
		c.report("inconsistent", partition, "offset %d read as %q and as %q (%s)", r.Offset, v, r.Value, source)
		return
	}
	if o, ok := where[r.Value]; ok && o != r.Offset {
		c.report("duplicate", partition, "value %q at offsets %d and %d (%s)", r.Value, min(o, r.Offset), max(o, r.Offset), source)
		return
	}
	at[r.Offset], where[r.Value] = r.Value, r.Offset
}

// readsAgree folds every read into the offset maps, checking they never disagree.
func (c *logChecker) readsAgree() {
	for _, p := range sortedKeys(c.h.Final) {
		for _, r := range c.h.Final[p] {
			c.see(p, r, "final read")
		}
	}
	for i := range c.h.Fetches {
		f := &c.h.Fetches[i]
		for _, r := range f.Records {
			c.see(f.Partition, r, fmt.Sprintf("fetch by client %d at %v", f.Client, time.Duration(f.Call)))
		}
	}
}

// lostAndReordered checks acknowledged produces against the final read.
func (c *logChecker) lostAndReordered() {
	byPartition := map[string][]*LogProduce{}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Outcome != OK {
			continue
		}
		byPartition[p.Partition] = append(byPartition[p.Partition], p)
		final, ok := c.finalOffset(p.Partition, p.Value)
		switch {
		case !ok:
			c.report("lost", p.Partition, "value %q acknowledged at offset %d to client %d at %v is not in the final read", p.Value, p.Offset, p.Client, time.Duration(p.Return))
		case final != p.Offset:
			c.report("lost", p.Partition, "value %q acknowledged at offset %d is at offset %d in the final read", p.Value, p.Offset, final)
		}
	}
	for _, part := range sortedKeys(byPartition) {
		acked := byPartition[part]
		// Sort by completion; any produce invoked after an earlier one completed must
		// sit at a higher offset.
		byReturn := slices.Clone(acked)
		slices.SortStableFunc(byReturn, func(a, b *LogProduce) int { return cmpInt64(a.Return, b.Return) })
		byCall := slices.Clone(acked)
		slices.SortStableFunc(byCall, func(a, b *LogProduce) int { return cmpInt64(a.Call, b.Call) })
		j := 0
		var highest *LogProduce // the acknowledged produce with the highest offset so far
		for _, p := range byCall {
			for j < len(byReturn) && byReturn[j].Return < p.Call {
				if highest == nil || byReturn[j].Offset > highest.Offset {
					highest = byReturn[j]
				}
				j++
			}
			if highest != nil && p.Offset <= highest.Offset {
				c.report("reorder", part, "value %q (invoked %v) is at offset %d, not after %q at offset %d acknowledged at %v",
					p.Value, time.Duration(p.Call), p.Offset, highest.Value, highest.Offset, time.Duration(highest.Return))
			}
		}
	}
}

func (c *logChecker) finalOffset(partition, value string) (int64, bool) {
	for _, r := range c.h.Final[partition] {
		if r.Value == value {
			return r.Offset, true
		}
	}
	return 0, false
}

// phantoms finds values read that no produce could have written.
func (c *logChecker) phantoms() {
	written := map[string]map[string]bool{}
	for _, p := range c.h.Produces {
		if p.Outcome == Failed && p.NotSent {
			continue
		}
		if written[p.Partition] == nil {
			written[p.Partition] = map[string]bool{}
		}
		written[p.Partition][p.Value] = true
	}
	for _, part := range sortedKeys(c.at) {
		for _, off := range sortedKeys(c.at[part]) {
			v := c.at[part][off]
			if !written[part][v] {
				c.report("phantom", part, "value %q read at offset %d was never produced", v, off)
			}
		}
	}
}

// watermarks checks that no client sees a high watermark go back, and that a fetch that
// starts after an acknowledgement sees it.
func (c *logChecker) watermarks() {
	type key struct {
		client    int32
		partition string
	}
	fetches := slices.Clone(c.h.Fetches)
	slices.SortStableFunc(fetches, func(a, b LogFetch) int { return cmpInt64(a.Return, b.Return) })
	last := map[key]LogFetch{}
	for _, f := range fetches {
		k := key{f.Client, f.Partition}
		if prev, ok := last[k]; ok && f.Call > prev.Return && f.HW < prev.HW {
			c.report("backwards", f.Partition, "client %d saw high watermark %d at %v, then %d at %v", f.Client, prev.HW, time.Duration(prev.Return), f.HW, time.Duration(f.Return))
		}
		last[k] = f
	}
	acked := map[string][]LogProduce{}
	for _, p := range c.h.Produces {
		if p.Outcome == OK {
			acked[p.Partition] = append(acked[p.Partition], p)
		}
	}
	for _, f := range c.h.Fetches {
		for _, p := range acked[f.Partition] {
			if p.Return < f.Call && f.HW <= p.Offset {
				c.report("stale", f.Partition, "fetch by client %d at %v saw high watermark %d, below offset %d acknowledged at %v",
					f.Client, time.Duration(f.Call), f.HW, p.Offset, time.Duration(p.Return))
				break
			}
		}
	}
}

// FormatLogViolations renders violations one per line.
func FormatLogViolations(vs []LogViolation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.String())
		b.WriteByte('\n')
	}
	return b.String()
}
