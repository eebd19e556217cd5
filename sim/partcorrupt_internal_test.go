package sim

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testSegment builds a segment file based at base from batches of the given record
// counts, each record value valueBytes long, and returns its bytes and true layout.
func testSegment(t *testing.T, base int64, counts []int, valueBytes int) ([]byte, []batchSpan) {
	t.Helper()
	var data []byte
	var layout []batchSpan
	next := base
	for i, n := range counts {
		recs := make([]kmsg.Record, n)
		for j := range recs {
			recs[j] = kmsg.Record{Value: bytes.Repeat([]byte{byte(i + j)}, valueBytes+i%3*7)}
		}
		b, err := record.Build(record.Spec{BaseOffset: next, FirstTimestamp: 1000 + int64(i)}.NoProducer(), recs)
		if err != nil {
			t.Fatal(err)
		}
		layout = append(layout, batchSpan{pos: int64(len(data)), size: int64(len(b)), base: next, next: next + int64(n)})
		data = append(data, b...)
		next += int64(n)
	}
	return data, layout
}

// applyStep changes data as the simulated disk would: a lost stretch reads zeros,
// flipped bytes each have one bit flipped.
func applyStep(data []byte, st Step, rng *rand.Rand) {
	for p := st.Offset; p < min(st.Offset+int64(st.Bytes), int64(len(data))); p++ {
		if st.Lose {
			data[p] = 0
		} else {
			data[p] ^= 1 << rng.IntN(8)
		}
	}
}

// The case of seed 2865: bits flipped in the header of a batch in the middle of a
// segment, then the segment's first sector lost. The walk used to stop at the flipped
// header, so the sector's loss was recorded for the batches before it only, and a batch
// after it that the sector also covered (offset 102) was fenced with no fault on record.
func TestDamagedBatchesSeeBeyondEarlierDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data, layout := testSegment(t, 95, []int{2, 2, 1, 2, 1, 2, 1, 2, 2, 1, 2}, 12)
	const base = 95
	end := layout[len(layout)-1].next
	if got := segmentBatches(data, base, end); !slices.Equal(got, layout) {
		t.Fatalf("intact walk %v, want %v", got, layout)
	}
	if layout[4].pos >= 512 || layout[len(layout)-1].pos+layout[len(layout)-1].size <= 512 {
		t.Fatalf("the first sector must end after batch 4 and before the segment: %v", layout)
	}
	// A negative last offset delta (byte 23 of the header) stops a header walk.
	flipped := layout[3]
	flip := Step{Kind: StepCorrupt, Offset: flipped.pos + 23, Bytes: 1}
	spans := segmentBatches(data, base, end)
	hit, ok := damagedBatches(data, spans, flip)
	if !ok || len(hit) != 1 || hit[0].base != flipped.base {
		t.Fatalf("flip hit %v, %v", hit, ok)
	}
	data[flip.Offset] |= 0x80
	spans = segmentBatches(data, base, end)
	if want := (batchSpan{pos: flipped.pos, size: flipped.size, base: flipped.base, next: flipped.next, damaged: true}); !slices.Contains(spans, want) {
		t.Fatalf("walk after the flip %v, want the stretch %v", spans, want)
	}
	if !slices.Equal(spans[4:], layout[4:]) || !slices.Equal(spans[:3], layout[:3]) {
		t.Fatalf("walk after the flip %v lost the intact batches of %v", spans, layout)
	}

	lose := Step{Kind: StepCorrupt, Offset: 0, Bytes: 512, Lose: true}
	hit, ok = damagedBatches(data, spans, lose)
	if !ok {
		t.Fatal("the lost sector damages nothing")
	}
	d := partDamage{}
	for _, b := range hit {
		d.add(5, "d1-2", offRange{b.base, b.next})
	}
	for _, b := range layout {
		in := b.pos < 512
		if got := d.overlaps(5, "d1-2", offRange{b.base, b.next}); got != in {
			t.Fatalf("batch %v at byte %d: recorded damaged %v, want %v (hit %v)", b.base, b.pos, got, in, hit)
		}
	}
	applyStep(data, lose, rng)
	// The walk finds the first intact batch after the lost sector.
	spans = segmentBatches(data, base, end)
	first := slices.IndexFunc(layout, func(b batchSpan) bool { return b.pos >= 512 })
	if len(spans) == 0 || !spans[0].damaged || spans[0].base != base || spans[0].next != layout[first].base || !slices.Equal(spans[1:], layout[first:]) {
		t.Fatalf("walk after the loss %v, want one stretch up to %v", spans, layout[first])
	}
}

// Whatever faults befall a segment one after another, every batch whose bytes one of
// them changed where a check sees it is on record, and every range on record holds a
// batch a fault changed.
func TestDamagedBatchesRecordsEveryChangedBatch(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		counts := make([]int, 6+rng.IntN(20))
		for i := range counts {
			counts[i] = 1 + rng.IntN(3)
		}
		const base = 40
		data, layout := testSegment(t, base, counts, 5+rng.IntN(40))
		ever := make([]bool, len(data)) // bytes a step changed
		end := layout[len(layout)-1].next
		var recorded []offRange
		for range 1 + rng.IntN(4) {
			spans := segmentBatches(data, base, end)
			var st Step
			if rng.IntN(3) == 0 {
				sector := rng.Int64N(int64(len(data))) / 512 * 512
				st = Step{Kind: StepCorrupt, Offset: sector, Bytes: 512, Lose: true}
			} else {
				b := batchSpan{size: int64(len(data))}
				if len(spans) > 0 {
					b = spans[rng.IntN(len(spans))]
				}
				rel := rng.Int64N(b.size)
				st = Step{Kind: StepCorrupt, Offset: b.pos + rel, Bytes: 1 + rng.IntN(int(min(8, b.size-rel)))}
			}
			hit, ok := damagedBatches(data, spans, st)
			if !ok {
				continue // the simulator refuses such a step
			}
			before := slices.Clone(data)
			applyStep(data, st, rng)
			for p := range data {
				ever[p] = ever[p] || data[p] != before[p]
			}
			for _, b := range hit {
				recorded = append(recorded, offRange{b.base, b.next})
			}
		}
		covered := func(r offRange) bool {
			return slices.ContainsFunc(recorded, func(x offRange) bool { return x.from <= r.from && r.to <= x.to })
		}
		changed := func(b batchSpan) bool {
			for p := b.pos; p < b.pos+b.size; p++ {
				if rel := p - b.pos; ever[p] && (rel < 12 || rel >= 16) {
					return true
				}
			}
			return false
		}
		for _, b := range layout {
			if changed(b) && !covered(offRange{b.base, b.next}) {
				t.Fatalf("seed %d: batch [%d,%d) at byte %d changed but the record %v misses it", seed, b.base, b.next, b.pos, recorded)
			}
		}
		for _, r := range recorded {
			if !slices.ContainsFunc(layout, func(b batchSpan) bool { return changed(b) && b.base < r.to && r.from < b.next }) {
				t.Fatalf("seed %d: %v on record holds no changed batch", seed, r)
			}
		}
	}
}
