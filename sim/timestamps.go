package sim

import (
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
