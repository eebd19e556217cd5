package sim

import (
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Committed offsets by hand, for tests that drive a world step by step (control.go):
// commit and read a group's offsets from outside any generation, as operators' tools
// do, and set a topic's configuration, as operators do with IncrementalAlterConfigs (the
// offsets topic's segments and cleaner, say). The scenario client sends them. Commits
// and reads are operations of the history, so in a world with a data workload the
// committed-offsets checks (groupmodel.go, offsetlife.go) judge them with the rest when
// the run finishes.

// CommitOffset commits offset for tp in group outside any generation, trying again
// with a new operation after each failure until one is acknowledged or limit passed. It
// returns the last operation (nil if none could start). A group with members refuses
// such commits.
func (w *World) CommitOffset(group string, tp TopicPartition, offset int64, limit time.Duration) (*Op, *Failure) {
	return w.atCoordinator(group, limit, func(a *offsetAdmin, node int32, done func()) *Op {
		return a.commit(node, group, tp, offset, done)
	})
}

// FetchOffsets reads group's committed offsets of tps (-1 for a partition without
// one), trying again after each failure until a read succeeds or limit passed. It
// returns the last read (nil if none could start).
func (w *World) FetchOffsets(group string, tps []TopicPartition, limit time.Duration) (*Op, *Failure) {
	return w.atCoordinator(group, limit, func(a *offsetAdmin, node int32, done func()) *Op {
		return a.fetchOf(node, group, tps, done)
	})
}

// atCoordinator sends an operation to group's coordinator, found anew for every try,
// until retryOp is content or limit passed.
func (w *World) atCoordinator(group string, limit time.Duration, send func(a *offsetAdmin, node int32, done func()) *Op) (*Op, *Failure) {
	a := w.handAdmin()
	return w.retryOp(limit, func(done func(*Op)) {
		a.locate(group, func(node int32) {
			if node < 0 {
				done(nil)
				return
			}
			var op *Op
			op = send(a, node, func() { done(op) })
		})
	})
}

// AlterTopicConfigs sets configs of topic (IncrementalAlterConfigs SET), trying again
// after each failure until the controller accepts them or limit passed.
func (w *World) AlterTopicConfigs(topic string, configs map[string]string, limit time.Duration) (bool, *Failure) {
	c := w.scenario()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		res.Configs = append(res.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: k, Value: kmsg.StringPtr(configs[k])})
	}
	req.Resources = append(req.Resources, res)
	end := w.now + int64(limit)
	for {
		done, accepted := false, false
		c.refreshMetadata(func() {
			c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
				r, _ := resp.(*kmsg.IncrementalAlterConfigsResponse)
				accepted = err == nil && len(r.Resources) == 1 && r.Resources[0].ErrorCode == errNone
				done = true
			})
		})
		if ok, f := w.RunUntil(func() bool { return done }, time.Duration(end-w.now)); f != nil || !ok {
			return false, f
		}
		if accepted || w.now >= end {
			return accepted, nil
		}
		if _, f := w.RunUntil(func() bool { return false }, opBackoff); f != nil {
			return false, f
		}
	}
}

// handAdmin is an offsets administrator on the scenario client that acts only when
// asked; it finds each group's coordinator afresh.
func (w *World) handAdmin() *offsetAdmin {
	return &offsetAdmin{c: w.scenario(), coord: map[string]int32{}}
}

// retryOp runs attempt, which reports the operation it ran (nil when none could start),
// again after each one that did not succeed, until one did or limit passed; it returns
// the last operation.
func (w *World) retryOp(limit time.Duration, attempt func(done func(*Op))) (*Op, *Failure) {
	end := w.now + int64(limit)
	var last *Op
	for {
		finished := false
		attempt(func(op *Op) {
			if op != nil {
				last = op
			}
			finished = true
		})
		if ok, f := w.RunUntil(func() bool { return finished }, time.Duration(end-w.now)); f != nil || !ok {
			return last, f
		}
		if last != nil && last.Outcome == OK || w.now >= end {
			return last, nil
		}
		if _, f := w.RunUntil(func() bool { return false }, opBackoff); f != nil {
			return last, f
		}
	}
}

// OffsetOf is the committed offset an OffsetFetch operation read for tp, and whether
// it read one.
func (op *Op) OffsetOf(tp TopicPartition) (int64, bool) {
	if op == nil || op.Kind != OpOffsetFetch || op.Outcome != OK {
		return 0, false
	}
	for _, po := range op.Offsets {
		if po.TopicPartition == tp {
			return po.Offset, true
		}
	}
	return 0, false
}
