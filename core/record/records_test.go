package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const testSizeMax = 16 << 20

func TestBuildDecodeRoundTrip(t *testing.T) {
	recs := sampleRecords()
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			spec := Spec{
				BaseOffset: 1000, PartitionLeaderEpoch: 7, FirstTimestamp: 1_700_000_000_000,
				ProducerID: 42, ProducerEpoch: 3, BaseSequence: 99, Codec: codec, Transactional: true,
			}
			b := mustBuild(t, spec, recs)
			h, err := Check(b)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			wantHeader := Header{
				BaseOffset: 1000, Length: int32(len(b) - lengthFieldEnd), PartitionLeaderEpoch: 7, Magic: 2,
				CRC: h.CRC, Attributes: int16(codec) | AttrTransactional, LastOffsetDelta: int32(len(recs) - 1),
				FirstTimestamp: spec.FirstTimestamp, MaxTimestamp: spec.FirstTimestamp + 1<<40,
				ProducerID: 42, ProducerEpoch: 3, BaseSequence: 99, RecordCount: int32(len(recs)),
			}
			if h != wantHeader {
				t.Fatalf("header\n got %+v\nwant %+v", h, wantHeader)
			}
			if h.Codec() != codec || !h.IsTransactional() || h.IsControl() || h.NextOffset() != 1000+int64(len(recs)) {
				t.Fatalf("header accessors: codec %s, transactional %v, control %v, next offset %d",
					h.Codec(), h.IsTransactional(), h.IsControl(), h.NextOffset())
			}
			got, err := DecodeRecords(b, testSizeMax)
			if err != nil {
				t.Fatalf("DecodeRecords: %v", err)
			}
			if len(got) != len(recs) {
				t.Fatalf("%d records, want %d", len(got), len(recs))
			}
			for i := range recs {
				if err := sameRecord(i, recs[i], got[i]); err != nil {
					t.Error(err)
				}
			}
			checkIter(t, b, spec, recs)
		})
	}
}

// checkIter walks b with an Iter and compares offsets, timestamps and records.
func checkIter(t *testing.T, b []byte, spec Spec, recs []kmsg.Record) {
	t.Helper()
	it, err := NewIter(b, testSizeMax)
	if err != nil {
		t.Fatalf("NewIter: %v", err)
	}
	if h, _ := Check(b); it.Header() != h {
		t.Fatalf("iterator header %+v, Check says %+v", it.Header(), h)
	}
	i := 0
	for it.Next() {
		if i >= len(recs) {
			t.Fatalf("iterator went past %d records", len(recs))
		}
		if it.Offset() != spec.BaseOffset+int64(i) {
			t.Errorf("record %d: offset %d", i, it.Offset())
		}
		if want := spec.FirstTimestamp + timestampDelta(&recs[i]); it.Timestamp() != want {
			t.Errorf("record %d: timestamp %d, want %d", i, it.Timestamp(), want)
		}
		if err := sameRecord(i, recs[i], *it.Record()); err != nil {
			t.Error(err)
		}
		i++
	}
	if it.Err() != nil || i != len(recs) {
		t.Fatalf("iterator stopped after %d of %d records: %v", i, len(recs), it.Err())
	}
	if n, err := CountRecords(b, testSizeMax); n != len(recs) || err != nil {
		t.Fatalf("CountRecords: %d, %v", n, err)
	}
}

func TestNullAndEmptyAreDistinct(t *testing.T) {
	for _, codec := range allCodecs {
		b := mustBuild(t, Spec{Codec: codec}.NoProducer(), []kmsg.Record{
			{Key: nil, Value: []byte{}},
			{Key: []byte{}, Value: nil},
			{Value: []byte("h"), Headers: []kmsg.Header{{Key: "a", Value: nil}, {Key: "b", Value: []byte{}}}},
		})
		recs, err := DecodeRecords(b, testSizeMax)
		if err != nil {
			t.Fatal(err)
		}
		if recs[0].Key != nil || recs[0].Value == nil || len(recs[0].Value) != 0 {
			t.Errorf("%s: null key, empty value decoded as key %v, value %v", codec, recs[0].Key, recs[0].Value)
		}
		if recs[1].Key == nil || len(recs[1].Key) != 0 || recs[1].Value != nil {
			t.Errorf("%s: empty key, null value decoded as key %v, value %v", codec, recs[1].Key, recs[1].Value)
		}
		if h := recs[2].Headers; h[0].Value != nil || h[1].Value == nil {
			t.Errorf("%s: header values null and empty decoded as %v and %v", codec, h[0].Value, h[1].Value)
		}
	}
}

func TestDecodedSlicesDoNotOverlap(t *testing.T) {
	b := mustBuild(t, Spec{}.NoProducer(), []kmsg.Record{{Key: []byte("k"), Value: []byte("v")}})
	recs, err := DecodeRecords(b, testSizeMax)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(recs[0].Key, 'X')
	if string(recs[0].Value) != "v" {
		t.Fatalf("appending to the key overwrote the value: %q", recs[0].Value)
	}
}

func TestLargeBatchRoundTrip(t *testing.T) {
	values := jsonValues(2000, 1024, 11)
	for _, codec := range allCodecs {
		b, err := BuildValues(Spec{FirstTimestamp: 5, Codec: codec}.NoProducer(), values...)
		if err != nil {
			t.Fatal(err)
		}
		it, err := NewIter(b, testSizeMax)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for it.Next() {
			if !bytes.Equal(it.Record().Value, values[n]) || it.Record().Key != nil || it.Timestamp() != 5 {
				t.Fatalf("%s: record %d differs", codec, n)
			}
			n++
		}
		if it.Err() != nil || n != len(values) {
			t.Fatalf("%s: %d records, %v", codec, n, it.Err())
		}
		// The records take about 2 MB; a cap below that must refuse them.
		if _, err := DecodeRecords(b, 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: decoding under a 1 MiB cap: %v, want ErrTooLarge", codec, err)
		}
	}
}

func TestLogAppendTime(t *testing.T) {
	recs := []kmsg.Record{{Value: []byte("a")}, {Value: []byte("b"), TimestampDelta64: 10}}
	b := rawBatch(rawHeader{
		attributes: AttrLogAppendTime, lastOffsetDelta: 1, recordCount: 2,
		firstTimestamp: 100, maxTimestamp: 5000, producerID: -1,
	}, append(appendRecord(nil, &recs[0], 0), appendRecord(nil, &recs[1], 1)...))
	it, err := NewIter(b, testSizeMax)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		if it.Timestamp() != 5000 {
			t.Errorf("record %d: timestamp %d, want the batch's append time 5000", it.Record().OffsetDelta, it.Timestamp())
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
}

func TestCompactedBatches(t *testing.T) {
	// Offsets 0, 3 and 7 survive from a span of 10.
	var body []byte
	for _, d := range []int32{0, 3, 7} {
		body = append(body, rawRecord(d, []byte("k"), []byte("v"), nil)...)
	}
	h := rawHeader{baseOffset: 50, lastOffsetDelta: 9, recordCount: 3, producerID: -1}
	it, err := NewIter(rawBatch(h, body), testSizeMax)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	for it.Next() {
		offsets = append(offsets, it.Offset())
	}
	if it.Err() != nil || len(offsets) != 3 || offsets[0] != 50 || offsets[1] != 53 || offsets[2] != 57 {
		t.Fatalf("offsets %v, %v", offsets, it.Err())
	}
	// A batch emptied by compaction keeps its header, even one marked compressed.
	for _, codec := range allCodecs {
		b := rawBatch(rawHeader{lastOffsetDelta: 4, attributes: int16(codec)}, nil)
		if _, err := Check(b); err != nil {
			t.Fatalf("%s: empty batch: %v", codec, err)
		}
		if n, err := CountRecords(b, testSizeMax); n != 0 || err != nil {
			t.Fatalf("%s: empty batch: %d records, %v", codec, n, err)
		}
	}
}

// TestMalformedRecords feeds record bodies that break one rule each. Every one must fail
// with ErrCorrupt, through DecodeRecords and the iterator alike.
func TestMalformedRecords(t *testing.T) {
	good := rawRecord(0, []byte("k"), []byte("v"), nil)
	varintBytes := func(v int64) []byte { return binary.AppendVarint(nil, v) }
	withLength := func(body []byte) []byte { return append(varintBytes(int64(len(body))), body...) }
	cases := map[string]struct {
		body  []byte
		count int32
	}{
		"length past the end":   {append(varintBytes(100), good[1:]...), 1},
		"length below minimum":  {append(varintBytes(3), 0, 0, 0), 1},
		"negative length":       {append(varintBytes(-5), good[1:]...), 1},
		"length too long":       {withLength(append(good[1:], 0)), 1},
		"length too short":      {append(varintBytes(int64(len(good)-3)), good[1:]...), 1},
		"varint of 6 bytes":     {append([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, good[1:]...), 1},
		"varint over 32 bits":   {append([]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, good[1:]...), 1},
		"varint cut":            {[]byte{0x80}, 1},
		"key length below -1":   {rawRecord(0, nil, []byte("v"), func(b []byte) []byte { return append(b[:3], append(varintBytes(-2), b[4:]...)...) }), 1},
		"key length past end":   {rawRecord(0, []byte("k"), nil, func(b []byte) []byte { b[3] = byte(varintBytes(60)[0]); return b }), 1},
		"negative header count": {rawRecord(0, nil, nil, func(b []byte) []byte { return append(b[:len(b)-1], varintBytes(-1)...) }), 1},
		"header count too big":  {rawRecord(0, nil, nil, func(b []byte) []byte { return append(b[:len(b)-1], varintBytes(1000)...) }), 1},
		"null header key": {rawRecord(0, nil, nil, func(b []byte) []byte {
			return append(b[:len(b)-1], append(varintBytes(1), append(varintBytes(-1), varintBytes(-1)...)...)...)
		}), 1},
		"header value cut": {rawRecord(0, nil, nil, func(b []byte) []byte {
			return append(b[:len(b)-1], append(varintBytes(1), append(varintBytes(1), 'h')...)...)
		}), 1},
		"fewer records than counted": {good, 2},
		"bytes after the last":       {append(append([]byte{}, good...), 0), 1},
		"offset delta repeated":      {append(append([]byte{}, good...), good...), 2},
		"offset delta decreasing":    {append(rawRecord(1, nil, nil, nil), rawRecord(0, nil, nil, nil)...), 2},
		"offset delta negative":      {rawRecord(-1, nil, nil, nil), 1},
		"offset delta past last":     {append(rawRecord(0, nil, nil, nil), rawRecord(5, nil, nil, nil)...), 2},
		"no records at all":          {nil, 1},
	}
	for name, c := range cases {
		h := rawHeader{lastOffsetDelta: max(c.count-1, 1), recordCount: c.count, producerID: -1}
		b := rawBatch(h, c.body)
		if _, err := Check(b); err != nil {
			t.Fatalf("%s: the frame itself must pass Check: %v", name, err)
		}
		if _, err := DecodeRecords(b, testSizeMax); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeRecords: %v, want ErrCorrupt", name, err)
		}
		if _, err := CountRecords(b, testSizeMax); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: CountRecords: %v, want ErrCorrupt", name, err)
		}
		// The same body, compressed, must fail the same way.
		z, _ := Compress(CodecGzip, c.body)
		h.attributes = int16(CodecGzip)
		if len(c.body) > 0 {
			if _, err := DecodeRecords(rawBatch(h, z), testSizeMax); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s, gzipped: %v, want ErrCorrupt", name, err)
			}
		}
	}
	// The well-formed base record must decode, or the cases above prove nothing.
	if _, err := DecodeRecords(rawBatch(plainHeader(1), good), testSizeMax); err != nil {
		t.Fatalf("the base record does not decode: %v", err)
	}
}

func TestDecodeRefusesBadFrames(t *testing.T) {
	b := mustBuild(t, Spec{}.NoProducer(), []kmsg.Record{{Value: []byte("v")}})
	if _, err := DecodeRecords(b[:len(b)-1], testSizeMax); !errors.Is(err, ErrShort) {
		t.Errorf("cut batch: %v, want ErrShort", err)
	}
	bad := rawBatch(rawHeader{attributes: 6, recordCount: 1}, []byte{1, 2, 3})
	if _, err := DecodeRecords(bad, testSizeMax); !errors.Is(err, ErrCodec) {
		t.Errorf("codec 6: %v, want ErrCodec", err)
	}
	over := rawBatch(rawHeader{lastOffsetDelta: 0, recordCount: 2}, nil)
	if _, err := DecodeRecords(over, testSizeMax); !errors.Is(err, ErrCorrupt) {
		t.Errorf("two records in a span of one: %v, want ErrCorrupt", err)
	}
}

func TestStampingKeepsCheckPassing(t *testing.T) {
	for _, codec := range allCodecs {
		b := mustBuild(t, Spec{Codec: codec, PartitionLeaderEpoch: -1}.NoProducer(), sampleRecords())
		for _, offset := range []int64{0, 1, 1 << 40, math.MaxInt64 - int64(len(sampleRecords()))} {
			for _, epoch := range []int32{0, 5, math.MaxInt32} {
				SetBaseOffset(b, offset)
				SetPartitionLeaderEpoch(b, epoch)
				h, err := Check(b)
				if err != nil {
					t.Fatalf("%s: after stamping offset %d epoch %d: %v", codec, offset, epoch, err)
				}
				if h.BaseOffset != offset || h.PartitionLeaderEpoch != epoch {
					t.Fatalf("%s: stamped %d/%d, read %d/%d", codec, offset, epoch, h.BaseOffset, h.PartitionLeaderEpoch)
				}
				it, err := NewIter(b, testSizeMax)
				if err != nil || !it.Next() || it.Offset() != offset {
					t.Fatalf("%s: first record after stamping offset %d: %v", codec, offset, err)
				}
			}
		}
		// One past the largest base offset whose last offset fits.
		SetBaseOffset(b, math.MaxInt64-int64(len(sampleRecords()))+1)
		if _, err := Check(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: base offset whose last offset overflows: %v, want ErrCorrupt", codec, err)
		}
	}
}

func TestCheckFailures(t *testing.T) {
	b := mustBuild(t, Spec{}.NoProducer(), []kmsg.Record{{Value: []byte("v")}})
	for n := range len(b) {
		if _, err := Check(b[:n]); !errors.Is(err, ErrShort) {
			t.Fatalf("first %d bytes: %v, want ErrShort", n, err)
		}
	}
	flip := func(pos int) []byte {
		c := append([]byte{}, b...)
		c[pos] ^= 0x01
		return c
	}
	if _, err := Check(flip(magicPos)); !errors.Is(err, ErrMagic) {
		t.Errorf("magic 3: %v, want ErrMagic", err)
	}
	if _, err := Check(flip(crcPos + 3)); !errors.Is(err, ErrChecksum) {
		t.Errorf("CRC flipped: %v, want ErrChecksum", err)
	}
	if _, err := Check(flip(len(b) - 1)); !errors.Is(err, ErrChecksum) {
		t.Errorf("value flipped: %v, want ErrChecksum", err)
	}
	neg := append([]byte{}, b...)
	binary.BigEndian.PutUint32(neg[8:], 0xffffffff)
	if _, err := Check(neg); !errors.Is(err, ErrCorrupt) {
		t.Errorf("negative length: %v, want ErrCorrupt", err)
	}
}

func TestSplit(t *testing.T) {
	var log []byte
	for i := range 5 {
		b, err := BuildValues(Spec{BaseOffset: int64(i * 10), Codec: allCodecs[i]}.NoProducer(), []byte("a"), []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b...)
	}
	whole := len(log)
	log = append(log, log[:HeaderSize+3]...) // a torn tail
	var bases []int64
	n, err := Split(log, func(h Header, batch []byte) error {
		bases = append(bases, h.BaseOffset)
		if len(batch) != h.Size() {
			t.Errorf("batch of %d bytes for a size of %d", len(batch), h.Size())
		}
		return nil
	})
	if n != whole || !errors.Is(err, ErrShort) || len(bases) != 5 || bases[4] != 40 {
		t.Fatalf("Split: consumed %d of %d, %v, bases %v", n, whole, err, bases)
	}
	stop := errors.New("stop")
	n, err = Split(log, func(h Header, _ []byte) error {
		if h.BaseOffset == 20 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n == 0 || n >= whole {
		t.Fatalf("Split stopped by fn: consumed %d, %v", n, err)
	}
}

func TestBuildRefuses(t *testing.T) {
	if _, err := Build(Spec{}, nil); err == nil {
		t.Error("Build of no records succeeded")
	}
	if _, err := BuildValues(Spec{Codec: 5}, []byte("x")); !errors.Is(err, ErrCodec) {
		t.Errorf("codec 5: %v, want ErrCodec", err)
	}
	if _, err := BuildValues(Spec{BaseOffset: -1}, []byte("x")); err == nil {
		t.Error("negative base offset accepted")
	}
}

func TestBuildMaxTimestamp(t *testing.T) {
	// All deltas negative: the max timestamp is the largest record timestamp, not the
	// batch's first timestamp.
	b := mustBuild(t, Spec{FirstTimestamp: 1000}.NoProducer(), []kmsg.Record{
		{TimestampDelta64: -50}, {TimestampDelta64: -10}, {TimestampDelta64: -30},
	})
	h, err := Check(b)
	if err != nil || h.MaxTimestamp != 990 {
		t.Fatalf("max timestamp %d, %v; want 990", h.MaxTimestamp, err)
	}
}

func TestBuildRefusesTimestampOverflow(t *testing.T) {
	for _, c := range []struct{ first, delta int64 }{{math.MaxInt64, 1}, {-1, math.MinInt64}, {math.MinInt64, -1}} {
		if _, err := Build(Spec{FirstTimestamp: c.first}.NoProducer(), []kmsg.Record{{TimestampDelta64: c.delta}}); err == nil {
			t.Errorf("timestamp %d%+d accepted", c.first, c.delta)
		}
	}
	if _, err := Build(Spec{FirstTimestamp: math.MaxInt64 - 1}.NoProducer(), []kmsg.Record{{TimestampDelta64: 1}}); err != nil {
		t.Errorf("largest timestamp refused: %v", err)
	}
}

func TestBuildMatchesKmsgEncoding(t *testing.T) {
	// Records as kmsg encodes them, after Build has numbered them: the bytes must agree.
	recs := sampleRecords()
	b := mustBuild(t, Spec{}.NoProducer(), recs)
	var want []byte
	for i := range recs {
		r := recs[i]
		r.OffsetDelta = int32(i)
		r.Length = 0
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		want = r.AppendTo(want)
	}
	if !bytes.Equal(b[HeaderSize:], want) {
		t.Fatal("records encoded differently from kmsg")
	}
}

func TestControlRecords(t *testing.T) {
	for _, commit := range []bool{false, true} {
		spec := Spec{BaseOffset: 9, ProducerID: 7, ProducerEpoch: 2, BaseSequence: -1, FirstTimestamp: 123}
		b, err := BuildEndTxn(spec, commit, 17)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Check(b)
		if err != nil || !h.IsControl() || !h.IsTransactional() || h.Codec() != CodecNone || h.RecordCount != 1 {
			t.Fatalf("marker header %+v, %v", h, err)
		}
		recs, err := DecodeRecords(b, testSizeMax)
		if err != nil {
			t.Fatal(err)
		}
		key, err := ParseControlKey(recs[0].Key)
		want := ControlAbort
		if commit {
			want = ControlCommit
		}
		if err != nil || key.Type != want || key.Version != 0 {
			t.Fatalf("control key %+v, %v; want %s", key, err, want)
		}
		marker, err := ParseEndTxnMarker(recs[0].Value)
		if err != nil || marker.CoordinatorEpoch != 17 {
			t.Fatalf("marker %+v, %v", marker, err)
		}
		// kmsg reads our key and value the same way.
		var kk kmsg.ControlRecordKey
		if err := kk.ReadFrom(recs[0].Key); err != nil || int16(kk.Type) != int16(want) {
			t.Fatalf("kmsg reads the key as %+v, %v", kk, err)
		}
		var km kmsg.EndTxnMarker
		if err := km.ReadFrom(recs[0].Value); err != nil || km.CoordinatorEpoch != 17 {
			t.Fatalf("kmsg reads the marker as %+v, %v", km, err)
		}
	}
	for name, key := range map[string][]byte{"short": {0, 0, 1}, "negative version": {0xff, 0xff, 0, 1}, "empty": nil} {
		if _, err := ParseControlKey(key); !errors.Is(err, ErrCorrupt) {
			t.Errorf("control key %s: %v, want ErrCorrupt", name, err)
		}
	}
	if k, err := ParseControlKey([]byte{0, 1, 0, 3, 9, 9}); err != nil || k.Type != ControlSnapshotHeader || k.Version != 1 {
		t.Errorf("longer key of a later version: %+v, %v", k, err)
	}
	if _, err := ParseEndTxnMarker([]byte{0, 0, 0}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short marker: %v", err)
	}
	if !strings.Contains(ControlType(9).String(), "9") || ControlCommit.String() != "commit" {
		t.Error("ControlType.String")
	}
}

// BatchesEnd reads the end of whole batches only: a cut last batch, or bytes that are
// no batch, end it where the whole ones do.
func TestBatchesEnd(t *testing.T) {
	a, err := Build(Spec{BaseOffset: 10}.NoProducer(), []kmsg.Record{{Value: []byte("x")}, {Value: []byte("y")}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Spec{BaseOffset: 12}.NoProducer(), []kmsg.Record{{Value: []byte("z")}})
	if err != nil {
		t.Fatal(err)
	}
	both := append(append([]byte{}, a...), b...)
	for _, tc := range []struct {
		data []byte
		end  int64
		ok   bool
	}{
		{nil, 0, false},
		{a, 12, true},
		{both, 13, true},
		{both[:len(both)-1], 12, true},
		{a[:HeaderSize-1], 0, false},
	} {
		if end, ok := BatchesEnd(tc.data); end != tc.end || ok != tc.ok {
			t.Errorf("%d bytes: end %d %v, want %d %v", len(tc.data), end, ok, tc.end, tc.ok)
		}
	}
}
