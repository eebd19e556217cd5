package raft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/record"
)

// The metadata log holds uncompressed batches only: seedlog's leaders build them that way,
// so a follower can read the records without a codec and rejects anything else.

var errBadBatch = errors.New("raft: bad batch")

// buildBatch encodes values as one uncompressed batch at base in epoch. tsMillis is the
// batch's first timestamp.
func buildBatch(base int64, epoch int32, tsMillis int64, control bool, values [][]byte) ([]byte, error) {
	spec := record.Spec{
		BaseOffset:           base,
		PartitionLeaderEpoch: epoch,
		FirstTimestamp:       tsMillis,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		BaseSequence:         -1,
		Codec:                record.CodecNone,
		Control:              control,
	}
	b, err := record.BuildValues(spec, values...)
	if err != nil {
		return nil, fmt.Errorf("raft: building batch at %d: %w", base, err)
	}
	return b, nil
}

// leaderChangeValue is the value of the control record a new leader appends: it gives
// the leader an entry of its own epoch to commit, and tells readers who led from here.
func leaderChangeValue(leader, epoch int32, voters []int32) []byte {
	w := enc.Writer{}
	w.U8(0) // version
	w.I32(leader)
	w.I32(epoch)
	w.I32s(voters)
	return w.B
}

// LeaderChange is the content of the control entry a leader appends when elected.
type LeaderChange struct {
	Leader int32
	Epoch  int32
	Voters []int32
}

// DecodeLeaderChange decodes the Data of a control Entry.
func DecodeLeaderChange(b []byte) (LeaderChange, error) {
	r := enc.Reader{B: b}
	if v := r.U8(); v != 0 && r.Err() == nil {
		return LeaderChange{}, fmt.Errorf("raft: leader change version %d", v)
	}
	lc := LeaderChange{Leader: r.I32(), Epoch: r.I32(), Voters: r.I32s()}
	if err := r.Done(); err != nil {
		return LeaderChange{}, fmt.Errorf("raft: leader change: %w", err)
	}
	return lc, nil
}

// batchEntries appends the entries of one checked, uncompressed batch to dst. Its
// records must be dense: record i has offset delta i.
func batchEntries(dst []Entry, b []byte) ([]Entry, error) {
	h, err := record.ParseHeader(b)
	if err != nil {
		return dst, err
	}
	if h.Codec() != record.CodecNone {
		return dst, fmt.Errorf("%w at %d: codec %s in the metadata log", errBadBatch, h.BaseOffset, h.Codec())
	}
	if int64(h.RecordCount) != int64(h.LastOffsetDelta)+1 || len(b) < h.Size() {
		return dst, fmt.Errorf("%w at %d: %d records for last offset delta %d", errBadBatch, h.BaseOffset, h.RecordCount, h.LastOffsetDelta)
	}
	body := b[record.HeaderSize:h.Size()]
	for i := int32(0); i < h.RecordCount; i++ {
		value, rest, err := recordValue(body, i)
		if err != nil {
			return dst, fmt.Errorf("%w at %d, record %d: %v", errBadBatch, h.BaseOffset, i, err)
		}
		body = rest
		dst = append(dst, Entry{Offset: h.BaseOffset + int64(i), Epoch: h.PartitionLeaderEpoch,
			Data: value, Control: h.IsControl()})
	}
	if len(body) != 0 {
		return dst, fmt.Errorf("%w at %d: %d bytes after the last record", errBadBatch, h.BaseOffset, len(body))
	}
	return dst, nil
}

// recordValue decodes the record at the start of b, which must have offset delta want,
// and returns its value (nil when null) and the bytes after it.
func recordValue(b []byte, want int32) (value, rest []byte, err error) {
	length, n := binary.Varint(b)
	if n <= 0 || length < 0 || length > int64(len(b)-n) {
		return nil, nil, errors.New("record length")
	}
	d := fieldReader{b: b[n : n+int(length)]}
	rest = b[n+int(length):]
	d.skip(1) // attributes
	d.varint()
	if delta := d.varint(); delta != int64(want) && d.err == nil {
		return nil, nil, fmt.Errorf("offset delta %d", delta)
	}
	d.nullable() // key
	value = d.nullable()
	for headers := d.varint(); headers > 0 && d.err == nil; headers-- {
		d.nullable()
		d.nullable()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("bytes after the headers")
	}
	return value, rest, d.err
}

type fieldReader struct {
	b   []byte
	err error
}

func (d *fieldReader) skip(n int) {
	if d.err == nil && len(d.b) < n {
		d.err = errors.New("record cut short")
	}
	if d.err == nil {
		d.b = d.b[n:]
	}
}

func (d *fieldReader) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *fieldReader) nullable() []byte {
	n := d.varint()
	if d.err == nil && n < -1 {
		d.err = fmt.Errorf("field length %d", n)
	}
	if d.err != nil || n == -1 {
		return nil
	}
	if n > int64(len(d.b)) {
		d.err = errors.New("field cut short")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
