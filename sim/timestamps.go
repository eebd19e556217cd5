package sim

import (
	"github.com/cespare/xxhash/v2"
	"math/rand/v2"

	"github.com/seedlog/seedlog/core/record"
)

// Record timestamps. A data topic whose message.timestamp.type is LogAppendTime has its
// leader stamp its own time into every batch it appends (the batch's max timestamp,
// with the LogAppendTime attribute), and answer the produce with that time; a
// CreateTime topic keeps the producer's timestamps and answers -1. The checks: every
// acknowledged produce answers as its topic's type says, every batch a fetch returns
// carries its topic's type, and a stamped batch holds the time its produce was answered
// with (a retried duplicate is answered -1: there is nothing to compare then).

// logAppendTimePercent is the share of data topics drawn with LogAppendTime.
const logAppendTimePercent = 25

// drawTimestampTypes draws each data topic's message.timestamp.type.
func drawTimestampTypes(rng *rand.Rand, c *Config) {
	for i := range c.Data.Topics {
		c.Data.Topics[i].LogAppendTime = rng.IntN(100) < logAppendTimePercent
	}
}

// appendTimeAnswered checks the LogAppendTime of an acknowledged produce of values to
// topic, and keeps a stamped time for the fetches of the batch.
func (w *World) appendTimeAnswered(topic string, values []string, appendTime int64) {
	t, _ := w.cfg.Data.topic(topic)
	switch {
	case !t.LogAppendTime && appendTime != -1:
		w.fail("timestamps", -1, "a produce to %s (CreateTime) was answered with LogAppendTime %d", topic, appendTime)
	case t.LogAppendTime && appendTime != -1 && len(values) > 0:
		w.cov.Inc("produce:log-append-time")
		w.data.appendTimes[values[0]] = appendTime
	}
}

// checkTimestamps checks the batches a fetch of topic returned against its timestamp
// type and the times their produces were answered with.
func (w *World) checkTimestamps(tp TopicPartition, batches []byte) {
	t, _ := w.cfg.Data.topic(tp.Topic)
	_, _ = record.Split(batches, func(h record.Header, batch []byte) error {
		if h.IsControl() || w.failure != nil {
			return nil
		}
		stamped := h.Attributes&record.AttrLogAppendTime != 0
		if stamped != t.LogAppendTime {
			w.fail("timestamps", -1, "%s: the batch at offset %d has LogAppendTime %v, but the topic's message.timestamp.type says %v",
				tp, h.BaseOffset, stamped, t.LogAppendTime)
			return nil
		}
		if !stamped {
			return nil
		}
		it, err := w.coder.NewIter(batch, record.BatchSizeMaxDef*4)
		if err != nil || !it.Next() {
			return nil // the decode that follows reports bad bytes
		}
		if want, ok := w.data.appendTimes[recordName(it.Record())]; ok && want != h.MaxTimestamp {
			w.fail("timestamps", -1, "%s: the batch at offset %d holds LogAppendTime %d, but its produce was answered %d",
				tp, h.BaseOffset, h.MaxTimestamp, want)
		} else if ok {
			w.cov.Inc("fetch:log-append-time-checked")
		}
		return nil
	})
}

// Timestamp bounds: some CreateTime data topics set message.timestamp.before.max.ms and
// after.max.ms, wide enough that no batch a producer stamps with its own time and
// retries until its delivery timeout falls outside, even against a skewed leader
// clock. One batch in twenty of their plain producers is stamped an hour early instead:
// the leader must refuse it with INVALID_TIMESTAMP, and must refuse nothing else (the
// timestamps check). Idempotent producers, which would retry a refused batch, stamp
// their own time.

// streamTimestampBounds is the stream of the bound draws.
const streamTimestampBounds = "timestamp-bounds"

// drawTimestampBounds bounds the timestamps of a quarter of the CreateTime topics.
func drawTimestampBounds(seed uint64, c *Config) {
	rng := Stream(seed, streamTimestampBounds, 0)
	for i := range c.Data.Topics {
		t := &c.Data.Topics[i]
		if !t.LogAppendTime && rng.IntN(4) == 0 {
			t.TimestampBoundMs = c.Data.DeliveryTimeout.Milliseconds() + 3000 + int64(rng.IntN(10_000))
		}
	}
}

// stampOff reports whether a plain producer's batch whose first record is named v
// carries a timestamp its topic must refuse.
func (w *World) stampOff(topic, v string) bool {
	t, _ := w.cfg.Data.topic(topic)
	return t.TimestampBoundMs > 0 && xxhash.Sum64String(v)%20 == 0
}

// checkTimestampBounds checks a plain producer's answer against its batch's timestamp.
func (w *World) checkTimestampBounds(tp TopicPartition, b *prodBatch, code int16) {
	switch {
	case b.stampedOff && code == errNone:
		w.fail("timestamps", -1, "%s: a batch stamped an hour early was appended, past the topic's message.timestamp.before.max.ms", tp)
	case b.stampedOff && code == errInvalidTimestamp:
		w.cov.Inc("produce:timestamp-refused")
	case code == errInvalidTimestamp:
		w.fail("timestamps", -1, "%s: a batch stamped with its producer's time was refused with INVALID_TIMESTAMP", tp)
	}
}
