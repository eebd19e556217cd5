package record

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Spec holds the batch-level fields of a batch to build.
type Spec struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32 // -1 from producers
	FirstTimestamp       int64 // ms; records carry deltas from it
	ProducerID           int64 // -1 when not idempotent
	ProducerEpoch        int16 // -1 when not idempotent
	BaseSequence         int32 // -1 when not idempotent
	Codec                Codec
	Transactional        bool
	Control              bool
}

// NoProducer fills the producer fields the way a non-idempotent producer does.
func (s Spec) NoProducer() Spec {
	s.ProducerID, s.ProducerEpoch, s.BaseSequence = -1, -1, -1
	return s
}

func (s Spec) check() error {
	if !s.Codec.Known() {
		return fmt.Errorf("%w: %s", ErrCodec, s.Codec)
	}
	if s.BaseOffset < 0 {
		return fmt.Errorf("record: negative base offset %d", s.BaseOffset)
	}
	return nil
}

func (s Spec) attributes() int16 {
	attrs := int16(s.Codec) & AttrCodecMask
	if s.Transactional {
		attrs |= AttrTransactional
	}
	if s.Control {
		attrs |= AttrControl
	}
	return attrs
}

// Build encodes recs as one batch, the way a producer does. Each record's OffsetDelta is
// set to its index and its Length is computed; Attributes, Key, Value (nil is null, which
// differs from empty) and Headers are taken as given. The timestamp delta is
// TimestampDelta64, or TimestampDelta when that is zero, as kmsg encodes it. recs is not
// modified.
func Build(spec Spec, recs []kmsg.Record) ([]byte, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("record: a batch needs at least one record")
	}
	if int64(len(recs)) > math.MaxInt32 {
		return nil, fmt.Errorf("record: %d records do not fit in a batch", len(recs))
	}
	deltaMax, err := timestampDeltaMax(spec.FirstTimestamp, recs)
	if err != nil {
		return nil, err
	}
	body := make([]byte, 0, bodySizeHint(recs))
	for i := range recs {
		body = appendRecord(body, &recs[i], int32(i))
	}
	if len(body) > BatchSizeMaxDef-(HeaderSize-lengthFieldEnd) {
		return nil, fmt.Errorf("%w: %d bytes of records", ErrTooLarge, len(body))
	}
	if spec.Codec != CodecNone {
		if body, err = Compress(spec.Codec, body); err != nil {
			return nil, err
		}
	}
	if len(body) > BatchSizeMaxDef-(HeaderSize-lengthFieldEnd) {
		return nil, fmt.Errorf("%w: %d bytes of records", ErrTooLarge, len(body))
	}
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	binary.BigEndian.PutUint64(b[0:], uint64(spec.BaseOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(HeaderSize-lengthFieldEnd+len(body)))
	binary.BigEndian.PutUint32(b[epochPos:], uint32(spec.PartitionLeaderEpoch))
	b[magicPos] = MagicV2
	binary.BigEndian.PutUint16(b[attributesPos:], uint16(spec.attributes()))
	binary.BigEndian.PutUint32(b[lastDeltaPos:], uint32(len(recs)-1))
	binary.BigEndian.PutUint64(b[firstTSPos:], uint64(spec.FirstTimestamp))
	binary.BigEndian.PutUint64(b[maxTSPos:], uint64(spec.FirstTimestamp+deltaMax))
	binary.BigEndian.PutUint64(b[producerIDPos:], uint64(spec.ProducerID))
	binary.BigEndian.PutUint16(b[producerEpPos:], uint16(spec.ProducerEpoch))
	binary.BigEndian.PutUint32(b[baseSeqPos:], uint32(spec.BaseSequence))
	binary.BigEndian.PutUint32(b[recordCountPos:], uint32(len(recs)))
	b = append(b, body...)
	SetCRC(b)
	return b, nil
}

// BuildValues builds a batch of records with null keys, no headers and the batch's first
// timestamp, one per value: what a simple producer sends.
func BuildValues(spec Spec, values ...[]byte) ([]byte, error) {
	recs := make([]kmsg.Record, len(values))
	for i, v := range values {
		recs[i].Value = v
	}
	return Build(spec, recs)
}

// timestampDeltaMax is the largest timestamp delta of recs (the max timestamp is the
// first plus that, even when every delta is negative), refusing timestamps that overflow.
func timestampDeltaMax(firstTimestamp int64, recs []kmsg.Record) (int64, error) {
	deltaMax := timestampDelta(&recs[0])
	for i := range recs {
		delta := timestampDelta(&recs[i])
		if sum := firstTimestamp + delta; (delta > 0 && sum < firstTimestamp) || (delta < 0 && sum > firstTimestamp) {
			return 0, fmt.Errorf("record: record %d: timestamp %d%+d overflows", i, firstTimestamp, delta)
		}
		deltaMax = max(deltaMax, delta)
	}
	return deltaMax, nil
}

func timestampDelta(r *kmsg.Record) int64 {
	if r.TimestampDelta64 != 0 {
		return r.TimestampDelta64
	}
	return int64(r.TimestampDelta)
}

// bodySizeHint is a close upper bound on the encoded size of recs, so encoding them
// allocates once.
func bodySizeHint(recs []kmsg.Record) int {
	n := 0
	for i := range recs {
		r := &recs[i]
		n += 2*binary.MaxVarintLen32 + 1 + binary.MaxVarintLen64 + 3*binary.MaxVarintLen32 + len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			n += 2*binary.MaxVarintLen32 + len(h.Key) + len(h.Value)
		}
	}
	return n
}

// appendRecord encodes r with the given offset delta. The length prefix is computed from
// the field sizes first, so the record is written in one pass.
func appendRecord(dst []byte, r *kmsg.Record, offsetDelta int32) []byte {
	tsDelta := timestampDelta(r)
	length := 1 + varintSize(tsDelta) + varintSize(int64(offsetDelta)) +
		nullableSize(r.Key) + nullableSize(r.Value) + varintSize(int64(len(r.Headers)))
	for _, h := range r.Headers {
		length += varintSize(int64(len(h.Key))) + len(h.Key) + nullableSize(h.Value)
	}
	dst = binary.AppendVarint(dst, int64(length))
	dst = append(dst, byte(r.Attributes))
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendNullable(dst, r.Key)
	dst = appendNullable(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullable(dst, h.Value)
	}
	return dst
}

func appendNullable(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}

func nullableSize(v []byte) int {
	if v == nil {
		return varintSize(-1)
	}
	return varintSize(int64(len(v))) + len(v)
}

// varintSize is the encoded size of a zigzag varint.
func varintSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// Retained appends to dst the batch orig with its records replaced by records (count of
// them, already compressed with orig's codec; none for an empty batch): what compaction
// leaves of a batch. Every header field but the length, the record count and the CRC
// stays: the base offset and the last offset delta keep the batch's offsets, the
// producer fields keep its producer's sequence.
func Retained(dst, orig []byte, records []byte, count int32) []byte {
	start := len(dst)
	dst = append(dst, orig[:HeaderSize]...)
	dst = append(dst, records...)
	b := dst[start:]
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-lengthFieldEnd))
	binary.BigEndian.PutUint32(b[recordCountPos:], uint32(count))
	SetCRC(b)
	return dst
}

// AppendEmpty appends to dst a batch without records covering the offsets [base, next),
// which compaction emptied: it keeps a log's offsets dense where whole batches went.
// next-base-1 must fit the last offset delta (an int32). It carries no producer, and
// maxTimestamp as both timestamps, so that a segment's newest timestamp stays what it was,
// stamped by the log when logAppendTime is set, as the batches it replaces were.
func AppendEmpty(dst []byte, base, next int64, epoch int32, maxTimestamp int64, logAppendTime bool) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	b := dst[start:]
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], HeaderSize-lengthFieldEnd)
	binary.BigEndian.PutUint32(b[epochPos:], uint32(epoch))
	b[magicPos] = MagicV2
	if logAppendTime {
		binary.BigEndian.PutUint16(b[attributesPos:], AttrLogAppendTime)
	}
	binary.BigEndian.PutUint32(b[lastDeltaPos:], uint32(next-base-1))
	binary.BigEndian.PutUint64(b[firstTSPos:], uint64(maxTimestamp))
	binary.BigEndian.PutUint64(b[maxTSPos:], uint64(maxTimestamp))
	binary.BigEndian.PutUint64(b[producerIDPos:], math.MaxUint64) // -1
	binary.BigEndian.PutUint16(b[producerEpPos:], math.MaxUint16)
	binary.BigEndian.PutUint32(b[baseSeqPos:], math.MaxUint32)
	SetCRC(b)
	return dst
}

// TrimEmpty makes the batch at the start of b, which must be one AppendEmpty made,
// start at from instead, within its offsets: a reader of an offset inside a run of
// compacted offsets gets a batch that begins where it asked (a follower appends
// batches only at its log end).
func TrimEmpty(b []byte, from int64) {
	next := int64(binary.BigEndian.Uint64(b[0:])) + int64(binary.BigEndian.Uint32(b[lastDeltaPos:])) + 1
	binary.BigEndian.PutUint64(b[0:], uint64(from))
	binary.BigEndian.PutUint32(b[lastDeltaPos:], uint32(next-from-1))
	SetCRC(b)
}

// IsEmptyRun reports whether h is a batch AppendEmpty made: no records, no producer,
// nothing but its header.
func (h Header) IsEmptyRun() bool {
	return h.RecordCount == 0 && h.ProducerID < 0 && h.Size() == HeaderSize
}

// Recompress returns a new batch holding batch's records compressed with codec (none:
// stored plain) and every other field as it was: a topic's compression.type applied to
// what a producer sent. sizeMax bounds the records once decompressed.
func (c *Coder) Recompress(batch []byte, codec Codec, sizeMax int) ([]byte, error) {
	it, err := c.NewIter(batch, sizeMax)
	if err != nil {
		return nil, err
	}
	body, err := c.Compress(codec, it.data)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, HeaderSize+len(body))
	out = append(out, batch[:HeaderSize]...)
	attrs := binary.BigEndian.Uint16(out[attributesPos:])&^AttrCodecMask | uint16(codec)
	binary.BigEndian.PutUint16(out[attributesPos:], attrs)
	out = append(out, body...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-lengthFieldEnd))
	SetCRC(out)
	return out, nil
}

// ParseCodec reads a codec as a topic's compression.type names it: "none" or
// "uncompressed", "gzip", "snappy", "lz4", "zstd".
func ParseCodec(name string) (Codec, bool) {
	switch name {
	case "none", "uncompressed":
		return CodecNone, true
	case "gzip":
		return CodecGzip, true
	case "snappy":
		return CodecSnappy, true
	case "lz4":
		return CodecLZ4, true
	case "zstd":
		return CodecZstd, true
	}
	return 0, false
}
