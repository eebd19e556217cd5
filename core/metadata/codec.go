package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/sasl"
)

// recordVersion is the first byte of every encoded record. A decoder that meets a newer
// version refuses it rather than guessing.
const recordVersion = 1

// ErrDecode wraps every failure to decode a record or a snapshot.
var ErrDecode = errors.New("metadata: decode")

// Encode returns the bytes of rec: version, kind, then the fields in declaration order.
func Encode(rec Record) []byte {
	w := &enc.Writer{B: make([]byte, 0, 64)}
	w.U8(recordVersion)
	w.U8(uint8(rec.Kind()))
	switch r := rec.(type) {
	case RegisterBroker:
		w.I32(r.BrokerID)
		putID(w, r.Incarnation)
		putListeners(w, r.Listeners)
		w.String(r.Rack)
	case FenceBroker:
		w.I32(r.BrokerID)
		w.I64(r.BrokerEpoch)
	case UnfenceBroker:
		w.I32(r.BrokerID)
		w.I64(r.BrokerEpoch)
	case UnregisterBroker:
		w.I32(r.BrokerID)
		w.I64(r.BrokerEpoch)
	case Topic:
		w.String(r.Name)
		putID(w, r.ID)
	case Partition:
		putID(w, r.TopicID)
		w.I32(r.Partition)
		w.I32s(r.Replicas)
		w.I32s(r.ISR)
		w.I32(r.Leader)
		w.I32(r.LeaderEpoch)
		w.I32(r.PartitionEpoch)
	case PartitionChange:
		putID(w, r.TopicID)
		w.I32(r.Partition)
		w.Bool(r.ISR != nil)
		if r.ISR != nil {
			w.I32s(r.ISR)
		}
		w.I32(r.Leader)
	case Reassign:
		putID(w, r.TopicID)
		w.I32(r.Partition)
		w.I32s(r.Replicas)
		w.I32s(r.Adding)
		w.I32s(r.Removing)
		w.Bool(r.ISR != nil)
		if r.ISR != nil {
			w.I32s(r.ISR)
		}
		w.I32(r.Leader)
	case RemoveTopic:
		putID(w, r.TopicID)
	case Config:
		w.U8(uint8(r.Resource))
		w.String(r.Name)
		w.String(r.Key)
		w.String(r.Value)
		w.Bool(r.Delete)
	case ProducerIDs:
		w.I32(r.BrokerID)
		w.I64(r.BrokerEpoch)
		w.I64(r.NextProducerID)
	case ScramCredential:
		w.String(r.User)
		w.U8(uint8(r.Mechanism))
		w.Bytes(r.Salt)
		w.Bytes(r.StoredKey)
		w.Bytes(r.ServerKey)
		w.I32(r.Iterations)
	case RemoveScram:
		w.String(r.User)
		w.U8(uint8(r.Mechanism))
	case Acl:
		putBinding(w, r.Binding)
	case ClientQuota:
		putClientQuota(w, r)
	case RemoveAcl:
		putBinding(w, r.Binding)
	default:
		panic(fmt.Sprintf("metadata: Encode of unknown record type %T", rec))
	}
	return w.B
}

// Decode parses one record. It never panics, and it rejects unknown versions and kinds
// and trailing bytes. It does not validate the record against an image: see Validate.
func Decode(b []byte) (Record, error) {
	r := &enc.Reader{B: b}
	if v := r.U8(); r.Err() == nil && v != recordVersion {
		return nil, fmt.Errorf("%w: record version %d", ErrDecode, v)
	}
	kind := Kind(r.U8())
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrDecode, r.Err())
	}
	rec, ok := decodeBody(r, kind)
	if !ok {
		return nil, fmt.Errorf("%w: unknown record kind %d", ErrDecode, uint8(kind))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDecode, kind, err)
	}
	return rec, nil
}

func decodeBody(r *enc.Reader, kind Kind) (Record, bool) {
	switch kind {
	case KindRegisterBroker:
		return RegisterBroker{BrokerID: r.I32(), Incarnation: getID(r),
			Listeners: getListeners(r), Rack: r.String()}, true
	case KindFenceBroker:
		return FenceBroker{BrokerID: r.I32(), BrokerEpoch: r.I64()}, true
	case KindUnfenceBroker:
		return UnfenceBroker{BrokerID: r.I32(), BrokerEpoch: r.I64()}, true
	case KindUnregisterBroker:
		return UnregisterBroker{BrokerID: r.I32(), BrokerEpoch: r.I64()}, true
	case KindTopic:
		return Topic{Name: r.String(), ID: getID(r)}, true
	case KindPartition:
		return Partition{TopicID: getID(r), Partition: r.I32(), Replicas: r.I32s(),
			ISR: r.I32s(), Leader: r.I32(), LeaderEpoch: r.I32(), PartitionEpoch: r.I32()}, true
	case KindPartitionChange:
		pc := PartitionChange{TopicID: getID(r), Partition: r.I32()}
		if r.Bool() {
			pc.ISR = getPresentI32s(r)
		}
		pc.Leader = r.I32()
		return pc, true
	case KindReassign:
		ra := Reassign{TopicID: getID(r), Partition: r.I32(), Replicas: r.I32s(), Adding: r.I32s(), Removing: r.I32s()}
		if r.Bool() {
			ra.ISR = getPresentI32s(r)
		}
		ra.Leader = r.I32()
		return ra, true
	case KindRemoveTopic:
		return RemoveTopic{TopicID: getID(r)}, true
	case KindConfig:
		return Config{Resource: ConfigResource(r.U8()), Name: r.String(), Key: r.String(),
			Value: r.String(), Delete: r.Bool()}, true
	case KindProducerIDs:
		return ProducerIDs{BrokerID: r.I32(), BrokerEpoch: r.I64(), NextProducerID: r.I64()}, true
	case KindScramCredential:
		return ScramCredential{User: r.String(), Mechanism: sasl.Mechanism(r.U8()), Salt: ownBytes(r),
			StoredKey: ownBytes(r), ServerKey: ownBytes(r), Iterations: r.I32()}, true
	case KindRemoveScram:
		return RemoveScram{User: r.String(), Mechanism: sasl.Mechanism(r.U8())}, true
	case KindAcl:
		return Acl{getBinding(r)}, true
	case KindRemoveAcl:
		return RemoveAcl{getBinding(r)}, true
	case KindClientQuota:
		return getClientQuota(r), true
	}
	return nil, false
}

func putBinding(w *enc.Writer, b acl.Binding) {
	w.U8(uint8(b.Type))
	w.String(b.Name)
	w.U8(uint8(b.Pattern))
	w.String(b.Principal)
	w.String(b.Host)
	w.U8(uint8(b.Operation))
	w.U8(uint8(b.Permission))
}

func getBinding(r *enc.Reader) acl.Binding {
	return acl.Binding{
		Resource: acl.Resource{Type: acl.ResourceType(r.U8()), Name: r.String(), Pattern: acl.PatternType(r.U8())},
		Entry:    acl.Entry{Principal: r.String(), Host: r.String(), Operation: acl.Operation(r.U8()), Permission: acl.Permission(r.U8())},
	}
}

// ownBytes reads a byte string into memory of its own (an image keeps it after the
// input buffer is reused); empty reads as nil.
func ownBytes(r *enc.Reader) []byte {
	b := r.Bytes()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func putID(w *enc.Writer, id [16]byte) { w.B = append(w.B, id[:]...) }

func getID(r *enc.Reader) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], r.U64())
	binary.BigEndian.PutUint64(id[8:], r.U64())
	return id
}

func putListeners(w *enc.Writer, ls []Listener) {
	w.Len(len(ls))
	for _, l := range ls {
		w.String(l.Name)
		w.String(l.Host)
		w.I32(l.Port)
	}
}

// listenerBytesMin is the smallest encoding of a Listener: two empty strings and a port.
const listenerBytesMin = 1 + 1 + 4

func getListeners(r *enc.Reader) []Listener {
	n := r.Len(listenerBytesMin)
	if n == 0 {
		return nil
	}
	ls := make([]Listener, n)
	for i := range ls {
		ls[i] = Listener{Name: r.String(), Host: r.String(), Port: r.I32()}
	}
	return ls
}

// getPresentI32s reads a slice that was marked present, so an empty one stays non-nil
// (an explicitly empty ISR is invalid, not "unchanged").
func getPresentI32s(r *enc.Reader) []int32 {
	v := r.I32s()
	if v == nil {
		return []int32{}
	}
	return v
}
