package compact

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// OffsetMap maps keys to the latest offset seen for each, in a fixed budget of memory
// (log.cleaner.dedupe.buffer.size): an open-addressing table of 24-byte slots, each a
// 128-bit digest of a key and an offset. Two keys with one digest would let a record
// shadow another key's; with 128 bits that takes about 2^64 keys.
type OffsetMap struct {
	slots []byte
	n     int // slots in use
	limit int // slots that may be used: a load factor keeps probes short
	// slotsMax is the budget in slots: the table starts small and doubles up to it, so
	// that a log with few keys neither clears nor misses the cache over the whole budget.
	slotsMax int
}

const (
	slotBytes   = 24
	digestBytes = 16
	// loadFactor is Kafka's log.cleaner.io.buffer.load.factor default.
	loadFactor = 0.9
)

// offsetMapSlotsFirst is the table's size before it grows.
const offsetMapSlotsFirst = 1 << 14

// NewOffsetMap returns a map using at most budgetBytes (at least two slots' worth).
func NewOffsetMap(budgetBytes int64) *OffsetMap {
	m := &OffsetMap{slotsMax: int(max(budgetBytes/slotBytes, 2))}
	m.resize(min(m.slotsMax, offsetMapSlotsFirst))
	return m
}

func (m *OffsetMap) resize(slots int) {
	m.slots = make([]byte, slots*slotBytes)
	m.limit = max(int(float64(slots)*loadFactor), 1)
}

// Full reports whether the map has no room for another key.
func (m *OffsetMap) Full() bool { return m.n >= m.limit && len(m.slots)/slotBytes >= m.slotsMax }

// grow doubles the table, up to the budget, and puts the keys back.
func (m *OffsetMap) grow() {
	old := m.slots
	m.resize(min(2*len(old)/slotBytes, m.slotsMax))
	for pos := 0; pos < len(old); pos += slotBytes {
		if binary.BigEndian.Uint64(old[pos+digestBytes:]) == 0 {
			continue
		}
		d := [digestBytes]byte(old[pos : pos+digestBytes])
		i, _ := m.find(&d)
		copy(m.slots[i:i+slotBytes], old[pos:pos+slotBytes])
	}
}

// Len is the number of keys mapped.
func (m *OffsetMap) Len() int { return m.n }

// SizeBytes is the memory the map holds now (it grows up to its budget).
func (m *OffsetMap) SizeBytes() int { return len(m.slots) }

// Clear forgets every key and keeps the memory.
func (m *OffsetMap) Clear() {
	clear(m.slots)
	m.n = 0
}

// Put maps key to offset, which must be larger than any offset put for the key before
// (offsets are put in log order). It reports false, changing nothing, when the key is
// new and the map is Full.
func (m *OffsetMap) Put(key []byte, offset int64) bool {
	d := digest(key)
	i, found := m.find(&d)
	if !found {
		if m.Full() {
			return false
		}
		if m.n >= m.limit {
			m.grow()
			i, _ = m.find(&d)
		}
		copy(m.slots[i:], d[:])
		m.n++
	}
	// Offsets are stored plus one so that an all-zero slot is free.
	binary.BigEndian.PutUint64(m.slots[i+digestBytes:], uint64(offset)+1)
	return true
}

// Get returns the latest offset put for key.
func (m *OffsetMap) Get(key []byte) (int64, bool) {
	d := digest(key)
	i, found := m.find(&d)
	if !found {
		return -1, false
	}
	return int64(binary.BigEndian.Uint64(m.slots[i+digestBytes:])) - 1, true
}

// find returns the byte position of d's slot, or of the free slot where it would go.
func (m *OffsetMap) find(d *[digestBytes]byte) (int, bool) {
	count := len(m.slots) / slotBytes
	i := int(binary.BigEndian.Uint64(d[:8]) % uint64(count))
	for {
		pos := i * slotBytes
		if binary.BigEndian.Uint64(m.slots[pos+digestBytes:]) == 0 {
			return pos, false
		}
		if [digestBytes]byte(m.slots[pos:pos+digestBytes]) == *d {
			return pos, true
		}
		if i++; i == count {
			i = 0
		}
	}
}

// digest is 128 bits of two unrelated hashes of key.
func digest(key []byte) [digestBytes]byte {
	var d [digestBytes]byte
	binary.BigEndian.PutUint64(d[:8], xxhash.Sum64(key))
	// FNV-1a, 64 bits.
	h := uint64(14695981039346656037)
	for _, c := range key {
		h = (h ^ uint64(c)) * 1099511628211
	}
	binary.BigEndian.PutUint64(d[8:], h)
	return d
}
