package partition

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

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

// copyCount counts, at each point where the node would copy record bytes, the bytes
// that pass there.
type copyCount struct {
	produced int64 // produce batches read from clients' sockets (the ring below)
	read     int64 // disk reads serving followers (pread)
	wire     int64 // encoded replication messages (into a frame, then the socket)
	appended int64 // disk appends (write)
	// inCore is appended bytes that alias neither the produced batch nor the message
	// that carried them: copies the state machines made themselves.
	inCore int64
}

// within reports whether p lies inside region.
func within(p, region []byte) bool {
	if len(p) == 0 || len(region) == 0 {
		return len(p) == 0
	}
	start, end := uintptr(unsafe.Pointer(unsafe.SliceData(region))), uintptr(unsafe.Pointer(unsafe.SliceData(region)))+uintptr(len(region))
	ps := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return ps >= start && ps+uintptr(len(p)) <= end
}

// BenchmarkReplicate measures one 16 KiB batch of 1 KiB records produced with acks=all
// and replicated to two followers (three replicas, min.insync.replicas 2), through the
// replicas' state machines only: the disk completes every Op at once and messages go
// through the codec to their destination. MB/s is of record values produced per core.
//
// Per batch byte produced it reports the bytes passing each point where a node copies them
// (see copyCount): produce-B/B, read-B/B, wire-B/B, append-B/B, their sum copied-B/B,
// and incore-B/B, what the state machines copied themselves (0: followers append the
// fetched bytes where they arrived, after the CRC and header checks), and peer-msgs/op,
// the messages between the replicas per batch. Sub-benchmarks
// vary the producer's codec, which the leader validates record by record.
func BenchmarkReplicate(b *testing.B) {
	for _, codec := range []record.Codec{record.CodecNone, record.CodecLZ4, record.CodecZstd} {
		b.Run(codec.String(), func(b *testing.B) { benchReplicate(b, codec) })
	}
}

func benchReplicate(b *testing.B, codec record.Codec) {
	const recordBytes, records = 1024, 16
	// Letters from a 16-letter alphabet: compressible about twofold, as records often are.
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([][]byte, records)
	for i := range vals {
		vals[i] = make([]byte, recordBytes-16)
		for j := range vals[i] {
			vals[i][j] = byte('a' + rng.IntN(16))
		}
	}
	tmpl, err := record.BuildValues(record.Spec{FirstTimestamp: 1, Codec: codec}.NoProducer(), vals...)
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
	var count copyCount
	// ops runs n's disk ops; arrived holds the bytes the node just received, which
	// appended batches may alias.
	ops := func(n *benchNode, arrived []byte) bool {
		moved := false
		for _, op := range n.q.Drain() {
			if op.Kind == disk.Append {
				count.appended += int64(len(op.Data))
				if !within(op.Data, arrived) {
					count.inCore += int64(len(op.Data))
				}
			}
			d := n.log.exec(op)
			if op.Kind == disk.Read {
				count.read += int64(len(d.Data))
			}
			n.r.Done(now, d)
			moved = true
		}
		return moved
	}
	var w enc.Writer
	var msgs int64 // peer messages sent
	var pending []Envelope
	var from []int32
	drain := func() {
		for moved := true; moved; {
			moved = false
			for _, n := range nodes {
				moved = ops(n, nil) || moved
				rd := n.r.Ready()
				for _, e := range rd.Messages {
					pending = append(pending, e)
					from = append(from, n.id)
				}
			}
			msgs += int64(len(pending))
			for i, e := range pending {
				w.B = w.B[:0]
				EncodeMessage(&w, e.Msg)
				if f, ok := e.Msg.(*FetchAnswer); ok {
					count.wire += int64(len(f.Records))
				}
				r := enc.Reader{B: w.B}
				m, err := DecodeMessage(&r)
				if err != nil {
					panic(err)
				}
				to := nodes[e.To-1]
				to.r.Step(now, from[i], m)
				ops(to, w.B) // before w.B is reused
				moved = true
			}
			pending, from = pending[:0], from[:0]
		}
	}
	for _, n := range nodes {
		n.r.Update(now, st)
	}
	drain()
	count, msgs = copyCount{}, 0
	acked := 0
	reply := func(res ProduceResult) {
		if res.Err != CodeNone {
			panic(fmt.Sprintf("produce: %+v", res))
		}
		acked++
	}
	b.SetBytes(int64(records * (recordBytes - 16)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		buf := ring[i%len(ring)]
		copy(buf, tmpl)
		count.produced += int64(len(buf))
		nodes[0].r.Produce(now, buf, -1, time.Second, reply)
		ops(nodes[0], buf)
		drain()
		if acked != i+1 {
			b.Fatalf("batch %d not acknowledged", i)
		}
	}
	b.StopTimer()
	per := func(n int64) float64 { return float64(n) / float64(count.produced) }
	b.ReportMetric(per(count.produced), "produce-B/B")
	b.ReportMetric(per(count.read), "read-B/B")
	b.ReportMetric(per(count.wire), "wire-B/B")
	b.ReportMetric(per(count.appended), "append-B/B")
	b.ReportMetric(per(count.produced+count.read+count.wire+count.appended), "copied-B/B")
	b.ReportMetric(per(count.inCore), "incore-B/B")
	b.ReportMetric(float64(msgs)/float64(b.N), "peer-msgs/op")
	if count.appended != 3*count.produced {
		b.Fatalf("%d bytes appended for %d produced on three replicas", count.appended, count.produced)
	}
}
