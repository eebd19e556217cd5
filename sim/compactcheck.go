package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// The log checker on compacted partitions (cleanup.policy=compact). The cleaner removes
// records, so a read may lack offsets and the final read is not dense. What may go is
// Kafka's rule, checked here:
//
//   - a record may be missing (from a read, or the final read) only when a later record
//     of its key sits at a higher offset and was written before the read returned, or
//     when it is a tombstone and delete.retention.ms had passed since it was written
//     (compacted-early); an acknowledged record missing from the final read without
//     either is lost, as anywhere;
//   - offsets never change and never move: a record read is where every other read has
//     it (inconsistent, duplicate), and the final read's offsets rise, below its high
//     watermark (gap);
//   - the log start stays 0 (earliest): compaction deletes no offset.
//
// A read "covers" the offsets between the first and the last record it returned: what
// it lacks there was not in the log when it read.

// CompactedPartition is what the checker needs of a compacted partition: how many keys
// its records share, and the least time a tombstone stays (delete.retention.ms, less
// what the nodes' clocks may run fast over it).
type CompactedPartition struct {
	Keys                  int
	TombstoneStaysAtLeast time.Duration
	// UncleanedAtLeast is how long a record stays uncompacted whatever supersedes it
	// (min.compaction.lag.ms, less what the nodes' clocks may be ahead of the producers').
	UncleanedAtLeast time.Duration
}

// compactedLog indexes what the checker knows of one compacted partition's records.
type compactedLog struct {
	spec CompactedPartition
	// known are the records at known offsets (read anywhere, or acknowledged with
	// acks=all), by offset.
	known []knownRecord
	// byKey lists, per key, the records at known offsets by offset, with the earliest
	// invocation among each one and those after it.
	byKey map[string][]keyedWrite
	// called maps a value to the invocation of its produce.
	called map[string]int64
	// unplaced lists, per key, the invocations of tombstones that may have been written
	// but sit at no known offset: once expired, such a tombstone may have superseded a
	// record and gone itself, leaving no trace.
	unplaced map[string][]int64
	// unplacedLive lists the same for the other records, and lost the ranges the
	// partition declared lost: such a record, the latest of its key, may have
	// superseded an older one and then been lost itself in one of them.
	unplacedLive map[string][]int64
	lost         [][2]int64
	// weak lists, per key, the records at no known offset whose acks=1 write was
	// acknowledged at an offset: a leader's failover may have cut such a write, so the
	// offset is not known to hold it, but if it stayed it superseded what its key had
	// below it (the cleaner only cleans committed records), and may itself have been
	// superseded since, unread.
	weak map[string][]keyedWrite
}

type knownRecord struct {
	offset int64
	value  string
}

type keyedWrite struct {
	offset    int64
	calledMin int64 // the earliest invocation of this write and of every later one
}

// compacted returns the index of partition part, nil when it is not compacted.
func (c *logChecker) compacted(part string) *compactedLog {
	spec, ok := c.h.Compacted[part]
	if !ok {
		return nil
	}
	if cl := c.compactedLogs[part]; cl != nil {
		return cl
	}
	cl := &compactedLog{spec: spec, byKey: map[string][]keyedWrite{}, called: map[string]int64{}, unplaced: map[string][]int64{},
		unplacedLive: map[string][]int64{}, lost: c.h.Declared[part], weak: map[string][]keyedWrite{}}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Partition == part {
			cl.called[p.Value] = p.Call
		}
	}
	offsets := map[int64]string{}
	for off, v := range c.at[part] { // order-independent: fills a map
		offsets[off] = v
	}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Partition == part && p.Outcome == OK && !p.Weak && p.Offset >= 0 {
			if _, seen := offsets[p.Offset]; !seen {
				offsets[p.Offset] = p.Value
			}
		}
	}
	for _, off := range sortedKeys(offsets) {
		v := offsets[off]
		cl.known = append(cl.known, knownRecord{off, v})
		k := compactKey(v, spec.Keys)
		called, ok := cl.called[v]
		if !ok {
			called = math.MaxInt64 // a phantom, which phantoms() reports
		}
		cl.byKey[k] = append(cl.byKey[k], keyedWrite{offset: off, calledMin: called})
	}
	placed := make(map[string]bool, len(offsets))
	for _, v := range offsets { // order-independent: fills a set
		placed[v] = true
	}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Partition != part || p.Outcome == Failed || placed[p.Value] {
			continue
		}
		k := compactKey(p.Value, spec.Keys)
		if compactTombstone(p.Value) {
			cl.unplaced[k] = append(cl.unplaced[k], p.Call)
		} else {
			cl.unplacedLive[k] = append(cl.unplacedLive[k], p.Call)
		}
		if p.Outcome == OK && p.Weak && p.Offset >= 0 {
			cl.weak[k] = append(cl.weak[k], keyedWrite{offset: p.Offset, calledMin: p.Call})
		}
	}
	for _, ws := range cl.byKey { // order-independent: each list on its own
		for i := len(ws) - 2; i >= 0; i-- {
			ws[i].calledMin = min(ws[i].calledMin, ws[i+1].calledMin)
		}
	}
	if c.compactedLogs == nil {
		c.compactedLogs = map[string]*compactedLog{}
	}
	c.compactedLogs[part] = cl
	return cl
}

// mayLack reports whether a read that returned at t may lack the record named v at
// offset (-1: unknown), and the reason it may not when it may not.
func (cl *compactedLog) mayLack(v string, offset, t int64) (bool, string) {
	if called, ok := cl.called[v]; ok && t < called+int64(cl.spec.UncleanedAtLeast) {
		return false, fmt.Sprintf("it was written less than min.compaction.lag.ms (at least %v) before", cl.spec.UncleanedAtLeast)
	}
	ws := cl.byKey[compactKey(v, cl.spec.Keys)]
	if offset < 0 {
		// Where it went is unknown: any record of its key at a known offset may have
		// superseded it.
		if len(ws) > 0 || compactTombstone(v) {
			return true, ""
		}
		return false, "no record of its key is known"
	}
	i, _ := slices.BinarySearchFunc(ws, offset+1, func(w keyedWrite, o int64) int { return cmp.Compare(w.offset, o) })
	if i < len(ws) && ws[i].calledMin < t {
		return true, ""
	}
	for _, called := range cl.unplaced[compactKey(v, cl.spec.Keys)] {
		if t >= called+int64(cl.spec.TombstoneStaysAtLeast) {
			return true, ""
		}
	}
	if slices.ContainsFunc(cl.weak[compactKey(v, cl.spec.Keys)], func(w keyedWrite) bool { return w.offset > offset && w.calledMin < t }) {
		return true, "" // superseded by an acks=1 write that stayed, unread
	}
	if slices.ContainsFunc(cl.lost, func(r [2]int64) bool { return r[1] > offset+1 }) &&
		slices.ContainsFunc(cl.unplacedLive[compactKey(v, cl.spec.Keys)], func(called int64) bool { return called < t }) {
		return true, "" // superseded by a record lost since
	}
	if !compactTombstone(v) {
		return false, "no later record of its key was written before, and no tombstone of it that could have gone unseen"
	}
	if called, ok := cl.called[v]; ok && t >= called+int64(cl.spec.TombstoneStaysAtLeast) {
		return true, ""
	}
	return false, fmt.Sprintf("it is a tombstone written less than delete.retention.ms (at least %v) before", cl.spec.TombstoneStaysAtLeast)
}

// finalOffsetCompacted is finalOffset on a compacted partition, whose final read is
// sorted but not dense.
func (c *logChecker) finalOffsetCompacted(part, value string, off int64) (int64, bool) {
	recs := c.h.Final[part]
	i, found := slices.BinarySearchFunc(recs, off, func(r LogRecord, o int64) int { return cmp.Compare(r.Offset, o) })
	if !found || recs[i].Fenced || recs[i].Value != value {
		return 0, false
	}
	return off, true
}

// compactedReads checks that every read of a compacted partition lacks, between its
// first and last records, only records it may lack.
func (c *logChecker) compactedReads() {
	for i := range c.h.Fetches {
		f := &c.h.Fetches[i]
		cl := c.compacted(f.Partition)
		if cl == nil {
			continue
		}
		c.compactedGaps(cl, f.Partition, f.Records, f.Return, readName(f))
	}
	for _, part := range sortedKeys(c.h.Final) {
		if cl := c.compacted(part); cl != nil {
			c.compactedGaps(cl, part, c.h.Final[part], c.h.FinalAt, "final read")
		}
	}
}

// compactedGaps checks one read: recs, returned at t.
func (c *logChecker) compactedGaps(cl *compactedLog, part string, recs []LogRecord, t int64, name string) {
	if len(recs) < 2 {
		return
	}
	first, last := recs[0].Offset, recs[len(recs)-1].Offset
	lo, _ := slices.BinarySearchFunc(cl.known, first, func(k knownRecord, o int64) int { return cmp.Compare(k.offset, o) })
	j := 0
	for _, k := range cl.known[lo:] {
		if k.offset > last {
			break
		}
		for j < len(recs) && recs[j].Offset < k.offset {
			j++
		}
		if j < len(recs) && recs[j].Offset == k.offset {
			continue
		}
		if ok, why := cl.mayLack(k.value, k.offset, t); !ok {
			c.report("compacted-early", part, "%s at %v lacks %q at offset %d (key %s), which the cleaner could not remove yet: %s",
				name, time.Duration(t), k.value, k.offset, compactKey(k.value, cl.spec.Keys), why)
			return
		}
	}
}

// denseCompacted checks a compacted partition's final read: offsets rising, below its
// high watermark.
func (c *logChecker) denseCompacted(p string) {
	recs := c.h.Final[p]
	for i := 1; i < len(recs); i++ {
		if recs[i].Offset <= recs[i-1].Offset {
			c.report("gap", p, "the final read has offset %d after %d", recs[i].Offset, recs[i-1].Offset)
			return
		}
	}
	if hw, ok := c.h.FinalHW[p]; ok && len(recs) > 0 && recs[len(recs)-1].Offset >= hw {
		c.report("gap", p, "the final read holds offset %d at or above its high watermark %d", recs[len(recs)-1].Offset, hw)
	}
}
