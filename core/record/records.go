package record

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// recordSizeMin is the smallest encoded record: a one-byte length followed by attributes,
// timestamp delta, offset delta, key length, value length and header count, one byte each.
const (
	recordSizeMin     = 7
	recordBodySizeMin = recordSizeMin - 1
	headerSizeMin     = 2 // key length and value length, one byte each
)

// DecodeRecords decodes every record of the batch at the start of b, decompressing the
// records if needed into at most sizeMax bytes. b should have passed Check: the CRC is
// not verified again, everything else is. Keys, values and header values alias b or the
// decompressed buffer, capped so that appending to one never overwrites another.
func DecodeRecords(b []byte, sizeMax int) ([]kmsg.Record, error) {
	it, err := NewIter(b, sizeMax)
	if err != nil {
		return nil, err
	}
	// Each record takes at least recordSizeMin bytes, so a lying count cannot make this
	// allocation larger than the data warrants.
	recs := make([]kmsg.Record, 0, min(int(it.h.RecordCount), len(it.data)/recordSizeMin))
	for it.Next() {
		r := *it.Record()
		if len(r.Headers) > 0 {
			r.Headers = append([]kmsg.Header(nil), r.Headers...)
		} else {
			r.Headers = nil
		}
		recs = append(recs, r)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}

// Iter walks the records of one batch, decoding one record at a time into storage it
// reuses, so walking allocates nothing per record beyond header key strings.
//
//	it, err := record.NewIter(batch, sizeMax)
//	for it.Next() {
//		use(it.Offset(), it.Timestamp(), it.Record())
//	}
//	err = it.Err()
//
// Iteration checks every record as it goes: varints and lengths, each record's length
// against what it holds, offset deltas rising strictly within the header's last offset
// delta. Err reports, once Next has returned false, a record count that disagrees with
// the header or bytes left after the last record.
type Iter struct {
	h       Header
	data    []byte // the records, decompressed
	pos     int    // start of the next record in data
	last    int    // start of the record Next decoded
	decoded int32  // records decoded so far
	rec     kmsg.Record
	hdrBuf  []kmsg.Header // reused by each record's Headers
	err     error
}

// NewIter prepares to walk the records of the batch at the start of b, decompressing them
// (into at most sizeMax bytes) when the batch is compressed. Like DecodeRecords, it expects
// a batch that passed Check and does not verify the CRC again.
func NewIter(b []byte, sizeMax int) (Iter, error) { return newIter(nil, b, sizeMax) }

// NewIter is the package's NewIter decompressing with c's reusable state.
func (c *Coder) NewIter(b []byte, sizeMax int) (Iter, error) { return newIter(c, b, sizeMax) }

// newIter decompresses with c, or with fresh state when c is nil.
func newIter(c *Coder, b []byte, sizeMax int) (Iter, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Iter{}, err
	}
	if len(b) < h.Size() {
		return Iter{}, ErrShort
	}
	if err := h.checkCounts(); err != nil {
		return Iter{}, err
	}
	data := b[HeaderSize:h.Size():h.Size()]
	// A batch emptied by compaction keeps its header and nothing else, whatever its codec.
	if h.RecordCount == 0 && len(data) == 0 {
		return Iter{h: h}, nil
	}
	if c == nil {
		data, err = Decompress(h.Codec(), data, sizeMax)
	} else {
		data, err = c.Decompress(h.Codec(), data, sizeMax)
	}
	if err != nil {
		return Iter{}, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
	}
	return Iter{h: h, data: data[:len(data):len(data)]}, nil
}

// Header is the header of the batch being walked.
func (it *Iter) Header() Header { return it.h }

// Next decodes the next record and reports whether there was one.
func (it *Iter) Next() bool {
	if it.err != nil {
		return false
	}
	if it.decoded == it.h.RecordCount {
		if rest := len(it.data) - it.pos; rest != 0 {
			it.err = it.corrupt("%d bytes after the last of %d records", rest, it.h.RecordCount)
		}
		return false
	}
	if it.pos == len(it.data) {
		it.err = it.corrupt("%d records where the header counts %d", it.decoded, it.h.RecordCount)
		return false
	}
	deltaPrev := it.rec.OffsetDelta
	n, err := decodeRecord(it.data[it.pos:], &it.rec, it.hdrBuf[:0])
	if cap(it.rec.Headers) > cap(it.hdrBuf) {
		it.hdrBuf = it.rec.Headers[:0]
	}
	if err != nil {
		it.err = it.corrupt("record %d: %v", it.decoded, err)
		return false
	}
	delta := it.rec.OffsetDelta
	if delta < 0 || delta > it.h.LastOffsetDelta || (it.decoded > 0 && delta <= deltaPrev) {
		it.err = it.corrupt("record %d: offset delta %d after %d, last offset delta %d",
			it.decoded, delta, deltaPrev, it.h.LastOffsetDelta)
		return false
	}
	it.last = it.pos
	it.pos += n
	it.decoded++
	return true
}

// RecordBytes is the encoding of the record Next decoded, length prefix included, as it
// sits in the batch (decompressed): a batch keeps some records by concatenating theirs.
func (it *Iter) RecordBytes() []byte { return it.data[it.last:it.pos] }

// Record is the record Next decoded. It and its Headers are overwritten by the next call
// to Next; keys and values alias the batch.
func (it *Iter) Record() *kmsg.Record { return &it.rec }

// Offset is the offset of the record Next decoded.
func (it *Iter) Offset() int64 { return it.h.BaseOffset + int64(it.rec.OffsetDelta) }

// Timestamp is the timestamp in ms of the record Next decoded. A batch stamped with the
// log append time carries it once, as its max timestamp, for all its records.
func (it *Iter) Timestamp() int64 {
	if it.h.Attributes&AttrLogAppendTime != 0 {
		return it.h.MaxTimestamp
	}
	return it.h.FirstTimestamp + it.rec.TimestampDelta64
}

// Err is the error that ended the iteration, nil when every record decoded and matched
// the header.
func (it *Iter) Err() error { return it.err }

func (it *Iter) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: batch at offset %d: %s", ErrCorrupt, it.h.BaseOffset, fmt.Sprintf(format, args...))
}

// CountRecords walks the batch at the start of b, checking every record, and returns how
// many it holds.
func CountRecords(b []byte, sizeMax int) (int, error) { return countRecords(nil, b, sizeMax) }

func countRecords(c *Coder, b []byte, sizeMax int) (int, error) {
	it, err := newIter(c, b, sizeMax)
	if err != nil {
		return 0, err
	}
	n := 0
	for it.Next() {
		n++
	}
	return n, it.Err()
}

// decodeRecord decodes the record at the start of b into rec, appending its headers to
// hdrBuf, and returns the bytes it took.
func decodeRecord(b []byte, rec *kmsg.Record, hdrBuf []kmsg.Header) (int, error) {
	d := decoder{b: b}
	length := d.varint32("length")
	if d.err != nil {
		return 0, d.err
	}
	if length < recordBodySizeMin || int64(length) > int64(len(d.b)-d.pos) {
		return 0, fmt.Errorf("length %d with %d bytes left", length, len(d.b)-d.pos)
	}
	end := d.pos + int(length)
	d.b = d.b[:end] // nothing below may read past the record's own bytes
	*rec = kmsg.Record{Length: length}
	rec.Attributes = int8(d.byte("attributes"))
	rec.TimestampDelta64 = d.varint64("timestamp delta")
	rec.TimestampDelta = int32(rec.TimestampDelta64)
	rec.OffsetDelta = d.varint32("offset delta")
	rec.Key = d.nullableBytes("key length", "key")
	rec.Value = d.nullableBytes("value length", "value")
	rec.Headers = d.headers(hdrBuf)
	if d.err != nil {
		return 0, d.err
	}
	if d.pos != end {
		return 0, fmt.Errorf("length %d but the fields take %d", length, int(length)-(end-d.pos))
	}
	return end, nil
}

// decoder reads the fields of one record. The first error sticks and turns every later
// read into a no-op, so field reads can follow each other without checks between them.
type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) fail(field string, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d: %s", field, d.pos, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.b) {
		d.fail(field, "no bytes left")
		return 0
	}
	d.pos++
	return d.b[d.pos-1]
}

// uvarint reads an unsigned base-128 varint of at most sizeMax bytes.
func (d *decoder) uvarint(field string, sizeMax int) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	switch {
	case n == 0:
		d.fail(field, "varint cut short")
		return 0
	case n < 0 || n > sizeMax:
		d.fail(field, "varint longer than %d bytes", sizeMax)
		return 0
	}
	d.pos += n
	return v
}

func zigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func (d *decoder) varint32(field string) int32 {
	u := d.uvarint(field, binary.MaxVarintLen32)
	if u > math.MaxUint32 {
		d.fail(field, "varint %d overflows 32 bits", u)
		return 0
	}
	return int32(zigzag(u))
}

func (d *decoder) varint64(field string) int64 {
	return zigzag(d.uvarint(field, binary.MaxVarintLen64))
}

// nullableBytes reads a varint length and that many bytes; length -1 is null.
func (d *decoder) nullableBytes(lengthField, field string) []byte {
	n := d.varint32(lengthField)
	if d.err != nil || n == -1 {
		return nil
	}
	return d.take(field, n)
}

// take returns the next n bytes, capped so appends cannot spill into what follows.
func (d *decoder) take(field string, n int32) []byte {
	if n < 0 || int64(n) > int64(len(d.b)-d.pos) {
		d.fail(field, "length %d with %d bytes left", n, len(d.b)-d.pos)
		return nil
	}
	end := d.pos + int(n)
	v := d.b[d.pos:end:end]
	d.pos = end
	return v
}

// headers reads the header count and the headers, appending them to dst.
func (d *decoder) headers(dst []kmsg.Header) []kmsg.Header {
	count := d.varint32("header count")
	if d.err != nil {
		return nil
	}
	if count < 0 || int64(count) > int64((len(d.b)-d.pos)/headerSizeMin) {
		d.fail("header count", "%d headers with %d bytes left", count, len(d.b)-d.pos)
		return nil
	}
	for i := int32(0); i < count && d.err == nil; i++ {
		// Kafka has no null header key; a null value is fine.
		keyLen := d.varint32("header key length")
		key := d.take("header key", keyLen)
		value := d.nullableBytes("header value length", "header value")
		dst = append(dst, kmsg.Header{Key: string(key), Value: value})
	}
	if count == 0 {
		return nil
	}
	return dst
}
