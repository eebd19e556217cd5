package record

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ControlType is the type of a control record, from its key.
type ControlType int16

// Control record types. Transaction markers are the ones a partition log of user data
// holds; the rest belong to the metadata log.
const (
	ControlAbort          ControlType = 0
	ControlCommit         ControlType = 1
	ControlLeaderChange   ControlType = 2
	ControlSnapshotHeader ControlType = 3
	ControlSnapshotFooter ControlType = 4
)

func (t ControlType) String() string {
	switch t {
	case ControlAbort:
		return "abort"
	case ControlCommit:
		return "commit"
	case ControlLeaderChange:
		return "leader-change"
	case ControlSnapshotHeader:
		return "snapshot-header"
	case ControlSnapshotFooter:
		return "snapshot-footer"
	}
	return fmt.Sprintf("control(%d)", int16(t))
}

// ControlKey is the key of a control record.
type ControlKey struct {
	Version int16
	Type    ControlType
}

const controlKeySize = 4

// ParseControlKey decodes the key of a control record. Bytes after the type are allowed:
// a later key version may add fields.
func ParseControlKey(key []byte) (ControlKey, error) {
	if len(key) < controlKeySize {
		return ControlKey{}, fmt.Errorf("%w: control key of %d bytes", ErrCorrupt, len(key))
	}
	k := ControlKey{
		Version: int16(binary.BigEndian.Uint16(key)),
		Type:    ControlType(binary.BigEndian.Uint16(key[2:])),
	}
	if k.Version < 0 {
		return ControlKey{}, fmt.Errorf("%w: control key version %d", ErrCorrupt, k.Version)
	}
	return k, nil
}

// AppendTo appends the encoded key to dst.
func (k ControlKey) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(k.Version))
	return binary.BigEndian.AppendUint16(dst, uint16(k.Type))
}

// EndTxnMarker is the value of a commit or abort control record.
type EndTxnMarker struct {
	Version          int16
	CoordinatorEpoch int32
}

const endTxnMarkerSize = 6

// ParseEndTxnMarker decodes the value of a commit or abort control record.
func ParseEndTxnMarker(value []byte) (EndTxnMarker, error) {
	if len(value) < endTxnMarkerSize {
		return EndTxnMarker{}, fmt.Errorf("%w: transaction marker of %d bytes", ErrCorrupt, len(value))
	}
	m := EndTxnMarker{
		Version:          int16(binary.BigEndian.Uint16(value)),
		CoordinatorEpoch: int32(binary.BigEndian.Uint32(value[2:])),
	}
	if m.Version < 0 {
		return EndTxnMarker{}, fmt.Errorf("%w: transaction marker version %d", ErrCorrupt, m.Version)
	}
	return m, nil
}

// AppendTo appends the encoded marker to dst.
func (m EndTxnMarker) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Version))
	return binary.BigEndian.AppendUint32(dst, uint32(m.CoordinatorEpoch))
}

// BuildEndTxn builds the control batch that ends a transaction of spec's producer:
// one uncompressed record, commit or abort, stamped with the coordinator's epoch.
func BuildEndTxn(spec Spec, commit bool, coordinatorEpoch int32) ([]byte, error) {
	key := ControlKey{Type: ControlAbort}
	if commit {
		key.Type = ControlCommit
	}
	spec.Control, spec.Transactional, spec.Codec = true, true, CodecNone
	rec := kmsg.Record{
		Key:   key.AppendTo(nil),
		Value: EndTxnMarker{CoordinatorEpoch: coordinatorEpoch}.AppendTo(nil),
	}
	return Build(spec, []kmsg.Record{rec})
}
