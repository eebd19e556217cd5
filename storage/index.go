package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Entry sizes of the two index files (layouts in doc.go).
const (
	offsetIndexEntryBytes = 8  // relative offset uint32, position uint32
	timeIndexEntryBytes   = 12 // timestamp int64, relative offset uint32
)

// noTimestamp is Kafka's "no timestamp" value. A segment's running maximum timestamp
// starts here, so batches stamped below it never produce time index entries.
const noTimestamp = -1

// offsetIndex is a segment's sparse offset index. It lives in memory in its file layout
// (so writing it out is a single WriteAt) and the file is a copy that spares recovery a
// scan. Entries map the relative base offset of a batch to its byte position; both
// strictly increase.
type offsetIndex struct {
	buf          []byte
	flushedBytes int // length of the prefix of buf that the file holds
}

func (x *offsetIndex) len() int { return len(x.buf) / offsetIndexEntryBytes }

func (x *offsetIndex) entry(i int) (rel uint32, pos uint32) {
	e := x.buf[i*offsetIndexEntryBytes:]
	return binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
}

func (x *offsetIndex) append(rel, pos uint32) {
	x.buf = binary.BigEndian.AppendUint32(x.buf, rel)
	x.buf = binary.BigEndian.AppendUint32(x.buf, pos)
}

// lastPos returns the position of the last entry, or -1 when there is none.
func (x *offsetIndex) lastPos() int64 {
	if x.len() == 0 {
		return -1
	}
	_, pos := x.entry(x.len() - 1)
	return int64(pos)
}

// floor returns the last entry whose relative offset is <= rel, or (0, 0) when there is
// none (the segment's first batch starts at position 0).
func (x *offsetIndex) floor(rel int64) (entryRel int64, pos int64) {
	lo, hi := 0, x.len() // the answer is the last i < hi with entry(i).rel <= rel
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r, _ := x.entry(mid); int64(r) <= rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, 0
	}
	r, p := x.entry(lo - 1)
	return int64(r), int64(p)
}

// ceilPos returns the position of the first entry whose relative offset is >= rel, or
// def when there is none. Every batch at or after that position has a base offset >= rel.
func (x *offsetIndex) ceilPos(rel int64, def int64) int64 {
	lo, hi := 0, x.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r, _ := x.entry(mid); int64(r) < rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == x.len() {
		return def
	}
	_, pos := x.entry(lo)
	return int64(pos)
}

// truncateAtPos drops the entries at or after byte position pos.
func (x *offsetIndex) truncateAtPos(pos int64) {
	n := x.len()
	for n > 0 {
		if _, p := x.entry(n - 1); int64(p) < pos {
			break
		}
		n--
	}
	x.buf = x.buf[:n*offsetIndexEntryBytes]
}

// checkOffsetIndex validates index bytes read from disk against the segment they belong
// to: whole entries, strictly increasing offsets and positions, the first entry at the
// start of the segment, every entry inside it.
func checkOffsetIndex(buf []byte, segmentBytes int64, relOffsetEnd int64) error {
	if len(buf)%offsetIndexEntryBytes != 0 {
		return fmt.Errorf("offset index size %d is not a multiple of %d", len(buf), offsetIndexEntryBytes)
	}
	x := offsetIndex{buf: buf}
	if x.len() == 0 {
		if segmentBytes > 0 {
			return fmt.Errorf("offset index is empty for a segment of %d bytes", segmentBytes)
		}
		return nil
	}
	for i := range x.len() {
		rel, pos := x.entry(i)
		if i == 0 && (rel != 0 || pos != 0) {
			return fmt.Errorf("offset index entry 0 is (%d, %d), want (0, 0)", rel, pos)
		}
		if int64(rel) >= relOffsetEnd || int64(pos) >= segmentBytes {
			return fmt.Errorf("offset index entry %d (%d, %d) is outside the segment", i, rel, pos)
		}
		if i > 0 {
			prevRel, prevPos := x.entry(i - 1)
			if rel <= prevRel || pos <= prevPos {
				return fmt.Errorf("offset index entry %d (%d, %d) does not follow (%d, %d)", i, rel, pos, prevRel, prevPos)
			}
		}
	}
	return nil
}

// timeIndex is a segment's time index, in memory in its file layout like offsetIndex.
// Entry (ts, rel) says that the largest max timestamp among the segment's batches up to
// and including the one at relative offset rel is ts. Both fields strictly increase.
type timeIndex struct {
	buf          []byte
	flushedBytes int
}

func (x *timeIndex) len() int { return len(x.buf) / timeIndexEntryBytes }

func (x *timeIndex) entry(i int) (ts int64, rel uint32) {
	e := x.buf[i*timeIndexEntryBytes:]
	return int64(binary.BigEndian.Uint64(e)), binary.BigEndian.Uint32(e[8:])
}

func (x *timeIndex) append(ts int64, rel uint32) {
	x.buf = binary.BigEndian.AppendUint64(x.buf, uint64(ts))
	x.buf = binary.BigEndian.AppendUint32(x.buf, rel)
}

// lastTimestamp returns the timestamp of the last entry, or noTimestamp.
func (x *timeIndex) lastTimestamp() int64 {
	if x.len() == 0 {
		return noTimestamp
	}
	ts, _ := x.entry(x.len() - 1)
	return ts
}

// lastBelow returns the relative offset of the last entry whose timestamp is < ts: every
// batch up to and including that one has a max timestamp < ts.
func (x *timeIndex) lastBelow(ts int64) (rel int64, ok bool) {
	lo, hi := 0, x.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if t, _ := x.entry(mid); t < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, false
	}
	_, r := x.entry(lo - 1)
	return int64(r), true
}

// truncateAtRel drops the entries for batches at or after relative offset rel.
func (x *timeIndex) truncateAtRel(rel int64) {
	n := x.len()
	for n > 0 {
		if _, r := x.entry(n - 1); int64(r) < rel {
			break
		}
		n--
	}
	x.buf = x.buf[:n*timeIndexEntryBytes]
}

// checkTimeIndex validates time index bytes read from disk: whole entries, strictly
// increasing timestamps and offsets, offsets inside the segment, no timestamp below the
// first one an entry can carry.
func checkTimeIndex(buf []byte, relOffsetEnd int64) error {
	if len(buf)%timeIndexEntryBytes != 0 {
		return fmt.Errorf("time index size %d is not a multiple of %d", len(buf), timeIndexEntryBytes)
	}
	x := timeIndex{buf: buf}
	prevTS, prevRel := int64(noTimestamp), int64(-1)
	for i := range x.len() {
		ts, rel := x.entry(i)
		if ts <= prevTS || int64(rel) <= prevRel || int64(rel) >= relOffsetEnd {
			return fmt.Errorf("time index entry %d (%d, %d) does not follow (%d, %d) or lies outside the segment",
				i, ts, rel, prevTS, prevRel)
		}
		prevTS, prevRel = ts, int64(rel)
	}
	return nil
}

// relOffsetMax is the largest offset distance from a segment's base that the uint32
// relative offsets of its indexes can hold; a segment rolls before reaching it.
const relOffsetMax = math.MaxUint32

// segmentPosMax bounds a batch's byte position inside a segment, for the same reason.
const segmentPosMax = math.MaxUint32

// maxUpTo returns the running maximum the index knows up to and including the batch at
// relative offset rel, an offset index entry: the timestamp of the last entry at or
// before it (entries are added at offset index entries whenever the maximum grew), or
// noTimestamp.
func (x *timeIndex) maxUpTo(rel int64) int64 {
	lo, hi := 0, x.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if _, r := x.entry(mid); int64(r) <= rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return noTimestamp
	}
	ts, _ := x.entry(lo - 1)
	return ts
}
