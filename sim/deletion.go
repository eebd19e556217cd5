package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Deleted records. Retention (a topic's retention.ms and retention.bytes, applied by
// partition leaders) and DeleteRecords (issued by readers) move a partition's log
// start: records below it are gone, and reads of them answer OFFSET_OUT_OF_RANGE. Only
// the data topics of a seed that may delete records (DataConfig.mayDelete) expect it;
// on the others, an earliest offset above 0 or a committed position out of range
// fails the run as before.
//
// Clients follow a moving log start as real ones do: a group member whose position
// fell below it starts again from the log start (auto.offset.reset=earliest), and the
// records it skipped count as processed: they were deleted before the group reached
// them. A reader looks the log start up. The final read of a partition starts at its
// log start, and moves with it if retention deletes more while it reads: it then holds
// the partition from its final log start (dataWorkload.finalStart) to its high
// watermark.
//
// The checkers then check what remains: the final read dense from its log start; an
// acknowledged record missing from it only when its offset lies below that start; a
// batch cut only where the start cuts it; earliest offsets within the final high
// watermark; and, on a topic only DeleteRecords deletes from, a log start no higher
// than a DeleteRecords asked for. The partition model starts from an unknown committed
// length below the final log start (partmodel.go).

// resetToStart looks up tp's log start after a fetch at from answered
// OFFSET_OUT_OF_RANGE, and moves the member there, counting the records skipped as
// processed; then it polls again.
func (m *member) resetToStart(round uint64, tp TopicPartition, from int64) {
	c := m.c
	w := c.w
	c.listOnce(tp, -2, func(op *Op) {
		if w.failure != nil || w.phase == phaseEnd || !m.active(round) {
			return
		}
		if op.Outcome == OK && op.Offset > from && m.pos[tp] == from {
			w.cov.Inc("group:offset-reset")
			m.g.process(tp, span{from, op.Offset})
			m.pos[tp] = op.Offset
		}
		c.later(dataBackoff, func() { m.poll(round) })
	})
}

// deletes reports whether the reader's next operation on tp is a DeleteRecords.
func (r *reader) deletes(tp TopicPartition) bool {
	d := &r.c.w.cfg.Data
	return d.DeletePPM > 0 && r.c.rng.Int64N(1_000_000) < d.DeletePPM
}

// toStart moves the reader's position in tp to the log start, then calls done.
func (r *reader) toStart(tp TopicPartition, done func()) {
	r.c.listOnce(tp, -2, func(op *Op) {
		if op.Outcome == OK && r.pos[tp] < op.Offset {
			r.pos[tp] = op.Offset
		}
		done()
	})
}

// deleteRecordsNoEffect are DeleteRecords answers that say nothing was deleted.
// NOT_LEADER_OR_FOLLOWER is not one: a leader that moved its log start and lost its
// leadership before the ISR followed answers it.
var deleteRecordsNoEffect = []int16{errOffsetOutOfRange, errUnknownTopicOrPartition,
	errLeaderNotAvailable, errPolicyViolation, errUnknownTopicID}

// deleteOnce performs one DeleteRecords of tp below offset (-1: the high watermark)
// through the leader the client knows, and calls done with the finished operation.
func (c *Client) deleteOnce(tp TopicPartition, offset int64, done func(*Op)) {
	w := c.w
	leader, _, ok := c.leaderOf(tp)
	if !ok {
		c.refreshTopics(func() {
			if _, _, ok := c.leaderOf(tp); !ok {
				c.later(dataBackoff, func() { done(&Op{Kind: OpDeleteRecords, Outcome: Failed, Code: -1}) })
				return
			}
			c.deleteOnce(tp, offset, done)
		})
		return
	}
	op := &Op{Kind: OpDeleteRecords, Topic: tp.Topic, Partition: tp.Partition, Offset: offset, HW: -1, LeaderEpoch: -1, Producer: -1}
	w.invoke(c, op)
	op.Node = leader
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	t := kmsg.NewDeleteRecordsRequestTopic()
	t.Topic = tp.Topic
	p := kmsg.NewDeleteRecordsRequestTopicPartition()
	p.Partition, p.Offset = tp.Partition, offset
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	c.send(leader, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		c.deleteAnswer(op, tp, resp, err)
		done(op)
	})
}

func (c *Client) deleteAnswer(op *Op, tp TopicPartition, resp kmsg.Response, err error) {
	w := c.w
	switch {
	case errors.Is(err, errNotSent):
		op.Code = -1
		w.complete(op, Failed)
		return
	case err != nil:
		c.forgetLeader(tp)
		w.complete(op, Indeterminate)
		return
	}
	r := resp.(*kmsg.DeleteRecordsResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		op.Code = errInvalidRequest
		w.complete(op, Indeterminate)
		return
	}
	part := &r.Topics[0].Partitions[0]
	op.Code = part.ErrorCode
	switch {
	case part.ErrorCode == errNone:
		op.HW = part.LowWatermark
		w.checks.data.deleteAcknowledged(tp, part.LowWatermark)
		w.cov.Inc("workload:delete-records")
		w.complete(op, OK)
	case part.ErrorCode == errPolicyViolation:
		w.cov.Inc("workload:delete-records-refused-compacted")
		w.complete(op, Failed)
	case slices.Contains(deleteRecordsNoEffect, part.ErrorCode):
		if slices.Contains(staleLeaderCodes, part.ErrorCode) {
			c.forgetLeader(tp)
		}
		w.complete(op, Failed)
	default:
		if slices.Contains(staleLeaderCodes, part.ErrorCode) {
			c.forgetLeader(tp)
		}
		w.complete(op, Indeterminate)
	}
}

// finalToStart moves the final read of tp, which found pos below the log start, to
// the log start: what it read below is dropped, and the read goes on from there.
func (d *dataWorkload) finalToStart(tp TopicPartition, pos, target int64, done func()) {
	c := d.final
	w := d.w
	c.listOnce(tp, -2, func(op *Op) {
		if w.failure != nil {
			return
		}
		if op.Outcome == OK && op.Offset > pos {
			w.cov.Inc("liveness:final-read-from-log-start")
			d.finalReads[tp] = nil
			d.finalStart[tp] = op.Offset
			d.finalRead(tp, op.Offset, target, done)
			return
		}
		c.later(dataBackoff, func() { c.refreshTopics(func() { d.finalRead(tp, pos, target, done) }) })
	})
}

// deleted checks, on partitions only DeleteRecords deletes from, that the final read
// does not start above every offset a DeleteRecords that may have taken effect asked
// for (one asking for the high watermark, -1, allows anything).
func (c *logChecker) deleted() {
	allowed := map[string]int64{}
	for _, d := range c.h.Deletes {
		off := d.Offset
		if off < 0 {
			off = math.MaxInt64
		}
		allowed[d.Partition] = max(allowed[d.Partition], off)
	}
	for _, p := range sortedKeys(c.h.Start) {
		start := c.h.Start[p]
		if start > 0 && c.h.DeleteOnly[p] && start > allowed[p] {
			c.report("deleted", p, "the log starts at %d, above every offset DeleteRecords asked for (at most %d) and no retention applies", start, allowed[p])
		}
	}
}

// deletionHistory adds to h what the log checker needs to know of deleted records:
// where each final read starts and which partitions may delete.
func (w *World) deletionHistory(h *LogHistory) {
	d := w.data
	dc := &w.cfg.Data
	if !dc.deletes() {
		return
	}
	h.Start, h.MayDelete, h.DeleteOnly = map[string]int64{}, map[string]bool{}, map[string]bool{}
	for _, tp := range d.finalPartitions() {
		p := tp.String()
		if s := d.finalStart[tp]; s > 0 {
			h.Start[p] = s
			w.cov.Inc("check:final-read-above-0")
		}
		t, _ := dc.topic(tp.Topic)
		if dc.mayDelete(tp.Topic) {
			h.MayDelete[p] = true
			h.DeleteOnly[p] = t.RetentionMs <= 0 && t.RetentionBytes <= 0
		}
		if dc.mayDelete(tp.Topic) && t.RetentionMs > 0 && t.RetentionBytes <= 0 && dc.DeletePPM == 0 {
			// A node's clock may be ahead by its skew and what drift and jumps add.
			ahead := time.Second + time.Duration(w.cfg.Timing.ClockDriftMax*float64(w.now))
			if h.RetainedAtLeast == nil {
				h.RetainedAtLeast = map[string]time.Duration{}
			}
			h.RetainedAtLeast[p] = time.Duration(t.RetentionMs)*time.Millisecond - ahead
		}
	}
	for tp := range d.unread { // order-independent: fills another map
		if dc.mayDelete(tp.Topic) {
			h.MayDelete[tp.String()] = true
		}
	}
}

// agreeAbove is checkPair's agreement of two replicas' logs for logs that start above
// 0: below a log start there is nothing to agree on (a follower that restarted its log
// at its leader's log start keeps no epochs below it), so the epochs compared are
// those of the offsets both logs hold below the smaller high watermark.
func agreeAbove(a int32, r *ReplicaView, b int32, o *ReplicaView, hw int64) error {
	from := max(r.Start, o.Start)
	// It runs after every step: the lists are built on the stack, unless they are long.
	var bufA, bufB [8]disk.EpochEntry
	if slices.Equal(appendEpochsBetween(bufA[:0], r.Epochs, from, hw), appendEpochsBetween(bufB[:0], o.Epochs, from, hw)) {
		return nil
	}
	ea, eb := appendEpochsBetween(nil, r.Epochs, from, hw), appendEpochsBetween(nil, o.Epochs, from, hw)
	return fmt.Errorf("logs disagree in [%d, %d), above both log starts and below the smaller HW: node %d has epochs %v, node %d has %v", from, hw, a, ea, b, eb)
}

// appendEpochsBetween appends to out the epochs of the offsets in [from, to), each
// starting at from at the earliest; epochs of no offset in the range are left out.
func appendEpochsBetween(out, epochs []disk.EpochEntry, from, to int64) []disk.EpochEntry {
	for i, e := range epochs {
		if e.StartOffset >= to {
			break
		}
		next := to
		if i+1 < len(epochs) {
			next = min(epochs[i+1].StartOffset, to)
		}
		if next <= from || next <= e.StartOffset {
			continue
		}
		out = append(out, disk.EpochEntry{Epoch: e.Epoch, StartOffset: max(e.StartOffset, from)})
	}
	return out
}
