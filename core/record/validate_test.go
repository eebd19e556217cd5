package record

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidateProduceAccepts(t *testing.T) {
	idempotent := Spec{ProducerID: 5, ProducerEpoch: 1, BaseSequence: 0}
	for _, codec := range allCodecs {
		for _, spec := range []Spec{Spec{}.NoProducer(), idempotent, {ProducerID: 5, BaseSequence: 10, Transactional: true}} {
			spec.Codec = codec
			b := mustBuild(t, spec, sampleRecords())
			h, err := ValidateProduce(b, 4<<20)
			if err != nil {
				t.Fatalf("%s %+v: %v", codec, spec, err)
			}
			if h.RecordCount != int32(len(sampleRecords())) || h.Codec() != codec {
				t.Fatalf("%s: header %+v", codec, h)
			}
			if code := ProduceErrorCode(err); code != 0 {
				t.Fatalf("code %d for no error", code)
			}
		}
	}
}

func TestValidateProduceRefuses(t *testing.T) {
	one := mustBuild(t, Spec{}.NoProducer(), []kmsg.Record{{Value: []byte("v")}})
	two := mustBuild(t, Spec{}.NoProducer(), []kmsg.Record{{Value: []byte("a")}, {Value: []byte("b")}})
	rec := func(d int32) []byte { return rawRecord(d, nil, []byte("v"), nil) }
	flipped := append([]byte{}, one...)
	flipped[len(flipped)-1] ^= 0x40
	magic1 := append([]byte{}, one...)
	magic1[magicPos] = 1
	zeros, _ := Compress(CodecGzip, make([]byte, 8<<20)) // 8 MiB of nothing in a few KiB
	marker, _ := BuildEndTxn(Spec{ProducerID: 1, BaseSequence: -1}, true, 0)
	control := mustBuild(t, Spec{Control: true}.NoProducer(), []kmsg.Record{{Key: ControlKey{Type: ControlCommit}.AppendTo(nil)}})
	big := mustBuild(t, Spec{}.NoProducer(), []kmsg.Record{{Value: make([]byte, 5000)}})

	cases := []struct {
		name string
		b    []byte
		want error
		code int16
	}{
		{"no batch", nil, ErrInvalidRecord, 87},
		{"two batches", append(append([]byte{}, one...), one...), ErrInvalidRecord, 87},
		{"a batch and a torn one", append(append([]byte{}, one...), one[:20]...), ErrInvalidRecord, 87},
		{"magic 1", magic1, ErrInvalidRecord, 87},
		{"transaction marker", marker, ErrInvalidRecord, 87},
		{"control batch", control, ErrInvalidRecord, 87},
		{"gap in offsets", rawBatch(rawHeader{lastOffsetDelta: 2, recordCount: 2, producerID: -1}, append(rec(0), rec(2)...)), ErrInvalidRecord, 87},
		{"no records", rawBatch(rawHeader{lastOffsetDelta: 0, recordCount: 0, producerID: -1}, nil), ErrInvalidRecord, 87},
		{"sequence missing", rawBatch(rawHeader{recordCount: 1, producerID: 3, baseSequence: -1}, rec(0)), ErrInvalidRecord, 87},
		{"transactional without producer", rawBatch(rawHeader{attributes: AttrTransactional, recordCount: 1, producerID: -1}, rec(0)), ErrInvalidRecord, 87},
		{"codec 7", rawBatch(rawHeader{attributes: 7, recordCount: 1, producerID: -1}, rec(0)), ErrCodec, 76},
		{"batch over the cap", big, ErrTooLarge, 10},
		{"records over the cap", rawBatch(rawHeader{attributes: int16(CodecGzip), recordCount: 1, producerID: -1}, zeros), ErrTooLarge, 10},
		{"CRC mismatch", flipped, ErrChecksum, 2},
		{"cut", one[:len(one)-2], ErrCorrupt, 2},
		{"cut header", one[:30], ErrCorrupt, 2},
		{"record counts disagree", rawBatch(rawHeader{recordCount: 1, producerID: -1}, two[HeaderSize:]), ErrCorrupt, 2},
		{"offsets not from zero", rawBatch(rawHeader{lastOffsetDelta: 1, recordCount: 2, producerID: -1}, append(rec(1), rec(2)...)), ErrCorrupt, 2},
		{"garbled gzip", rawBatch(rawHeader{attributes: int16(CodecGzip), recordCount: 1, producerID: -1}, []byte("not gzip")), ErrCorrupt, 2},
	}
	var coder Coder // shared across cases: a failure must not spoil the next call
	for _, c := range cases {
		for _, validate := range []func([]byte, int) (Header, error){ValidateProduce, coder.ValidateProduce} {
			_, err := validate(c.b, 4096)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
			if code := ProduceErrorCode(err); code != c.code {
				t.Errorf("%s: code %d, want %d (%v)", c.name, code, c.code, err)
			}
		}
	}
	// After all those failures, the shared Coder still validates good batches.
	for _, codec := range allCodecs {
		if _, err := coder.ValidateProduce(mustBuild(t, Spec{Codec: codec}.NoProducer(), sampleRecords()), 4<<20); err != nil {
			t.Errorf("%s after failures: %v", codec, err)
		}
	}
}

func TestProduceErrorCodePrecedence(t *testing.T) {
	if code := ProduceErrorCode(fmt.Errorf("%w and %w", ErrCorrupt, ErrTooLarge)); code != 10 {
		t.Errorf("too large wins over corrupt: %d", code)
	}
	if code := ProduceErrorCode(fmt.Errorf("%w: %w", ErrInvalidRecord, ErrMagic)); code != 87 {
		t.Errorf("invalid record wins over magic: %d", code)
	}
	if code := ProduceErrorCode(fmt.Errorf("%w: 1", ErrMagic)); code != 2 {
		t.Errorf("magic alone: %d", code)
	}
	if code := ProduceErrorCode(errors.New("disk on fire")); code != -1 {
		t.Errorf("unknown error: %d", code)
	}
}

func TestValidateProduceDoesNotModify(t *testing.T) {
	b := mustBuild(t, Spec{Codec: CodecZstd}.NoProducer(), sampleRecords())
	before := append([]byte{}, b...)
	if _, err := ValidateProduce(b, 4<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, before) {
		t.Fatal("ValidateProduce changed the batch")
	}
}

func TestValidateProduceKeysRule(t *testing.T) {
	var c Coder
	keys := ProduceRules{Keys: true}
	for _, codec := range allCodecs {
		keyed := mustBuild(t, Spec{Codec: codec}.NoProducer(), []kmsg.Record{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte{}, Value: nil}})
		if _, err := c.ValidateProduceWith(keyed, 1<<20, keys); err != nil {
			t.Fatalf("%s: keyed records (an empty key, a tombstone) refused: %v", codec, err)
		}
		keyless := mustBuild(t, Spec{Codec: codec}.NoProducer(), []kmsg.Record{{Key: []byte("k"), Value: []byte("v")}, {Value: []byte("v")}})
		_, err := c.ValidateProduceWith(keyless, 1<<20, keys)
		if !errors.Is(err, ErrInvalidRecord) || ProduceErrorCode(err) != 87 {
			t.Fatalf("%s: a record without a key: %v, want INVALID_RECORD", codec, err)
		}
		if _, err := ValidateProduce(keyless, 1<<20); err != nil {
			t.Fatalf("%s: a plain topic refused a record without a key: %v", codec, err)
		}
	}
}

func TestRetainedAndEmptyBatches(t *testing.T) {
	orig := mustBuild(t, Spec{BaseOffset: 100, ProducerID: 3, ProducerEpoch: 1, BaseSequence: 7}, []kmsg.Record{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}, {Key: []byte("c"), Value: []byte("3")}})
	it, err := NewIter(orig, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var kept []byte
	for it.Next() {
		if string(it.Record().Key) != "b" {
			kept = append(kept, it.RecordBytes()...)
		}
	}
	b := Retained(nil, orig, kept, 2)
	h, err := Check(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 100 || h.LastOffsetDelta != 2 || h.RecordCount != 2 || h.ProducerID != 3 || h.BaseSequence != 7 {
		t.Fatalf("retained header %+v", h)
	}
	recs, err := DecodeRecords(b, 1<<20)
	if err != nil || len(recs) != 2 || recs[1].OffsetDelta != 2 || string(recs[1].Key) != "c" {
		t.Fatalf("retained records %+v %v", recs, err)
	}
	e := AppendEmpty(nil, 50, 60, 4, 1234, true)
	h, err = Check(e)
	if err != nil || !h.IsEmptyRun() || h.BaseOffset != 50 || h.NextOffset() != 60 || h.PartitionLeaderEpoch != 4 || h.Attributes&AttrLogAppendTime == 0 {
		t.Fatalf("empty batch %+v %v", h, err)
	}
	TrimEmpty(e, 57)
	if h, err = Check(e); err != nil || h.BaseOffset != 57 || h.NextOffset() != 60 {
		t.Fatalf("trimmed %+v %v", h, err)
	}
}

func TestValidateProduceTimestampBounds(t *testing.T) {
	var c Coder
	recs := []kmsg.Record{{Value: []byte("a")}, {Value: []byte("b"), TimestampDelta64: 50}}
	b := mustBuild(t, Spec{FirstTimestamp: 1000}.NoProducer(), recs)
	for _, tc := range []struct {
		min, max int64
		ok       bool
	}{{1000, 1050, true}, {1001, 2000, false}, {0, 1049, false}, {math.MinInt64, math.MaxInt64, true}} {
		_, err := c.ValidateProduceWith(b, 1<<20, ProduceRules{Timestamps: true, TimestampMin: tc.min, TimestampMax: tc.max})
		if (err == nil) != tc.ok || err != nil && ProduceErrorCode(err) != 32 {
			t.Fatalf("bounds [%d, %d]: %v, want ok %v (else INVALID_TIMESTAMP)", tc.min, tc.max, err, tc.ok)
		}
	}
}
