package sim

import (
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Compacted topics (cleanup.policy=compact). Their records carry keys from a small set,
// so that the log cleaner has overwrites to remove, and some are tombstones (a null
// value). A record's key and whether it is a tombstone follow from its value, the name
// that identifies the write, so the checkers know them without being told. A tombstone
// has no value to carry that name: it rides in the record header "id" instead.

// streamCompaction is the stream of the compaction draws: drawing them shifts no other.
const streamCompaction = "compaction"

// compactPercent is the share of data topics drawn compacted beyond those drawn with
// retention (drawRetention).
const compactPercent = 20

// idHeader names the header that carries a tombstone's value name.
const idHeader = "id"

// drawCompaction makes some data topics compacted and draws what their cleaners do:
// how many keys their records share, how dirty a log gets before a pass, how long
// tombstones stay. It also draws log.cleaner.backoff.ms, which __consumer_offsets
// (always compacted) obeys too.
func drawCompaction(seed uint64, c *Config) {
	rng := Stream(seed, streamCompaction, 0)
	d := &c.Data
	compacted := false
	for i := range d.Topics {
		t := &d.Topics[i]
		if !t.Compact && rng.IntN(100) < compactPercent {
			t.Compact = true
		}
		if !t.Compact {
			continue
		}
		compacted = true
		t.Keys = 2 + rng.IntN(30)
		t.DirtyRatio = []float64{0.01, 0.1, 0.3, 0.5}[rng.IntN(4)]
		t.DeleteRetentionMs = int64(500 + rng.IntN(20_000))
		if rng.IntN(3) == 0 {
			t.MinLagMs = int64(500 + rng.IntN(5000))
		}
		if rng.IntN(3) == 0 {
			// Overdue segments are cleaned whatever the dirty ratio.
			t.MaxLagMs = int64(1000 + rng.IntN(10_000))
		}
	}
	if rng.IntN(3) == 0 {
		// Room for one key to a few hundred: passes that map only part of the dirty
		// segments, or refuse.
		c.CleanerDedupeBytes = int64(48) << rng.IntN(9)
	}
	if rng.IntN(100) < 80 {
		c.Wide.CleanerBackoff = time.Duration(200+rng.IntN(4800)) * time.Millisecond
	}
	if compacted && c.SegmentAge == 0 && rng.IntN(100) < 70 {
		// The cleaner leaves the active segment alone: roll segments by age.
		c.SegmentAge = time.Duration(300+rng.IntN(4700)) * time.Millisecond
	}
}

// compactKey is the key of the record named v on a compacted topic of keys keys. Only the
// workload's records ("c<client>-<n>") share keys: a probe or a scenario's record is keyed
// by its own name, so that nothing ever supersedes it.
func compactKey(v string, keys int) string {
	if !workloadRecord(v) {
		return v
	}
	return "k" + strconv.Itoa(int(xxhash.Sum64String(v)%uint64(max(keys, 1))))
}

// compactTombstone reports whether the record named v on a compacted topic is a
// tombstone: one in eight of the workload's.
func compactTombstone(v string) bool {
	return workloadRecord(v) && xxhash.Sum64String(v)>>40%8 == 0
}

// workloadRecord reports whether v names a record of the workload's producers.
func workloadRecord(v string) bool { return len(v) > 1 && v[0] == 'c' && v[1] >= '0' && v[1] <= '9' }

// shapeCompacted gives the records of a batch to compacted topic t their keys, and
// their tombstones a null value with the name in a header.
func shapeCompacted(t DataTopic, recs []kmsg.Record, values []string) {
	for i, v := range values {
		recs[i].Key = []byte(compactKey(v, t.Keys))
		if compactTombstone(v) {
			recs[i].Value = nil
			recs[i].Headers = append(recs[i].Headers, kmsg.Header{Key: idHeader, Value: []byte(v)})
		}
	}
}

// recordName is the name of a record read back: its value, or a tombstone's header.
func recordName(r *kmsg.Record) string {
	if r.Value != nil {
		return string(r.Value)
	}
	for _, h := range r.Headers {
		if h.Key == idHeader {
			return string(h.Value)
		}
	}
	return ""
}

// compactionString renders the compaction draws of a topic for the configuration block.
func (t DataTopic) compactionString() string {
	lag := ""
	if t.MinLagMs > 0 {
		lag = " min.compaction.lag.ms=" + strconv.FormatInt(t.MinLagMs, 10)
	}
	if t.MaxLagMs > 0 {
		lag += " max.compaction.lag.ms=" + strconv.FormatInt(t.MaxLagMs, 10)
	}
	return " keys=" + strconv.Itoa(t.Keys) + " min.cleanable.dirty.ratio=" + strconv.FormatFloat(t.DirtyRatio, 'g', -1, 64) +
		" delete.retention.ms=" + strconv.FormatInt(t.DeleteRetentionMs, 10) + lag
}

// compactionHistory adds to h the compacted partitions, for the log checker.
func (w *World) compactionHistory(h *LogHistory) {
	h.FinalAt = w.now
	dc := &w.cfg.Data
	parts := w.data.finalPartitions()
	for tp := range w.data.unread { // order-independent: fills a map below
		parts = append(parts, tp)
	}
	for _, tp := range parts {
		t, _ := dc.topic(tp.Topic)
		if !t.Compact {
			continue
		}
		if h.Compacted == nil {
			h.Compacted = map[string]CompactedPartition{}
		}
		// A node's clock may run fast by the drift bound, jumps included; against the
		// producers' timestamps it may also be ahead by its skew.
		stays := time.Duration(float64(t.DeleteRetentionMs) * float64(time.Millisecond) * (1 - 2*w.cfg.Timing.ClockDriftMax))
		ahead := time.Second + time.Duration(w.cfg.Timing.ClockDriftMax*float64(w.now))
		lag := time.Duration(t.MinLagMs)*time.Millisecond - ahead
		h.Compacted[tp.String()] = CompactedPartition{Keys: t.Keys, TombstoneStaysAtLeast: stays, UncleanedAtLeast: max(lag, 0)}
	}
}

// compactedHWs returns the final high watermarks of the compacted partitions.
func (w *World) compactedHWs() map[TopicPartition]int64 {
	out := map[TopicPartition]int64{}
	for tp, hw := range w.data.finalHW { // order-independent: fills a map
		if t, _ := w.cfg.Data.topic(tp.Topic); t.Compact {
			out[tp] = hw
		}
	}
	return out
}
