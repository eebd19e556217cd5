package core

import (
	"errors"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeLogDirs answers a DescribeLogDirs: the replicas asked for are measured on the
// disk (disk.Size, in order with the disk work already emitted) and the answer goes out
// once every measure is back. A replica whose log went meanwhile (its topic was
// deleted) is left out, as one the broker no longer hosts.
func (n *Node) describeLogDirs(m *kmsg.DescribeLogDirsRequest, reply func(kmsg.Response)) {
	ctx := n.ctx
	serve := func(v kafka.View) {
		if code := kafka.LogDirsDenied(v); code != 0 {
			reply(kafka.DescribeLogDirs(m, code, "", nil))
			return
		}
		wanted := kafka.LogDirsWanted(m)
		var measured []kafka.LogDirReplica
		pending := 1 // one of its own, given back once every measure is emitted
		answered := func() {
			if pending--; pending == 0 {
				reply(kafka.DescribeLogDirs(m, 0, n.cfg.LogDir, measured))
			}
		}
		for _, hr := range n.replicas.sorted {
			if !wanted(hr.topic, hr.part) {
				continue
			}
			b := hr.r.Brief()
			r := kafka.LogDirReplica{Topic: hr.topic, Partition: hr.part, HighWatermark: b.HighWatermark, LogEndOffset: b.LogEndOffset}
			pending++
			n.emitOwned(disk.Op{Kind: disk.Size, Log: hr.id}, func(d disk.Done) {
				if d.Err == nil {
					r.SizeBytes = d.Bytes
					measured = append(measured, r)
				}
				answered()
			})
		}
		answered()
	}
	if !n.cfg.Authorizer {
		serve(n.view())
		return
	}
	// Authorized on an image a read barrier made current, as DescribeConfigs.
	n.rpc.readBarrier(n, func(ok bool) { serve(n.viewFor(ctx, ok)) })
}

// emitOwned emits a node-level disk op whose completion, failed or not, goes to done.
func (n *Node) emitOwned(op disk.Op, done func(disk.Done)) {
	prev := n.queue.SetOwner(done)
	n.queue.Emit(op)
	n.queue.SetOwner(prev)
}

// describeQuorum answers a DescribeQuorum: the broker authorizes it (on an image a read
// barrier made current when it authorizes at all) and forwards it to the active
// controller, whose raft leader alone knows the other members' progress.
func (n *Node) describeQuorum(m *kmsg.DescribeQuorumRequest, reply func(kmsg.Response)) {
	ctx := n.ctx
	serve := func(v kafka.View) {
		if denied := kafka.QuorumDenied(v, m); denied != nil {
			reply(denied)
			return
		}
		n.rpc.callController(n, m, func(resp kmsg.Response, err error) {
			switch {
			case errors.Is(err, errCallsFull), errors.Is(err, errCallOrphaned):
				reply(kafka.QuorumError(m, kerr.NotLeaderForPartition.Code))
			case err != nil:
				reply(kafka.QuorumError(m, kerr.RequestTimedOut.Code))
			default:
				reply(resp)
			}
		})
	}
	if !n.cfg.Authorizer {
		serve(n.view())
		return
	}
	n.rpc.readBarrier(n, func(ok bool) { serve(n.viewFor(ctx, ok)) })
}
