package core

import (
	"fmt"
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// internalLog is a coordinator's partition of an internal topic (group.Log, txn.Log),
// through the local replica, which must be the partition's leader.
type internalLog struct {
	n      *Node
	topic  string
	part   int32
	closed bool
}

func (l *internalLog) replica() *hosted {
	if l.closed {
		return nil
	}
	return l.n.replica(l.topic, l.part)
}

// Append writes the records as one batch with acks=all.
func (l *internalLog) Append(now int64, recs []group.KV, done func(int64, error)) {
	l.write(now, record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: now / 1e6}.NoProducer(), nil, recs, done)
}

// AppendTxn writes the records as one batch of producer pid's transaction (base
// sequence -1: the coordinator writes it, not the producer) with acks=all, under the
// verification guard (a *commitGuard of VerifyTxnCommit, or nil).
func (l *internalLog) AppendTxn(now int64, pid int64, epoch int16, guard any, recs []group.KV, done func(int64, error)) {
	spec := record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: now / 1e6,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1, Transactional: true}
	cg, _ := guard.(*commitGuard)
	l.write(now, spec, cg, recs, done)
}

// write builds one batch of recs by spec and appends it through the leader replica,
// without the sequence checks of a client's produce: the coordinator wrote it.
func (l *internalLog) write(now int64, spec record.Spec, cg *commitGuard, recs []group.KV, done func(int64, error)) {
	r := l.replica()
	if r == nil {
		done(-1, group.ErrNotLeader)
		return
	}
	krs := make([]kmsg.Record, len(recs))
	for i, kv := range recs {
		krs[i] = kmsg.Record{Key: kv.Key, Value: kv.Value}
	}
	batch, err := record.Build(spec, krs)
	if err != nil {
		done(-1, fmt.Errorf("%w: %v", group.ErrTooLarge, err))
		return
	}
	acks := int16(-1)
	if l.n.cfg.Plants.On(plant.GroupRecordsAcksOne) {
		acks = 1 // planted bug: answered once durable here, before the ISR has it
	}
	produce := r.r.Produce
	switch {
	case cg != nil && cg.hr == r:
		produce = func(now int64, batch []byte, acks int16, timeout time.Duration, reply func(partition.ProduceResult)) {
			r.r.ProduceInternalVerified(now, batch, cg.g, acks, timeout, reply)
		}
	case spec.ProducerID >= 0:
		produce = r.r.ProduceInternal
	}
	l.n.withReplica(r, func() {
		produce(now, batch, acks, offsetsAppendTimeout, func(res partition.ProduceResult) {
			switch res.Err {
			case 0:
				done(res.BaseOffset, nil)
			case kerr.NotLeaderForPartition.Code, kerr.FencedLeaderEpoch.Code:
				done(-1, group.ErrNotLeader)
			case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code:
				done(-1, group.ErrTooLarge)
			case kerr.InvalidProducerEpoch.Code, kerr.ProducerFenced.Code:
				done(-1, group.ErrInvalidProducerEpoch)
			case kerr.InvalidTxnState.Code:
				done(-1, group.ErrInvalidTxnState)
			default:
				done(-1, kerr.ErrorForCode(res.Err))
			}
		})
	})
}

// Load reads the partition from its start to its high watermark.
func (l *internalLog) Load(now int64, batch func([]byte), done func(error)) {
	r := l.replica()
	if r == nil {
		done(group.ErrNotLeader)
		return
	}
	st := r.r.Status()
	from := st.LogStartOffset
	if l.n.cfg.Plants.On(plant.OffsetsLoadSkipsCleaned) {
		from = max(from, st.CleanedTo)
	}
	l.loadFrom(from, batch, done)
}

func (l *internalLog) loadFrom(off int64, batch func([]byte), done func(error)) {
	r := l.replica()
	if r == nil {
		done(group.ErrNotLeader)
		return
	}
	n := l.n
	req := partition.FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: off, MaxBytes: 1 << 20}
	n.withReplica(r, func() {
		r.r.Fetch(n.now, req, func(res partition.FetchResult) {
			switch {
			case res.Err == kerr.OffsetNotAvailable.Code || res.Err == kerr.NotLeaderForPartition.Code ||
				res.Err == kerr.LeaderNotAvailable.Code:
				// A new leader not ready to serve reads, still loading its producer state
				// or waiting for its lease: wait while it still leads.
				if lead, _ := r.r.Leading(); !lead || l.closed {
					done(group.ErrNotLeader)
					return
				}
				n.Wait(n.now+int64(loadRetry), func() bool { return false }, func() { l.loadFrom(off, batch, done) })
			case res.Err == kerr.OffsetOutOfRange.Code && off < res.LogStartOffset:
				l.loadFrom(res.LogStartOffset, batch, done)
			case res.Err != 0:
				done(kerr.ErrorForCode(res.Err))
			case len(res.Records) == 0:
				done(nil) // reached the high watermark
			default:
				next := off
				record.Split(res.Records, func(h record.Header, _ []byte) error {
					next = h.NextOffset()
					return nil
				})
				if next <= off {
					done(fmt.Errorf("%s log: a read made no progress", l.topic))
					return
				}
				batch(res.Records)
				l.loadFrom(next, batch, done)
			}
		})
	})
}
