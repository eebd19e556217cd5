package record

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// Run longer with: go test ./core/record -run Property -rapid.checks=10000

func genBytes(maxLen int) *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		if rapid.IntRange(0, 5).Draw(t, "null") == 0 {
			return nil
		}
		// Repetitive content so that codecs do real work, random content so they don't
		// only see easy inputs.
		if rapid.Bool().Draw(t, "repeat") {
			return []byte(rapid.StringOfN(rapid.RuneFrom([]rune("ab")), 0, maxLen, -1).Draw(t, "text"))
		}
		return rapid.SliceOfN(rapid.Byte(), 0, maxLen).Draw(t, "bytes")
	})
}

func genRecord() *rapid.Generator[kmsg.Record] {
	return rapid.Custom(func(t *rapid.T) kmsg.Record {
		r := kmsg.Record{
			Key:              genBytes(64).Draw(t, "key"),
			Value:            genBytes(2048).Draw(t, "value"),
			TimestampDelta64: rapid.OneOf(rapid.Int64Range(-1000, 1000), rapid.Int64Range(-1<<61, 1<<61)).Draw(t, "tsDelta"),
		}
		for i := rapid.IntRange(0, 3).Draw(t, "headers"); i > 0; i-- {
			r.Headers = append(r.Headers, kmsg.Header{
				Key:   rapid.String().Draw(t, "headerKey"),
				Value: genBytes(32).Draw(t, "headerValue"),
			})
		}
		return r
	})
}

func genSpec() *rapid.Generator[Spec] {
	return rapid.Custom(func(t *rapid.T) Spec {
		return Spec{
			BaseOffset:           rapid.Int64Range(0, 1<<50).Draw(t, "baseOffset"),
			PartitionLeaderEpoch: rapid.Int32().Draw(t, "epoch"),
			FirstTimestamp:       rapid.Int64Range(-1<<61, 1<<61).Draw(t, "firstTimestamp"),
			ProducerID:           rapid.Int64Range(-1, 1<<40).Draw(t, "producerID"),
			ProducerEpoch:        rapid.Int16().Draw(t, "producerEpoch"),
			BaseSequence:         rapid.Int32().Draw(t, "baseSequence"),
			Codec:                rapid.SampledFrom(allCodecs).Draw(t, "codec"),
			Transactional:        rapid.Bool().Draw(t, "transactional"),
			Control:              rapid.Bool().Draw(t, "control"),
		}
	})
}

func TestPropertyRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := genSpec().Draw(t, "spec")
		recs := rapid.SliceOfN(genRecord(), 1, 20).Draw(t, "records")
		b, err := Build(spec, recs)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		h, err := Check(b)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if h.Size() != len(b) || h.BaseOffset != spec.BaseOffset || h.ProducerID != spec.ProducerID ||
			h.BaseSequence != spec.BaseSequence || h.Codec() != spec.Codec || h.IsControl() != spec.Control ||
			h.IsTransactional() != spec.Transactional || h.FirstTimestamp != spec.FirstTimestamp {
			t.Fatalf("header %+v from spec %+v", h, spec)
		}
		maxTimestamp := spec.FirstTimestamp + recs[0].TimestampDelta64
		it, err := NewIter(b, testSizeMax)
		if err != nil {
			t.Fatalf("NewIter: %v", err)
		}
		for i := 0; it.Next(); i++ {
			if err := sameRecord(i, recs[i], *it.Record()); err != nil {
				t.Fatal(err)
			}
			if it.Offset() != spec.BaseOffset+int64(i) {
				t.Fatalf("record %d at offset %d", i, it.Offset())
			}
			maxTimestamp = max(maxTimestamp, it.Timestamp())
		}
		if it.Err() != nil {
			t.Fatalf("iteration: %v", it.Err())
		}
		if h.MaxTimestamp != maxTimestamp {
			t.Fatalf("max timestamp %d, records reach %d", h.MaxTimestamp, maxTimestamp)
		}
		decoded, err := DecodeRecords(b, testSizeMax)
		if err != nil || len(decoded) != len(recs) {
			t.Fatalf("DecodeRecords: %d records, %v", len(decoded), err)
		}
		var c Coder
		it, err = c.NewIter(b, testSizeMax)
		for i := 0; err == nil && it.Next(); i++ {
			if err := sameRecord(i, recs[i], *it.Record()); err != nil {
				t.Fatalf("with a Coder: %v", err)
			}
		}
		if err != nil || it.Err() != nil {
			t.Fatalf("Coder.NewIter: %v, %v", err, it.Err())
		}
		// Producer-shaped batches pass produce validation exactly when the spec is one a
		// producer may send.
		_, err = ValidateProduce(b, testSizeMax)
		producerOK := !spec.Control && !(spec.ProducerID >= 0 && spec.BaseSequence < 0) &&
			!(spec.Transactional && spec.ProducerID < 0)
		if (err == nil) != producerOK {
			t.Fatalf("ValidateProduce of %+v: %v", spec, err)
		}
	})
}

// Any single-byte change from the magic byte to the end makes Check fail: CRC-32C
// detects every error burst of up to 32 bits, and the magic byte is checked on its own.
// The base offset and leader epoch may be stamped freely.
func TestPropertyCorruptionDetected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := genSpec().Draw(t, "spec")
		recs := rapid.SliceOfN(genRecord(), 1, 5).Draw(t, "records")
		b, err := Build(spec, recs)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		pos := rapid.IntRange(magicPos, len(b)-1).Draw(t, "pos")
		mask := rapid.ByteRange(1, 255).Draw(t, "mask")
		b[pos] ^= mask
		if _, err := Check(b); err == nil {
			t.Fatalf("byte %d of %d xor %02x passed Check", pos, len(b), mask)
		} else if pos >= crcPos && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d: %v", pos, err)
		}
		b[pos] ^= mask
		SetBaseOffset(b, rapid.Int64Range(0, 1<<62).Draw(t, "stampOffset"))
		SetPartitionLeaderEpoch(b, rapid.Int32().Draw(t, "stampEpoch"))
		if _, err := Check(b); err != nil {
			t.Fatalf("after stamping: %v", err)
		}
	})
}

func TestPropertyCodecs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		codec := rapid.SampledFrom(allCodecs).Draw(t, "codec")
		in := genBytes(1<<16).Draw(t, "in")
		var c Coder // one Coder across calls: reused state must not leak between them
		for range 2 {
			z, err := c.Compress(codec, in)
			if err != nil {
				t.Fatal(err)
			}
			slack := rapid.IntRange(-1, 1).Draw(t, "slack")
			sizeMax := max(len(in)+slack, 0)
			out, err := c.Decompress(codec, z, sizeMax)
			switch {
			case sizeMax < len(in):
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("cap %d for %d bytes: %v", sizeMax, len(in), err)
				}
			case err != nil || string(out) != string(in):
				t.Fatalf("round trip of %d bytes: %d bytes, %v", len(in), len(out), err)
			}
		}
	})
}
