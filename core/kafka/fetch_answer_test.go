package kafka

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomAnswer builds a Fetch answer at version v with every field kmsg encodes at some
// version set to something, and the plain response it stands for: the same, each
// partition's records inline. Records are random bytes (zeros, the byte the splice marks
// with, and sizes around the length encodings' steps included), as spans of one to
// four pieces, some of them file spans whose bytes fileBytes holds.
func randomAnswer(rng *rand.Rand, v int16) (a *FetchAnswer, plain *kmsg.FetchResponse, fileBytes map[disk.FileID][]byte) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(v)
	resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = rng.Int32N(100), int16(rng.IntN(3)), rng.Int32()
	if rng.IntN(3) == 0 {
		host := "broker-1"
		resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: host, Port: 9092}}
	}
	if rng.IntN(4) == 0 {
		resp.UnknownTags.Set(9, []byte{1, 2, 3})
	}
	a = &FetchAnswer{FetchResponse: resp}
	fileBytes = map[disk.FileID][]byte{}
	sizes := []int{0, 1, 60, 61, 126, 127, 128, 200, 16382, 16383, 16384, 70000}
	for ti := range rng.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = string(rune('a' + ti))
		t.TopicID[0] = byte(ti + 1)
		for pi := range rng.IntN(5) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition, p.ErrorCode = int32(pi), int16(rng.IntN(2))
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = rng.Int64N(1<<40), -1, rng.Int64N(100)
			p.PreferredReadReplica = rng.Int32N(3) - 1
			if rng.IntN(3) == 0 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 7, FirstOffset: 9}}
			}
			if rng.IntN(3) == 0 {
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = 3, 40
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = 2, 5
				p.SnapshotID.EndOffset, p.SnapshotID.Epoch = 11, 1
			}
			var spans []disk.Span
			for range rng.IntN(5) {
				n := sizes[rng.IntN(len(sizes))]
				if n == 0 {
					continue
				}
				b := make([]byte, n)
				for i := range b {
					b[i] = []byte{0, 1, 2, spanMark, byte(rng.IntN(256))}[rng.IntN(5)]
				}
				sp := disk.Span{Data: b, Len: int64(n)}
				if rng.IntN(2) == 0 {
					id := disk.FileID(len(fileBytes) + 1)
					pos := rng.IntN(50)
					fileBytes[id] = append(make([]byte, pos), b...)
					sp = disk.Span{File: id, Pos: int64(pos), Len: int64(n)}
				}
				spans = append(spans, sp)
			}
			p.RecordBatches = []byte{}
			t.Partitions = append(t.Partitions, p)
			a.Records = append(a.Records, spans)
		}
		resp.Topics = append(resp.Topics, t)
	}
	// The plain response: a copy whose partitions hold their records inline.
	c := *resp
	c.Topics = nil
	k := 0
	for _, t := range resp.Topics {
		t.Partitions = append([]kmsg.FetchResponseTopicPartition(nil), t.Partitions...)
		for j := range t.Partitions {
			t.Partitions[j].RecordBatches = spanBytes(a.Records[k], fileBytes)
			k++
		}
		c.Topics = append(c.Topics, t)
	}
	return a, &c, fileBytes
}

// spanBytes is what spans stand for, file spans read from files.
func spanBytes(spans []disk.Span, files map[disk.FileID][]byte) []byte {
	out := []byte{}
	for _, sp := range spans {
		if sp.File != 0 {
			out = append(out, files[sp.File][sp.Pos:sp.Pos+sp.Len]...)
			continue
		}
		out = append(out, sp.Data...)
	}
	return out
}

// writeFrame writes a frame as a shell does: its own bytes, each span at its place.
func writeFrame(frame []byte, cuts []Cut, files map[disk.FileID][]byte) []byte {
	var out []byte
	at := 0
	for _, c := range cuts {
		out = append(out, frame[at:c.At]...)
		out = append(out, spanBytes([]disk.Span{c.Span}, files)...)
		at = c.At
	}
	return append(out, frame[at:]...)
}

// checkAnswer checks that the answer framed and written as a shell writes it is the
// plain response framed by kmsg, and that the frame decodes to it.
func checkAnswer(t *testing.T, a *FetchAnswer, plain *kmsg.FetchResponse, files map[disk.FileID][]byte) {
	t.Helper()
	frame, cuts := AppendFrame([]byte("prefix"), 42, a)
	got := writeFrame(frame, cuts, files)
	want := wire.AppendResponse([]byte("prefix"), 42, plain)
	if !bytes.Equal(got, want) {
		t.Fatalf("v%d: frame of %d bytes, kmsg's %d", a.GetVersion(), len(got), len(want))
	}
	if size := binary.BigEndian.Uint32(got[6:]); int(size) != len(got)-10 {
		t.Fatalf("v%d: size prefix %d for %d bytes", a.GetVersion(), size, len(got)-10)
	}
	back := kmsg.NewPtrFetchResponse()
	back.SetVersion(a.GetVersion())
	if _, err := wire.ParseResponse(got[10:], back); err != nil {
		t.Fatalf("v%d: %v", a.GetVersion(), err)
	}
}

// Every Fetch version: a response whose records are spans, framed and written with its
// spans, is byte for byte kmsg's framing of the same response with the records inline,
// flexible versions (compact lengths, tagged fields) and the others alike; AppendTo
// writes in-memory spans the same way.
func TestFetchAnswerFramesAsKmsg(t *testing.T) {
	lo, hi, _ := Served.Range(1)
	if hi < 16 {
		t.Fatalf("Fetch served up to v%d", hi)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for v := lo; v <= kmsg.NewPtrFetchResponse().MaxVersion(); v++ {
		for range 60 {
			a, plain, files := randomAnswer(rng, v)
			checkAnswer(t, a, plain, files)
			if len(files) == 0 {
				if got, want := a.AppendTo(nil), plain.AppendTo(nil); !bytes.Equal(got, want) {
					t.Fatalf("v%d: AppendTo wrote %d bytes, kmsg %d", v, len(got), len(want))
				}
			}
		}
	}
}

// An answer without records frames exactly as kmsg frames it, with no cuts; a file span
// cannot be written from memory.
func TestFetchAnswerWithoutRecordsAndFileSpans(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	resp.Topics = []kmsg.FetchResponseTopic{{Topic: "t", Partitions: []kmsg.FetchResponseTopicPartition{{RecordBatches: []byte{}}}}}
	a := &FetchAnswer{FetchResponse: resp}
	frame, cuts := AppendFrame(nil, 1, a)
	if cuts != nil || !bytes.Equal(frame, wire.AppendResponse(nil, 1, resp)) {
		t.Fatalf("an answer without records framed differently (%d cuts)", len(cuts))
	}
	a.Records = [][]disk.Span{{{File: 3, Pos: 10, Len: 5}}}
	frame, cuts = AppendFrame(nil, 1, a)
	if len(cuts) != 1 || cuts[0].Span.File != 3 {
		t.Fatalf("cuts %+v", cuts)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a file span was written from memory")
		}
	}()
	Materialize(frame, cuts)
}

// FuzzFetchAnswerFrame: whatever the shape of a response and its spans, framing it with
// spans and writing them gives kmsg's framing of it with the records inline.
func FuzzFetchAnswerFrame(f *testing.F) {
	for _, seed := range []uint64{0, 1, 7, 1 << 40} {
		f.Add(seed, int16(4))
		f.Add(seed, int16(12))
	}
	f.Fuzz(func(t *testing.T, seed uint64, v int16) {
		max := kmsg.NewPtrFetchResponse().MaxVersion()
		v = (v%(max+1) + max + 1) % (max + 1)
		a, plain, files := randomAnswer(rand.New(rand.NewPCG(seed, uint64(v))), v)
		checkAnswer(t, a, plain, files)
	})
}
