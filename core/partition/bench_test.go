package partition

import (
	"fmt"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/record"
)

// nullLog is the cheapest disk that honours the Op contract for the benchmark: it keeps
// references to the appended batches (no copy, no checks) and completes every Op at once.
type nullLog struct {
	batches [][]byte
	bases   []int64
	end     int64
}

func (l *nullLog) exec(op disk.Op) disk.Done {
	d := disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log}
	switch op.Kind {
	case disk.Append:
		for b := op.Data; len(b) > 0; {
			h, err := record.ParseHeader(b)
			if err != nil {
				panic(err)
			}
			l.batches = append(l.batches, b[:h.Size()])
			l.bases = append(l.bases, h.BaseOffset)
			l.end = h.NextOffset()
			b = b[h.Size():]
		}
	case disk.Read:
		// The benchmark reads one batch at a time: the one starting at the offset.
		i := len(l.bases) - 1
		for i > 0 && l.bases[i] > op.Offset {
			i--
		}
		if i >= 0 && l.bases[i] == op.Offset {
			d.Data = l.batches[i]
		}
	}
	return d
}

type benchNode struct {
	id  int32
	q   *disk.Queue
	r   *Replica
	log nullLog
}

// BenchmarkReplicate measures one 16 KiB batch of 1 KiB records produced with acks=all
// and replicated to two followers (three replicas, min.insync.replicas 2), through the
// replicas' state machines only: the disk completes every Op at once and messages go
// through the codec to their destination. MB/s is of produced data per core.
func BenchmarkReplicate(b *testing.B) {
	const recordBytes, records = 1024, 16
	vals := make([][]byte, records)
	for i := range vals {
		vals[i] = make([]byte, recordBytes-16)
	}
	tmpl, err := record.BuildValues(record.Spec{FirstTimestamp: 1}.NoProducer(), vals...)
	if err != nil {
		b.Fatal(err)
	}
	// A ring of batch buffers: the null disk keeps references, so a buffer is reused only
	// long after its batch was last read.
	ring := make([][]byte, 256)
	for i := range ring {
		ring[i] = make([]byte, len(tmpl))
	}
	st := State{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, MinISR: 2}
	var nodes []*benchNode
	now := int64(time.Hour)
	for id := int32(1); id <= 3; id++ {
		n := &benchNode{id: id, q: &disk.Queue{}}
		cfg := testConfig()
		cfg.NodeID, cfg.Queue = id, n.q
		cfg.ReplicaLagMax = time.Hour
		n.r = New(cfg, disk.LogState{ID: disk.PartitionLog("t", 0)}, nil, now)
		nodes = append(nodes, n)
	}
	var w enc.Writer
	var pending []Envelope
	var from []int32
	drain := func() {
		for moved := true; moved; {
			moved = false
			for _, n := range nodes {
				for _, op := range n.q.Drain() {
					n.r.Done(now, n.log.exec(op))
					moved = true
				}
				rd := n.r.Ready()
				for _, e := range rd.Messages {
					pending = append(pending, e)
					from = append(from, n.id)
				}
			}
			for i, e := range pending {
				w.B = w.B[:0]
				EncodeMessage(&w, e.Msg)
				r := enc.Reader{B: w.B}
				m, err := DecodeMessage(&r)
				if err != nil {
					panic(err)
				}
				nodes[e.To-1].r.Step(now, from[i], m)
				moved = true
			}
			pending, from = pending[:0], from[:0]
		}
	}
	for _, n := range nodes {
		n.r.Update(now, st)
	}
	drain()
	acked := 0
	reply := func(res ProduceResult) {
		if res.Err != CodeNone {
			panic(fmt.Sprintf("produce: %+v", res))
		}
		acked++
	}
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		buf := ring[i%len(ring)]
		copy(buf, tmpl)
		nodes[0].r.Produce(now, buf, -1, time.Second, reply)
		drain()
		if acked != i+1 {
			b.Fatalf("batch %d not acknowledged", i)
		}
	}
}
