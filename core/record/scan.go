package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/snappy"
)

// scanWindowBytes is the window through which validation reads a compressed batch's
// records. Keys, values and headers are skipped, not held, so the window need only hold
// a few varints; what it saves is an allocation of the whole decompressed payload per
// batch, and it stays small next to the codecs' own state in the Coder.
const scanWindowBytes = 4 << 10

// scanner reads the records of one batch field by field, holding at most a window of
// them. Over an uncompressed batch the window is the records themselves.
type scanner struct {
	r        io.Reader // what is not yet in the window; nil once at its end
	win      []byte    // unread bytes are win[pos:end]
	pos, end int
	// err is the stream's failure (codec damage, the cap): it wins over any record error,
	// as it would have stopped a decompression of the whole payload before any record
	// was looked at.
	err error
}

// fill tries to buffer n bytes, n at most len(win), and returns how many are buffered.
func (s *scanner) fill(n int) int {
	for s.end-s.pos < n && s.r != nil {
		s.end = copy(s.win, s.win[s.pos:s.end])
		s.pos = 0
		s.read()
	}
	return s.end - s.pos
}

func (s *scanner) read() {
	n, err := s.r.Read(s.win[s.end:])
	s.end += n
	if err != nil {
		if err != io.EOF {
			s.err = err
		}
		s.r = nil
	}
}

// skip consumes n bytes and reports whether there were that many.
func (s *scanner) skip(n int) bool {
	for {
		k := min(n, s.end-s.pos)
		s.pos += k
		if n -= k; n == 0 {
			return true
		}
		if s.r == nil {
			return false
		}
		s.pos, s.end = 0, 0
		s.read()
	}
}

// drain reads the stream to its end, so that a codec error or the cap past the first bad
// record is still reported.
func (s *scanner) drain() {
	for s.r != nil {
		s.pos, s.end = 0, 0
		s.read()
	}
}

// scanned is what validation needs of one record.
type scanned struct {
	timestampDelta int64
	offsetDelta    int32
	keyNull        bool
}

// fields reads the fields of one record within its length. It accepts exactly the
// records decodeRecord accepts: each check below mirrors one there, with left standing
// for the bytes of the record not yet read.
type fields struct {
	s    *scanner
	left int
	bad  bool
}

func (f *fields) uvarint(sizeMax int) uint64 {
	if f.bad {
		return 0
	}
	// binary.Uvarint looks at no more than MaxVarintLen64 bytes.
	s := f.s
	avail := s.end - s.pos
	if avail < binary.MaxVarintLen64 {
		avail = s.fill(binary.MaxVarintLen64)
	}
	v, n := binary.Uvarint(s.win[s.pos : s.pos+min(avail, f.left)])
	if n <= 0 || n > sizeMax {
		f.bad = true
		return 0
	}
	s.pos += n
	f.left -= n
	return v
}

func (f *fields) varint32() int32 {
	u := f.uvarint(binary.MaxVarintLen32)
	if u > math.MaxUint32 {
		f.bad = true
		return 0
	}
	return int32(zigzag(u))
}

func (f *fields) varint64() int64 { return zigzag(f.uvarint(binary.MaxVarintLen64)) }

func (f *fields) byte() {
	if f.bad || f.left < 1 || (f.s.pos == f.s.end && f.s.fill(1) < 1) {
		f.bad = true
		return
	}
	f.s.pos++
	f.left--
}

// take skips n bytes of the record.
func (f *fields) take(n int32) {
	if f.bad || n < 0 || int64(n) > int64(f.left) || !f.s.skip(int(n)) {
		f.bad = true
		return
	}
	f.left -= int(n)
}

// nullable skips a varint length and that many bytes, and reports whether the length was
// -1 (null).
func (f *fields) nullable() bool {
	n := f.varint32()
	if f.bad || n == -1 {
		return !f.bad
	}
	f.take(n)
	return false
}

// record reads the next record and reports whether it decoded.
func (s *scanner) record() (scanned, bool) {
	f := fields{s: s, left: math.MaxInt}
	length := f.varint32()
	if f.bad || length < recordBodySizeMin {
		return scanned{}, false
	}
	// A length past the end of the records shows as a field or a skip running out.
	f.left = int(length)
	var rec scanned
	f.byte() // attributes
	rec.timestampDelta = f.varint64()
	rec.offsetDelta = f.varint32()
	rec.keyNull = f.nullable()
	f.nullable() // value
	count := f.varint32()
	if f.bad || count < 0 || int64(count) > int64(f.left/headerSizeMin) {
		return scanned{}, false
	}
	for i := int32(0); i < count && !f.bad; i++ {
		f.take(f.varint32()) // a header key is never null
		f.nullable()
	}
	return rec, !f.bad && f.left == 0
}

// scanProduce checks the records of a producer batch as validateProduce's iteration
// over the decompressed records would, in the same order, reporting the first failure.
func scanProduce(s *scanner, h Header, rules ProduceRules) error {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: batch at offset %d: %s", ErrCorrupt, h.BaseOffset, fmt.Sprintf(format, args...))
	}
	var deltaPrev int32
	for n := int32(0); n < h.RecordCount; n++ {
		if s.fill(1) == 0 {
			return corrupt("%d records where the header counts %d", n, h.RecordCount)
		}
		rec, ok := s.record()
		if !ok {
			return corrupt("record %d does not decode", n)
		}
		if d := rec.offsetDelta; d < 0 || d > h.LastOffsetDelta || (n > 0 && d <= deltaPrev) {
			return corrupt("record %d: offset delta %d after %d, last offset delta %d", n, d, deltaPrev, h.LastOffsetDelta)
		}
		deltaPrev = rec.offsetDelta
		if rules.Keys && rec.keyNull {
			return fmt.Errorf("%w: record %d has no key, which a compacted topic needs", ErrInvalidRecord, n)
		}
		ts := h.FirstTimestamp + rec.timestampDelta
		if h.Attributes&AttrLogAppendTime != 0 {
			ts = h.MaxTimestamp
		}
		if rules.Timestamps && (ts < rules.TimestampMin || ts > rules.TimestampMax) {
			return fmt.Errorf("%w: record %d has timestamp %d, outside [%d, %d]", ErrInvalidTimestamp, n, ts, rules.TimestampMin, rules.TimestampMax)
		}
	}
	if s.fill(1) > 0 {
		return corrupt("bytes after the last of %d records", h.RecordCount)
	}
	return nil
}

// scanner opens the records of a batch, data being what follows its header, for
// scanProduce, through which c reads them until its next use. c may be nil for
// CodecNone.
func (c *Coder) scanner(codec Codec, data []byte, sizeMax int) (scanner, error) {
	switch {
	case codec == CodecNone:
		if len(data) > sizeMax {
			return scanner{}, tooLarge(CodecNone, sizeMax)
		}
		return scanner{win: data, end: len(data)}, nil
	case !codec.Known():
		return scanner{}, fmt.Errorf("%w: %s", ErrCodec, codec)
	case len(data) == 0:
		return scanner{}, corruptCodec(codec, errors.New("no compressed data"))
	}
	assertCap(sizeMax)
	var r io.Reader
	if codec == CodecSnappy {
		if !bytes.HasPrefix(data, xerialMagic[:]) {
			// A raw snappy block has no framing to stream by: it decodes whole.
			out, err := decompressSnappy(data, sizeMax)
			if err != nil {
				return scanner{}, err
			}
			return scanner{win: out, end: len(out)}, nil
		}
		chunks, _, err := xerialChunks(c.xerial.chunks[:0], data, sizeMax)
		if err != nil {
			return scanner{}, err
		}
		c.xerial.reset(chunks)
		r = &c.xerial
	} else {
		capped, _, err := c.decompressor(codec, data, sizeMax)
		if err != nil {
			return scanner{}, err
		}
		r = capped
	}
	if c.window == nil {
		c.window = make([]byte, scanWindowBytes)
	}
	return scanner{r: r, win: c.window}, nil
}

// endScan lets go of the caller's bytes.
func (c *Coder) endScan() {
	c.src.Reset(nil)
	c.capped = cappedReader{}
	// Chunks alias the caller's batch, in slots a failed split may have filled too.
	clear(c.xerial.chunks[:cap(c.xerial.chunks)])
	c.xerial.reset(c.xerial.chunks[:0])
}

// xerialBufKeepBytes is the largest decoded chunk buffer a Coder keeps between batches:
// snappy-java writes chunks of 32 KiB.
const xerialBufKeepBytes = 64 << 10

// xerialReader decodes an xerial snappy stream one chunk at a time. Its chunks passed
// xerialChunks, so their total is within the cap.
type xerialReader struct {
	chunks  [][]byte
	next    int    // the chunk to decode next
	buf     []byte // the chunk being read, decoded
	out     []byte // what is left of it to read
	decoded int
}

// reset readies x to read chunks, keeping its buffer if small.
func (x *xerialReader) reset(chunks [][]byte) {
	buf := x.buf
	if cap(buf) > xerialBufKeepBytes {
		buf = nil
	}
	*x = xerialReader{chunks: chunks, buf: buf}
}

func (x *xerialReader) Read(p []byte) (int, error) {
	for len(x.out) == 0 {
		if x.next == len(x.chunks) {
			return 0, io.EOF
		}
		chunk := x.chunks[x.next]
		x.next++
		n, _ := snappy.DecodedLen(chunk) // validated by xerialChunks
		if cap(x.buf) < n {
			x.buf = make([]byte, n)
		}
		out, err := snappy.DecodeStrict(x.buf[:n], chunk)
		if err != nil {
			x.next = len(x.chunks)
			return 0, corruptCodec(CodecSnappy, fmt.Errorf("xerial chunk at decoded byte %d: %w", x.decoded, err))
		}
		x.out = out
		x.decoded += n
	}
	n := copy(p, x.out)
	x.out = x.out[n:]
	return n, nil
}
