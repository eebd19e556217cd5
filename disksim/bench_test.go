package disksim

import (
	"testing"
)

// BenchmarkAppendSync appends small records and syncs every tenth, as a log does. The
// cost per record must not grow with the file.
func BenchmarkAppendSync(b *testing.B) {
	f := newFS(b, 1, DefaultConfig())
	h := create(b, f, "log")
	rec := pattern(1, 200)
	var off int64
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for i := range b.N {
		writeAt(b, h, rec, off)
		off += int64(len(rec))
		if i%10 == 9 {
			must(b, h.Sync())
		}
	}
}

// BenchmarkCrash measures a crash of a disk with a few hundred unsynced blocks.
func BenchmarkCrash(b *testing.B) {
	f := newFS(b, 1, DefaultConfig())
	workload(b, f, seeded(2), 500)
	b.ReportAllocs()
	for i := range b.N {
		f.Clone().Crash(seeded(uint64(i)))
	}
}
