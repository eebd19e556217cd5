package storage

import "math/rand/v2"

// Hooks for the tests of package storage_test, which exist apart from this package's own
// tests because they also import disksim (which imports storage).

// MemFS is the small in-memory FS of storage's tests (see memFS).
type MemFS = memFS

// NewMemFS returns an empty MemFS.
func NewMemFS() *MemFS { return newMemFS() }

// Crash returns the image a crash of m would leave, drawn from rng.
func (m *memFS) Crash(rng *rand.Rand) *MemFS { return m.crash(rng) }

// FailNextSync makes the next file or directory sync of m fail with EIO.
func (m *memFS) FailNextSync() {
	m.syncFault = func(string) error {
		m.syncFault = nil
		return errEIO
	}
}

// MakeBatch builds a valid batch at base: records records of valueBytes bytes, the first
// stamped firstTS, the batch's max timestamp maxTS.
func MakeBatch(tb fatalfer, base int64, records, valueBytes int, firstTS, maxTS int64) []byte {
	tb.Helper()
	return makeBatch(tb, base, batchSpec{records: records, valueBytes: valueBytes, firstTS: firstTS, maxTS: maxTS})
}

// NextOffsetAfter returns the offset after the last batch in b.
func NextOffsetAfter(tb fatalfer, b []byte) int64 {
	tb.Helper()
	return nextOffsetAfter(tb, b)
}

// Keyed is a record of a compacted log in the tests.
type Keyed = keyed

// Compaction helpers (clean_test.go) for the crash test on disksim.
var (
	WriteKeys      = writeKeys
	ReadKeyed      = readKeyed
	CheckCompacted = checkCompacted
	TestPolicy     = testPolicy
)
