// Package record reads, checks and builds Kafka record batches (magic v2), the unit in
// which seedlog stores, replicates and serves data.
//
// A batch on the wire and on disk is:
//
//	offset  size  field
//	0       8     base offset (int64)
//	8       4     batch length: bytes after this field (int32)
//	12      4     partition leader epoch (int32)
//	16      1     magic (int8, always 2)
//	17      4     CRC-32C (Castagnoli) of bytes 21..end (uint32)
//	21      2     attributes (int16): bits 0-2 codec, bit 3 timestamp type,
//	              bit 4 transactional, bit 5 control
//	23      4     last offset delta (int32)
//	27      8     first timestamp (int64, ms)
//	35      8     max timestamp (int64, ms)
//	43      8     producer id (int64)
//	51      2     producer epoch (int16)
//	53      4     base sequence (int32)
//	57      4     record count (int32)
//	61      ...   records, compressed as a whole when the codec is not none
//
// The base offset and the partition leader epoch sit outside the CRC so a leader can
// stamp them without recomputing it.
//
// # Records
//
// After the header come RecordCount records (or, when the codec is not none, one
// compressed stream that decompresses to them). A varint is zigzag-encoded and
// little-endian base 128, as in protobuf: at most 5 bytes for 32-bit fields, 10 for 64-bit
// ones. Each record is:
//
//	length           varint   bytes of the record after this field
//	attributes       int8     unused, zero
//	timestamp delta  varlong  ms after the batch's first timestamp (may be negative)
//	offset delta     varint   offset after the batch's base offset
//	key length       varint   -1 for a null key, which differs from an empty one
//	key              bytes
//	value length     varint   -1 for a null value
//	value            bytes
//	header count     varint
//	headers          per header: key length (varint, never -1), key (UTF-8),
//	                 value length (varint, -1 for null), value
//
// Offset deltas rise strictly and stay within the header's last offset delta. A producer
// numbers its records 0, 1, 2, ...; compaction may later leave gaps, never reorder. A
// control batch (transaction marker) holds one record whose key is a version (int16) and a
// type (int16: 0 abort, 1 commit) and whose value is a version (int16) and the
// coordinator epoch (int32).
//
// # Compression framings
//
// gzip is RFC 1952 (several members may follow each other), lz4 is the LZ4 frame format
// (magic 0x184D2204, with a correct header checksum in magic v2), zstd is RFC 8878
// frames. Snappy comes in two shapes. Raw snappy is one snappy block: a uvarint of the
// decoded length, then the compressed data. snappy-java's stream, which the Java client
// writes and the other clients read, is "xerial" framed:
//
//	offset  size  field
//	0       8     magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//	8       4     version (int32, 1)
//	12      4     oldest compatible version (int32, 1)
//	16      ...   chunks, each a big-endian int32 length and one raw snappy block of
//	              that many bytes (32 KiB of input per chunk by default)
//
// seedlog writes raw snappy and reads both.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Sizes and positions of the batch header.
const (
	HeaderSize      = 61
	lengthFieldEnd  = 12 // base offset + batch length
	epochPos        = 12
	magicPos        = 16
	crcPos          = 17
	attributesPos   = 21
	lastDeltaPos    = 23
	firstTSPos      = 27
	maxTSPos        = 35
	producerIDPos   = 43
	producerEpPos   = 51
	baseSeqPos      = 53
	recordCountPos  = 57
	MagicV2         = 2
	BatchSizeMaxDef = 1 << 30 // no batch is ever larger than this; guards length fields
)

// Attribute bits.
const (
	AttrCodecMask     = 0x07
	AttrLogAppendTime = 0x08
	AttrTransactional = 0x10
	AttrControl       = 0x20
)

// Errors returned when bytes are not a valid batch. ErrShort means more bytes are needed
// (a fetch may end with a partial batch); every other error means the bytes are bad.
// ProduceErrorCode maps them to Kafka error codes.
var (
	ErrShort    = errors.New("record: short batch")
	ErrCorrupt  = errors.New("record: corrupt batch")
	ErrChecksum = errors.New("record: CRC mismatch")
	ErrMagic    = errors.New("record: unsupported magic")
	// ErrTooLarge: a batch, or the records it decompresses to, exceeds the caller's cap.
	ErrTooLarge = errors.New("record: too large")
	// ErrCodec: the attributes name a compression codec Kafka does not define.
	ErrCodec = errors.New("record: unsupported compression codec")
	// ErrInvalidRecord: well-formed bytes that a producer may not send (a control batch,
	// a count that disagrees with the offset span, several batches, ...).
	ErrInvalidRecord = errors.New("record: invalid record")
	// ErrInvalidTimestamp: a record's timestamp lies outside what the topic accepts.
	ErrInvalidTimestamp = errors.New("record: timestamp out of range")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded fixed part of a batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the total size of the batch in bytes.
func (h Header) Size() int { return lengthFieldEnd + int(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset after the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Codec is the compression codec named by the attributes.
func (h Header) Codec() Codec { return Codec(h.Attributes & AttrCodecMask) }

// IsControl reports whether the batch holds control records (transaction markers).
func (h Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (h Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// ParseHeader decodes the header at the start of b without checking the CRC. It checks
// that the length field is sane and, when b holds the whole batch, nothing else.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < lengthFieldEnd {
		return Header{}, ErrShort
	}
	var h Header
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[0:]))
	h.Length = int32(binary.BigEndian.Uint32(b[8:]))
	if h.Length < HeaderSize-lengthFieldEnd || h.Length > BatchSizeMaxDef {
		return Header{}, fmt.Errorf("%w: batch length %d", ErrCorrupt, h.Length)
	}
	if len(b) < HeaderSize {
		return Header{}, ErrShort
	}
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[epochPos:]))
	h.Magic = int8(b[magicPos])
	if h.Magic != MagicV2 {
		return Header{}, fmt.Errorf("%w: %d", ErrMagic, h.Magic)
	}
	h.CRC = binary.BigEndian.Uint32(b[crcPos:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[attributesPos:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[lastDeltaPos:]))
	h.FirstTimestamp = int64(binary.BigEndian.Uint64(b[firstTSPos:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[maxTSPos:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[producerIDPos:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[producerEpPos:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[baseSeqPos:]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[recordCountPos:]))
	return h, nil
}

// Check parses and validates the whole batch at the start of b: header fields, CRC and
// record count. It returns the header; b[:h.Size()] is the batch.
func Check(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if len(b) < h.Size() {
		return h, ErrShort
	}
	if err := h.checkCounts(); err != nil {
		return h, err
	}
	if sum := crc32.Checksum(b[attributesPos:h.Size()], castagnoli); sum != h.CRC {
		return h, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, h.CRC, sum)
	}
	return h, nil
}

// checkCounts checks the offsets and counts of the header against each other.
func (h Header) checkCounts() error {
	if h.LastOffsetDelta < 0 || h.RecordCount < 0 || h.BaseOffset < 0 {
		return fmt.Errorf("%w: base offset %d, last offset delta %d, record count %d",
			ErrCorrupt, h.BaseOffset, h.LastOffsetDelta, h.RecordCount)
	}
	// Compaction may remove records, so a batch can hold fewer records than its offset
	// span, never more.
	if int64(h.RecordCount) > int64(h.LastOffsetDelta)+1 {
		return fmt.Errorf("%w: %d records in an offset span of %d", ErrCorrupt, h.RecordCount, int64(h.LastOffsetDelta)+1)
	}
	// The last offset must be representable, or NextOffset would wrap.
	if h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
		return fmt.Errorf("%w: base offset %d plus last offset delta %d overflows", ErrCorrupt, h.BaseOffset, h.LastOffsetDelta)
	}
	return nil
}

// SetBaseOffset stamps the base offset of the batch at the start of b. The CRC does not
// cover it.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[0:], uint64(offset))
}

// SetPartitionLeaderEpoch stamps the leader epoch of the batch at the start of b. The CRC
// does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[epochPos:], uint32(epoch))
}

// SetLogAppendTime marks the batch at the start of b as timestamped by the log
// (message.timestamp.type=LogAppendTime) at ms: its max timestamp becomes ms, which
// readers take as every record's timestamp, and its CRC, which covers both, is
// recomputed. The records inside, compressed or not, stay as they are.
func SetLogAppendTime(b []byte, ms int64) {
	attrs := binary.BigEndian.Uint16(b[attributesPos:])
	binary.BigEndian.PutUint16(b[attributesPos:], attrs|AttrLogAppendTime)
	binary.BigEndian.PutUint64(b[maxTSPos:], uint64(ms))
	SetCRC(b)
}

// SetCRC recomputes and stores the CRC of the batch at the start of b, whose header must
// already hold its length.
func SetCRC(b []byte) {
	n := lengthFieldEnd + int(binary.BigEndian.Uint32(b[8:]))
	binary.BigEndian.PutUint32(b[crcPos:], crc32.Checksum(b[attributesPos:n], castagnoli))
}

// Codec names a compression codec as stored in the attributes.
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Split walks b as a sequence of whole batches and calls fn with each, checked. It stops at
// the first batch that is short (returning the number of bytes consumed and ErrShort) or
// invalid (returning that error).
func Split(b []byte, fn func(h Header, batch []byte) error) (int, error) {
	pos := 0
	for pos < len(b) {
		h, err := Check(b[pos:])
		if err != nil {
			return pos, err
		}
		if err := fn(h, b[pos:pos+h.Size()]); err != nil {
			return pos, err
		}
		pos += h.Size()
	}
	return pos, nil
}

// BatchesEnd returns the offset after the last whole batch of b, read from the batch
// headers alone (b was validated where it was read), and false when b holds none.
func BatchesEnd(b []byte) (int64, bool) {
	end, found := int64(0), false
	for len(b) > 0 {
		h, err := ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		end, found, b = h.NextOffset(), true, b[h.Size():]
	}
	return end, found
}
