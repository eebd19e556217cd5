package core

// internalLog is a coordinator's offsets partition (group.Log), through the local
// replica, which must be the partition's leader.
type internalLog struct {
	n      *Node
	part   int32
	closed bool
}

func (l *internalLog) replica() *hosted {
	if l.closed {
		return nil
	}
	return l.n.replica(OffsetsTopic, l.part)
}

// Append writes the records as one batch with acks=all.
func (l *internalLog) Append(now int64, recs []group.KV, done func(int64, error)) {
	r := l.replica()
	if r == nil {
		done(-1, group.ErrNotLeader)
		return
	}
	krs := make([]kmsg.Record, len(recs))
	for i, kv := range recs {
		krs[i] = kmsg.Record{Key: kv.Key, Value: kv.Value}
	}
	batch, err := record.Build(record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: now / 1e6}.NoProducer(), krs)
	if err != nil {
		done(-1, fmt.Errorf("%w: %v", group.ErrTooLarge, err))
		return
	}
	acks := int16(-1)
	if l.n.cfg.Plants.On(plant.GroupRecordsAcksOne) {
		acks = 1 // planted bug: answered once durable here, before the ISR has it
	}
	l.n.withReplica(r, func() {
		r.r.Produce(now, batch, acks, offsetsAppendTimeout, func(res partition.ProduceResult) {
			switch res.Err {
			case 0:
				done(res.BaseOffset, nil)
			case kerr.NotLeaderForPartition.Code, kerr.FencedLeaderEpoch.Code:
				done(-1, group.ErrNotLeader)
			case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code:
				done(-1, group.ErrTooLarge)
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
					done(errors.New("offsets log: a read made no progress"))
					return
				}
				batch(res.Records)
				l.loadFrom(next, batch, done)
			}
		})
	})
}
