package sim

import (
	"slices"
	"strconv"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
)

// Topic-level segment limits: some data topics set segment.bytes, segment.ms (with
// segment.jitter.ms) or segment.index.bytes, which their logs must roll by instead of
// the node's settings. The check (segments): every closed segment of such a topic's
// logs, on every broker, is at most its segment.bytes unless it holds a single batch,
// its indexes at most segment.index.bytes, and its records span at most its partition's
// segment.ms less jitter (core.SegmentAgeMs), counted from the first batch's timestamp
// as the roll rule counts. The cleaner merges segments by size alone, as Kafka's does,
// so the age is not checked on compacted topics.

// streamSegments is the stream of the topic segment draws.
const streamSegments = "topic-segments"

// drawTopicSegments gives some data topics their own segment.bytes (1 to 8 KiB) or
// segment.ms (0.2 to 3 s).
func drawTopicSegments(seed uint64, c *Config) {
	rng := Stream(seed, streamSegments, 0)
	for i := range c.Data.Topics {
		t := &c.Data.Topics[i]
		if rng.IntN(100) < 30 {
			t.SegmentBytes = int64(1<<10 + rng.IntN(7<<10))
		}
		if rng.IntN(100) < 20 {
			t.SegmentMs = int64(200 + rng.IntN(2800))
			if rng.IntN(2) == 0 {
				t.SegmentJitterMs = int64(rng.IntN(int(t.SegmentMs)))
			}
		}
		if rng.IntN(100) < 20 {
			t.SegmentIndexBytes = int64(24 + rng.IntN(200))
		}
	}
}

// segmentsString renders a topic's segment limits for the configuration block.
func (t DataTopic) segmentsString() string {
	s := ""
	if t.SegmentBytes > 0 {
		s += " segment.bytes=" + strconv.FormatInt(t.SegmentBytes, 10)
	}
	if t.SegmentMs > 0 {
		s += " segment.ms=" + strconv.FormatInt(t.SegmentMs, 10)
	}
	if t.SegmentJitterMs > 0 {
		s += " segment.jitter.ms=" + strconv.FormatInt(t.SegmentJitterMs, 10)
	}
	if t.SegmentIndexBytes > 0 {
		s += " segment.index.bytes=" + strconv.FormatInt(t.SegmentIndexBytes, 10)
	}
	return s
}

// checkTopicSegments checks the closed segments of node n's copy of tp against its
// topic's segment.bytes.
func (c *checkers) checkTopicSegments(n *simNode, tp TopicPartition) bool {
	w := c.w
	t, ok := w.cfg.Data.topic(tp.Topic)
	ageMs := int64(0)
	if ok && t.SegmentMs > 0 && !t.Compact {
		ageMs = core.SegmentAgeMs(tp.Topic, tp.Partition, t.SegmentMs, t.SegmentJitterMs)
	}
	if !ok || t.SegmentBytes <= 0 && t.SegmentIndexBytes <= 0 && ageMs == 0 {
		return true
	}
	x := executorOf(n.exec)
	if x == nil {
		return true
	}
	id := disk.PartitionLog(tp.Topic, tp.Partition)
	segs := x.Segments(id)
	fences := x.Fences(id)
	for i, s := range segs[:max(len(segs)-1, 0)] {
		if t.SegmentIndexBytes > 0 && int64(s.IndexBytes) > t.SegmentIndexBytes {
			w.fail("segments", n.spec.ID, "node %d's segment %d of %s (%d of %d) has an index of %d bytes, above the topic's segment.index.bytes %d",
				n.spec.ID, s.BaseOffset, tp, i+1, len(segs), s.IndexBytes, t.SegmentIndexBytes)
			return false
		}
		// A batch a fault damaged may carry any timestamp in its header, which recovery
		// takes without its checksum (the reads that follow fence it). A segment that
		// begins where a fence ends holds batches moved out of the segment the fenced
		// range was cut from: the roll rule counted their age from that segment's first
		// batch, not from theirs.
		damaged := w.faults.partDamage.overlaps(n.spec.ID, id, offRange{s.BaseOffset, s.NextOffset})
		split := slices.ContainsFunc(fences, func(f disk.Fence) bool { return f.To == s.BaseOffset })
		if ageMs > 0 && s.RollTimestamp >= 0 && s.MaxTimestamp-s.RollTimestamp > ageMs && !damaged && !split {
			w.fail("segments", n.spec.ID, "node %d's segment %d of %s (%d of %d) spans %d ms of timestamps from its first batch, above the %d ms it rolls at (segment.ms %d, segment.jitter.ms %d)",
				n.spec.ID, s.BaseOffset, tp, i+1, len(segs), s.MaxTimestamp-s.RollTimestamp, ageMs, t.SegmentMs, t.SegmentJitterMs)
			return false
		}
		if t.SegmentBytes > 0 && s.SizeBytes > t.SegmentBytes && s.LastBatchBase != s.BaseOffset {
			w.fail("segments", n.spec.ID, "node %d's segment %d of %s (%d of %d) holds %d bytes in several batches, above the topic's segment.bytes %d",
				n.spec.ID, s.BaseOffset, tp, i+1, len(segs), s.SizeBytes, t.SegmentBytes)
			return false
		}
	}
	if len(segs) > 1 && ageMs > 0 {
		w.cov.Inc("check:topic-segment-ms")
	}
	if len(segs) > 1 && t.SegmentBytes > 0 {
		w.cov.Inc("check:topic-segment-bytes")
	}
	if len(segs) > 1 && t.SegmentIndexBytes > 0 {
		w.cov.Inc("check:topic-segment-index-bytes")
	}
	return true
}

// splitQuorum gives the quorum's lane an executor of its own, split off x as the real
// node splits its executor; an executor that is not diskexec's runs both lanes.
func splitQuorum(x Executor) Executor {
	switch e := x.(type) {
	case *diskexec.Executor:
		return e.SplitQuorum()
	case *countingExecutor:
		return &countingExecutor{x: e.x.SplitQuorum(), cov: e.cov}
	}
	return x
}

// executorOf returns the diskexec executor behind x, nil when there is none.
func executorOf(x Executor) *diskexec.Executor {
	switch e := x.(type) {
	case *diskexec.Executor:
		return e
	case *countingExecutor:
		return e.x
	}
	return nil
}
