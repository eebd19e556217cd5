package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// rawHeader is a batch header written field by field, for batches Build would refuse to
// make.
type rawHeader struct {
	baseOffset      int64
	attributes      int16
	lastOffsetDelta int32
	firstTimestamp  int64
	maxTimestamp    int64
	producerID      int64
	producerEpoch   int16
	baseSequence    int32
	recordCount     int32
}

// rawBatch frames body (records, already compressed if the attributes say so) under h,
// with a correct length and CRC.
func rawBatch(h rawHeader, body []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	binary.BigEndian.PutUint64(b[0:], uint64(h.baseOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(HeaderSize-lengthFieldEnd+len(body)))
	binary.BigEndian.PutUint32(b[epochPos:], 0xffffffff)
	b[magicPos] = MagicV2
	binary.BigEndian.PutUint16(b[attributesPos:], uint16(h.attributes))
	binary.BigEndian.PutUint32(b[lastDeltaPos:], uint32(h.lastOffsetDelta))
	binary.BigEndian.PutUint64(b[firstTSPos:], uint64(h.firstTimestamp))
	binary.BigEndian.PutUint64(b[maxTSPos:], uint64(h.maxTimestamp))
	binary.BigEndian.PutUint64(b[producerIDPos:], uint64(h.producerID))
	binary.BigEndian.PutUint16(b[producerEpPos:], uint16(h.producerEpoch))
	binary.BigEndian.PutUint32(b[baseSeqPos:], uint32(h.baseSequence))
	binary.BigEndian.PutUint32(b[recordCountPos:], uint32(h.recordCount))
	b = append(b, body...)
	SetCRC(b)
	return b
}

// plainHeader is the header of an uncompressed producer batch of n records.
func plainHeader(n int32) rawHeader {
	return rawHeader{lastOffsetDelta: n - 1, recordCount: n, producerID: -1, producerEpoch: -1, baseSequence: -1}
}

// rawRecord encodes one record field by field with the given offset delta, computing
// its length; tweak may rewrite the encoded body (after the length) to corrupt it.
func rawRecord(offsetDelta int32, key, value []byte, tweak func(body []byte) []byte) []byte {
	body := []byte{0} // attributes
	body = binary.AppendVarint(body, 0)
	body = binary.AppendVarint(body, int64(offsetDelta))
	body = appendNullable(body, key)
	body = appendNullable(body, value)
	body = binary.AppendVarint(body, 0)
	if tweak != nil {
		body = tweak(body)
	}
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// sampleRecords covers what the encoding distinguishes: null versus empty keys and
// values, headers with null and empty values, negative and large timestamp deltas, a
// value larger than one compression block.
func sampleRecords() []kmsg.Record {
	large := make([]byte, 300<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range large {
		large[i] = byte('a' + rng.IntN(8))
	}
	return []kmsg.Record{
		{Key: []byte("k0"), Value: []byte("v0")},
		{Key: nil, Value: nil, TimestampDelta64: 5},
		{Key: []byte{}, Value: []byte{}, TimestampDelta64: -3},
		{Key: []byte("k3"), Value: large, TimestampDelta64: 1 << 40},
		{Value: []byte("with headers"), Headers: []kmsg.Header{
			{Key: "h0", Value: []byte("x")},
			{Key: "", Value: nil},
			{Key: "h2", Value: []byte{}},
		}},
		{Value: []byte("int32 delta only"), TimestampDelta: 77},
		{Attributes: 0, Key: bytes.Repeat([]byte{0xff}, 200), Value: []byte("k200")},
	}
}

// sameRecord reports how got, decoded from a batch built from want at index i, differs
// from what Build promises to preserve.
func sameRecord(i int, want, got kmsg.Record) error {
	wantDelta := timestampDelta(&want)
	switch {
	case got.OffsetDelta != int32(i):
		return fmt.Errorf("record %d: offset delta %d", i, got.OffsetDelta)
	case got.TimestampDelta64 != wantDelta:
		return fmt.Errorf("record %d: timestamp delta %d, want %d", i, got.TimestampDelta64, wantDelta)
	case got.Attributes != want.Attributes:
		return fmt.Errorf("record %d: attributes %d, want %d", i, got.Attributes, want.Attributes)
	case !sameNullable(got.Key, want.Key):
		return fmt.Errorf("record %d: key %q (nil %v), want %q (nil %v)", i, trim(got.Key), got.Key == nil, trim(want.Key), want.Key == nil)
	case !sameNullable(got.Value, want.Value):
		return fmt.Errorf("record %d: value %q (nil %v), want %q (nil %v)", i, trim(got.Value), got.Value == nil, trim(want.Value), want.Value == nil)
	case len(got.Headers) != len(want.Headers):
		return fmt.Errorf("record %d: %d headers, want %d", i, len(got.Headers), len(want.Headers))
	case int(got.Length) != len(got.AppendTo(nil))-varintSize(int64(got.Length)):
		return fmt.Errorf("record %d: length %d does not match kmsg's encoding", i, got.Length)
	}
	for j := range want.Headers {
		g, w := got.Headers[j], want.Headers[j]
		if g.Key != w.Key || !sameNullable(g.Value, w.Value) {
			return fmt.Errorf("record %d header %d: %q=%q, want %q=%q", i, j, g.Key, g.Value, w.Key, w.Value)
		}
	}
	return nil
}

func sameNullable(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func trim(b []byte) []byte {
	if len(b) > 20 {
		return b[:20]
	}
	return b
}

// jsonValues makes n JSON-ish values of about size bytes each, deterministically, with
// the mix of repeated field names and varying numbers and words real events have.
func jsonValues(n, size int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	values := make([][]byte, n)
	for i := range values {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","ts":%d,"items":[`, i, rng.IntN(100000), 1700000000000+rng.Int64N(1e9))
		for b.Len() < size-40 {
			fmt.Fprintf(&b, `{"sku":"%s-%d","qty":%d,"price":%d.%02d},`,
				words[rng.IntN(len(words))], rng.IntN(10000), rng.IntN(20), rng.IntN(500), rng.IntN(100))
		}
		b.Truncate(b.Len() - 1)
		b.WriteString(`],"ok":true}`)
		values[i] = b.Bytes()
	}
	return values
}

func mustBuild(t testing.TB, spec Spec, recs []kmsg.Record) []byte {
	t.Helper()
	b, err := Build(spec, recs)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}
