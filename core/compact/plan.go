// Package compact holds the decisions of log compaction (cleanup.policy=compact), as pure
// functions over descriptions of a log: which segments a cleaning pass rewrites, which
// records it keeps, when a tombstone may go. Package storage carries the decisions out on
// disk, in the real node and in the simulator alike.
//
// A pass works as Kafka's cleaner does. The log is split at the cleaner's checkpoint (the
// first dirty offset): below it every segment was cleaned before, above it up to the first
// uncleanable offset are the dirty segments. The pass maps each key of the dirty segments
// to its latest offset (an OffsetMap of bounded memory, so a pass may take only the first
// dirty segments), then rewrites every segment from the log start to the end of what it
// mapped, keeping a record only when no later record of its key was mapped. Offsets never
// change: records keep theirs, and offsets whose records all went are covered by empty
// batches so that a log's offsets stay dense (see storage).
package compact

import "math"

// Policy is what a topic and its broker say about compaction, and the time of the pass.
type Policy struct {
	// NowMs is the node's clock, ms since the Unix epoch, the unit of record timestamps.
	NowMs int64
	// DirtyRatioMin is min.cleanable.dirty.ratio: a log is cleaned once the dirty part
	// holds at least this share of the cleanable bytes.
	DirtyRatioMin float64
	// LagMinMs is min.compaction.lag.ms: a segment whose newest record is younger stays
	// dirty. LagMaxMs is max.compaction.lag.ms: a dirty segment whose newest record is
	// older is cleaned whatever the dirty ratio.
	LagMinMs, LagMaxMs int64
	// DeleteRetentionMs is delete.retention.ms: how long a tombstone stays after the pass
	// that first cleaned it.
	DeleteRetentionMs int64
}

// Segment describes a closed segment of a log.
type Segment struct {
	BaseOffset, NextOffset int64
	SizeBytes              int64
	// IndexBytes is the size of its larger index (offset or time).
	IndexBytes int64
	// MaxTimestamp is the newest record's timestamp, -1 when none carries one.
	MaxTimestamp int64
}

// Range is the dirty part of a log a pass maps: the segments [First, End) of the list
// given to Plan.
type Range struct {
	First, End int
}

// Plan picks the dirty segments of a pass: segs are the log's segments, oldest first,
// without the active one, each ending at or below bound (the high watermark, the
// recovery point); passes is the log's cleaning history, whose end is the first dirty
// offset. It returns ok=false when the log is not due: no dirty segment may be cleaned
// yet, or the dirty share is below the policy's ratio and no dirty segment is older than
// its lag allows, and no tombstone's delete.retention.ms ran out since the last pass. A
// pass due for tombstones alone gets an empty Range (First == End): it maps nothing and
// rewrites the clean segments.
func Plan(segs []Segment, passes Passes, p Policy) (Range, bool) {
	r, ok := plan(segs, passes.Cleaned(), p)
	if ok {
		return r, true
	}
	if r.First > 0 && passes.SweepDue(p) {
		return Range{First: r.First, End: r.First}, true
	}
	return Range{}, false
}

func plan(segs []Segment, firstDirty int64, p Policy) (Range, bool) {
	first := len(segs)
	for i, s := range segs {
		if s.NextOffset > firstDirty {
			first = i
			break
		}
	}
	// The first uncleanable segment: one whose newest record is within the minimum lag.
	end := first
	for end < len(segs) && !tooYoung(segs[end], p) {
		end++
	}
	if end == first {
		return Range{First: first, End: first}, false
	}
	var clean, dirty int64
	overdue := false
	for i, s := range segs[:end] {
		if i < first {
			clean += s.SizeBytes
			continue
		}
		dirty += s.SizeBytes
		overdue = overdue || p.LagMaxMs >= 0 && p.LagMaxMs < math.MaxInt64 && s.MaxTimestamp >= 0 && s.MaxTimestamp < p.NowMs-p.LagMaxMs
	}
	if dirty == 0 || !overdue && float64(dirty) < p.DirtyRatioMin*float64(clean+dirty) {
		return Range{First: first, End: first}, false
	}
	return Range{First: first, End: end}, true
}

func tooYoung(s Segment, p Policy) bool {
	return p.LagMinMs > 0 && s.MaxTimestamp > p.NowMs-p.LagMinMs
}

// Groups splits the segments [0, end) a pass rewrites into runs that each become one new
// segment: consecutive segments (contiguous reports whether segment i continues segment
// i-1, no fenced range between them) whose sizes add up to at most sizeMax, the log's
// segment size, and whose indexes add up to at most indexMax (0: no bound), its
// segment.index.bytes, as Kafka groups them: a cleaned segment is no larger than its
// parts, nor are its indexes. It returns the index of each run's first segment, and end
// last.
func Groups(segs []Segment, end int, sizeMax, indexMax int64, contiguous func(i int) bool) []int {
	starts := []int{}
	var size, index int64
	for i := range end {
		s := segs[i]
		if i == 0 || !contiguous(i) || size+s.SizeBytes > sizeMax || indexMax > 0 && index+s.IndexBytes > indexMax ||
			s.NextOffset-segs[starts[len(starts)-1]].BaseOffset > math.MaxInt32 {
			starts = append(starts, i)
			size, index = 0, 0
		}
		size += s.SizeBytes
		index += s.IndexBytes
	}
	return append(starts, end)
}
