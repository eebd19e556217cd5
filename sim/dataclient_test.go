package sim

import (
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/record"
)

// A batch compressed by buildBatch is what record.Build would make: it passes the
// checks and decodes to its values, for every codec.
func TestBuildBatchCompresses(t *testing.T) {
	w := &World{}
	values := []string{"a", "bb", strings.Repeat("c", 300)}
	for _, codec := range []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		spec := record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: 1000, ProducerID: 7, ProducerEpoch: 1, BaseSequence: 3, Codec: codec}
		b, err := w.buildBatch(spec, values)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.Check(b)
		if err != nil || h.Codec() != codec || h.ProducerID != 7 || h.BaseSequence != 3 {
			t.Fatalf("%v: header %+v, %v", codec, h, err)
		}
		recs, next, err := w.decodeRecords(b, 0)
		if err != nil || next != 3 || len(recs) != 3 || recs[2].Value != values[2] {
			t.Fatalf("%v: %v %d %v", codec, recs, next, err)
		}
	}
}
