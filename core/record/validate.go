package record

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ProduceErrorCode maps an error from ValidateProduce (or any function here) to the Kafka
// error code a Produce response carries for the partition:
//
//	nil                                  NONE (0)
//	ErrTooLarge                          MESSAGE_TOO_LARGE (10)
//	ErrCodec                             UNSUPPORTED_COMPRESSION_TYPE (76)
//	ErrInvalidRecord                     INVALID_RECORD (87)
//	ErrInvalidTimestamp                  INVALID_TIMESTAMP (32)
//	ErrCorrupt, ErrChecksum, ErrShort,
//	ErrMagic                             CORRUPT_MESSAGE (2)
//	anything else                        UNKNOWN_SERVER_ERROR (-1)
//
// The first match in that order wins. Produce v3 to v6 cannot carry zstd; refusing it
// there with UNSUPPORTED_COMPRESSION_TYPE depends on the request version and is the
// handler's job.
func ProduceErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, ErrCodec):
		return kerr.UnsupportedCompressionType.Code
	case errors.Is(err, ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, ErrInvalidTimestamp):
		return kerr.InvalidTimestamp.Code
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrChecksum), errors.Is(err, ErrShort), errors.Is(err, ErrMagic):
		return kerr.CorruptMessage.Code
	}
	return kerr.UnknownServerError.Code
}

// ValidateProduce checks the records a client sent for one partition before a leader
// appends them. Since Produce v3 they must be exactly one whole batch of magic 2, and
// seedlog takes that batch as it is, so everything the log relies on is checked here: the
// CRC; that the batch holds RecordCount == LastOffsetDelta+1 records with offset deltas
// 0, 1, 2, ... (so offsets stay dense); that it is not a control batch; that producer
// fields agree; and that every record decodes. sizeMax bounds both the batch's own size
// (Kafka's max.message.bytes) and the size of its records once decompressed, so that a
// small compressed batch cannot make the leader allocate without bound.
//
// Errors wrap the sentinels ProduceErrorCode maps to Kafka codes.
func ValidateProduce(b []byte, sizeMax int) (Header, error) {
	return validateProduce(nil, b, sizeMax, ProduceRules{})
}

// ValidateProduce is the package's ValidateProduce decompressing with c's reusable state.
func (c *Coder) ValidateProduce(b []byte, sizeMax int) (Header, error) {
	return validateProduce(c, b, sizeMax, ProduceRules{})
}

// ProduceRules are what a topic asks of the records a producer sends beyond their
// shape. The zero value asks nothing.
type ProduceRules struct {
	// Keys: every record must have a key (a compacted topic, whose cleaner keeps records
	// by key; INVALID_RECORD otherwise, as in Kafka).
	Keys bool
	// Timestamps: every record's timestamp must lie in [TimestampMin, TimestampMax]
	// (message.timestamp.before.max.ms and after.max.ms around the leader's clock), else
	// ErrInvalidTimestamp.
	Timestamps                 bool
	TimestampMin, TimestampMax int64
}

// ValidateProduceWith is ValidateProduce that also applies rules.
func (c *Coder) ValidateProduceWith(b []byte, sizeMax int, rules ProduceRules) (Header, error) {
	return validateProduce(c, b, sizeMax, rules)
}

// validateProduce reads the records through a scanner: a compressed batch streams through
// its decompressor and a small window, never held whole (a raw snappy block excepted,
// which has no framing to stream by). The outcome is the one decompressing everything
// first and then iterating would give: a codec error or the cap wins over a bad record
// even when it comes later in the stream, so after a bad record the stream is read on
// to its end.
func validateProduce(c *Coder, b []byte, sizeMax int, rules ProduceRules) (Header, error) {
	h, err := checkProduceBatch(b, sizeMax)
	if err != nil {
		return Header{}, err
	}
	if err := checkProduceHeader(h); err != nil {
		return Header{}, err
	}
	if h.Codec() != CodecNone {
		if c == nil {
			c = new(Coder)
		}
		defer c.endScan()
	}
	s, err := c.scanner(h.Codec(), b[HeaderSize:h.Size():h.Size()], sizeMax)
	if err != nil {
		return Header{}, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
	}
	// Offset deltas are checked to rise strictly within [0, LastOffsetDelta], and there
	// are LastOffsetDelta+1 of them: they can only be 0, 1, 2, ...
	recErr := scanProduce(&s, h, rules)
	if recErr != nil {
		s.drain()
	}
	if s.err != nil {
		return Header{}, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, s.err)
	}
	if recErr != nil {
		return Header{}, recErr
	}
	return h, nil
}

// checkProduceBatch checks that b is one whole, intact batch of magic 2 within sizeMax.
func checkProduceBatch(b []byte, sizeMax int) (Header, error) {
	if len(b) == 0 {
		return Header{}, fmt.Errorf("%w: no record batch", ErrInvalidRecord)
	}
	// Earlier message formats keep their magic at the same position.
	if len(b) > magicPos && b[magicPos] != MagicV2 {
		return Header{}, fmt.Errorf("%w: %w %d, only 2 is accepted", ErrInvalidRecord, ErrMagic, int8(b[magicPos]))
	}
	h, err := Check(b)
	if errors.Is(err, ErrShort) {
		return Header{}, fmt.Errorf("%w: batch cut short at %d bytes", ErrCorrupt, len(b))
	}
	if err != nil {
		return Header{}, err
	}
	if h.Size() != len(b) {
		return Header{}, fmt.Errorf("%w: %d bytes after the first batch; exactly one is allowed", ErrInvalidRecord, len(b)-h.Size())
	}
	if h.Size() > sizeMax {
		return Header{}, fmt.Errorf("%w: batch of %d bytes, at most %d allowed", ErrTooLarge, h.Size(), sizeMax)
	}
	return h, nil
}

// checkProduceHeader checks the header fields a producer sets against each other.
func checkProduceHeader(h Header) error {
	switch {
	case h.IsControl():
		return fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
	case h.RecordCount <= 0 || int64(h.RecordCount) != int64(h.LastOffsetDelta)+1:
		return fmt.Errorf("%w: record count %d with last offset delta %d", ErrInvalidRecord, h.RecordCount, h.LastOffsetDelta)
	case !h.Codec().Known():
		return fmt.Errorf("%w: %s", ErrCodec, h.Codec())
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return fmt.Errorf("%w: producer id %d with base sequence %d", ErrInvalidRecord, h.ProducerID, h.BaseSequence)
	case h.IsTransactional() && h.ProducerID < 0:
		return fmt.Errorf("%w: transactional batch without a producer id", ErrInvalidRecord)
	}
	return nil
}
