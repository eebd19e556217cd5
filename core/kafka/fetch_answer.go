package kafka

import (
	"encoding/binary"
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FetchAnswer is the response to a Fetch. Its partitions' RecordBatches are empty: the
// records of the i-th partition (topics in order, then their partitions) are the spans
// Records[i], which the shell writes between the response's own bytes (AppendFrame),
// from the log's files where they point into one. Records is nil when no partition has
// any.
type FetchAnswer struct {
	*kmsg.FetchResponse
	Records [][]disk.Span
}

// RecordBytes is the size of the answer's records, what fetch quotas count.
func (a *FetchAnswer) RecordBytes() int64 {
	var n int64
	for _, r := range a.Records {
		n += disk.SpansLen(r)
	}
	return n
}

// DropRecords answers every partition without its records (a throttled fetch), and so
// without aborted transactions (an empty list for read_committed).
func (a *FetchAnswer) DropRecords() {
	a.Records = nil
	for i := range a.Topics {
		for j := range a.Topics[i].Partitions {
			p := &a.Topics[i].Partitions[j]
			p.RecordBatches = []byte{}
			if p.AbortedTransactions != nil {
				p.AbortedTransactions = p.AbortedTransactions[:0]
			}
		}
	}
}

// AppendTo appends the response as kmsg would encode it with every partition's records
// in RecordBatches. Only spans held in memory can be written so; a shell that holds
// file spans writes the answer with AppendFrame.
func (a *FetchAnswer) AppendTo(dst []byte) []byte {
	start := len(dst)
	dst, cuts := a.appendBody(dst)
	return materialize(dst, start, cuts)
}

// A Cut is a place in a frame's own bytes where a span's bytes go.
type Cut struct {
	At   int // index into the frame's own bytes
	Span disk.Span
}

// AppendFrame appends resp's response frame (wire.AppendResponse) for correlation id
// corr to dst, without the bytes of its spans: the frame on the wire is the bytes
// appended with each cut's span written at its place, in order (cuts at one place go
// one after another). The size prefix counts the spans. Only a FetchAnswer with records
// has cuts.
func AppendFrame(dst []byte, corr int32, resp kmsg.Response) ([]byte, []Cut) {
	a, ok := resp.(*FetchAnswer)
	if !ok || a.Records == nil {
		return wire.AppendResponse(dst, corr, resp), nil
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if a.IsFlexible() {
		dst = append(dst, 0) // no tagged fields in the response header
	}
	dst, cuts := a.appendBody(dst)
	size := len(dst) - start - 4
	for _, c := range cuts {
		size += int(c.Span.Len)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return dst, cuts
}

// Materialize returns the frame AppendFrame described, every span written from its
// bytes; it panics on a file span (only the shell that holds the file can write it).
func Materialize(frame []byte, cuts []Cut) []byte {
	return materialize(frame, 0, cuts)
}

// materialize writes the spans of cuts into b, whose bytes from start on the cuts'
// places index.
func materialize(b []byte, start int, cuts []Cut) []byte {
	if len(cuts) == 0 {
		return b
	}
	var n int64
	for _, c := range cuts {
		n += c.Span.Len
	}
	out := make([]byte, 0, len(b)+int(n))
	out = append(out, b[:start]...)
	at := start
	for _, c := range cuts {
		if c.Span.File != 0 || int64(len(c.Span.Data)) != c.Span.Len {
			panic(fmt.Sprintf("kafka: a span of file %d at %d cannot be written from memory", c.Span.File, c.Span.Pos))
		}
		out = append(out, b[at:start+c.At]...)
		out = append(out, c.Span.Data...)
		at = start + c.At
	}
	return append(out, b[at:]...)
}

// appendBody appends the response body with every partition's records field sized for
// its spans, and returns where the spans go (cuts index dst from its start).
//
// kmsg encodes the body; the records fields are found by encoding it twice, with each
// partition that has spans answering no records and then one byte: the encodings agree
// up to the first such records field, differ in its length (int32 0 and 1, or from v12
// on the compact lengths 1 and 2), agree again after the extra byte, and so on. Every
// other field is kmsg's, at every version.
func (a *FetchAnswer) appendBody(dst []byte) ([]byte, []Cut) {
	if a.Records == nil {
		return a.FetchResponse.AppendTo(dst), nil
	}
	empty, one := a.withRecords([]byte{}), a.withRecords([]byte{spanMark})
	e0, e1 := empty.AppendTo(nil), one.AppendTo(nil)
	flexible := a.IsFlexible()
	var cuts []Cut
	i, j, from := 0, 0, 0
	for _, spans := range a.Records {
		if len(spans) == 0 {
			continue
		}
		for i < len(e0) && j < len(e1) && e0[i] == e1[j] {
			i, j = i+1, j+1
		}
		lenAt := i // the records length field starts here
		if !flexible {
			lenAt = i - 3
		}
		if !recordsFieldAt(e0, e1, i, j, lenAt, flexible) {
			panic(fmt.Sprintf("kafka: Fetch v%d: no records field where the encodings differ (%d, %d)", a.GetVersion(), i, j))
		}
		n := disk.SpansLen(spans)
		dst = append(dst, e0[from:lenAt]...)
		if flexible {
			dst = binary.AppendUvarint(dst, uint64(n)+1)
		} else {
			dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		}
		for _, sp := range spans {
			cuts = append(cuts, Cut{At: len(dst), Span: sp})
		}
		i, j, from = i+1, j+2, i+1
	}
	if len(e0)-i != len(e1)-j {
		panic(fmt.Sprintf("kafka: Fetch v%d: the encodings end apart", a.GetVersion()))
	}
	return append(dst, e0[from:]...), cuts
}

// spanMark is the one byte of records the second encoding gives each partition with
// spans.
const spanMark = 0xa5

// recordsFieldAt checks that e0 holds an empty records field from lenAt to i (its
// last byte) where e1 holds a one-byte one ending at j+1.
func recordsFieldAt(e0, e1 []byte, i, j, lenAt int, flexible bool) bool {
	if lenAt < 0 || i >= len(e0) || j+1 >= len(e1) || e1[j+1] != spanMark {
		return false
	}
	if flexible {
		return e0[i] == 1 && e1[j] == 2
	}
	return binary.BigEndian.Uint32(e0[lenAt:]) == 0 && e1[j] == 1
}

// withRecords returns a copy of the response (sharing all but its topic and partition
// slices) in which every partition with spans has records b.
func (a *FetchAnswer) withRecords(b []byte) *kmsg.FetchResponse {
	c := *a.FetchResponse
	c.Topics = make([]kmsg.FetchResponseTopic, len(a.Topics))
	k := 0
	for ti, t := range a.Topics {
		t.Partitions = append([]kmsg.FetchResponseTopicPartition(nil), t.Partitions...)
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			if k < len(a.Records) && len(a.Records[k]) > 0 {
				if len(p.RecordBatches) > 0 {
					panic("kafka: a partition with spans also has records")
				}
				p.RecordBatches = b
			}
			k++
		}
		c.Topics[ti] = t
	}
	return &c
}
