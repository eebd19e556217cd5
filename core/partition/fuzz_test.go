package partition

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodeMessage: decoding never panics, and what decodes survives an encode and a
// decode unchanged. (Byte equality is too strong: the length varints of package enc may
// arrive in a longer form than the one it writes.)
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Encode(m))
	}
	f.Add([]byte{1})
	f.Add([]byte{2, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		again := Encode(m)
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("%s does not decode after re-encoding: %v", m.Kind(), err)
		}
		if !reflect.DeepEqual(m, m2) && !bytes.Equal(again, Encode(m2)) {
			t.Fatalf("%s changes across a round trip:\n%+v\n%+v", m.Kind(), m, m2)
		}
	})
}

// FuzzDecodeSnapshot: a producer-state snapshot read from disk never panics the decoder,
// and what decodes is consistent.
func FuzzDecodeSnapshot(f *testing.F) {
	p := newProducerState(10)
	p.apply(idemHeader(1, 0, 0, 3), 0)
	p.apply(idemHeader(2, 1, 5, 1), 3)
	f.Add(p.encodeSnapshot(4, 0))
	empty := newProducerState(10)
	f.Add(empty.encodeSnapshot(0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, off, err := decodeSnapshot(b, 10)
		if err != nil {
			return
		}
		if len(q.m) > 10 {
			t.Fatalf("%d producers beyond the bound", len(q.m))
		}
		for _, e := range q.m {
			if e.n == 0 || e.newest().last >= off {
				t.Fatalf("producer %d inconsistent with offset %d", e.id, off)
			}
		}
	})
}
