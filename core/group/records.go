package group

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The record formats of __consumer_offsets, as Kafka writes them. The key's leading
// int16 tells the kind: 0 and 1 are offset commits, 2 is group metadata. seedlog writes
// key version 1 with value version 3 for offsets and key version 2 with value version 3
// (the first with static members) for groups. It reads value versions 0 to 3; version 4
// (flexible, Kafka 3.5+) is refused: seedlog never writes it, and its tagged fields let a
// damaged count make kmsg's decoder spin for minutes.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	groupKeyVersion    = 2
	groupValueVersion  = 3
	valueVersionMax    = 3
)

func offsetKey(group string, p tp) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: p.topic, Partition: p.partition}
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitMs
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// groupRecord is the record of g's generation with the given assignments, or, when
// assignments is nil, with the ones its members hold.
func (c *Coordinator) groupRecord(g *group, assignments map[string][]byte) KV {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" && len(g.members) > 0 {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = millis(c.now)
	if g.state == stateEmpty && g.emptySinceMs >= 0 {
		v.CurrentStateTimestamp = g.emptySinceMs // when it became Empty: its offsets expire from then
	}
	for _, m := range g.membersByJoin() {
		a := m.assignment
		if assignments != nil {
			a = assignments[m.id]
		}
		v.Members = append(v.Members, kmsg.GroupMetadataValueMember{
			MemberID:               m.id,
			InstanceID:             m.instanceID,
			ClientID:               m.clientID,
			ClientHost:             m.clientHost,
			RebalanceTimeoutMillis: millis32(m.rebalanceTimeout),
			SessionTimeoutMillis:   millis32(m.sessionTimeout),
			Subscription:           m.metadataFor(g.protocol),
			Assignment:             a,
		})
	}
	return KV{Key: groupKey(g.id), Value: v.AppendTo(nil)}
}

// persistGroupQuietly records g's generation without waiting on the outcome: used when
// nothing depends on it but a later coordinator's generation numbering.
func (c *Coordinator) persistGroupQuietly(g *group) {
	c.append([]KV{c.groupRecord(g, nil)}, func(int64, error) {}, nil)
}

func millis(ns int64) int64 { return ns / int64(time.Millisecond) }

func millis32(ns int64) int32 { return int32(min(millis(ns), math.MaxInt32)) }

// keyKind sorts a __consumer_offsets record key.
type keyKind uint8

const (
	keyOther  keyKind = iota // a kind this coordinator does not use
	keyOffset                // a committed offset
	keyGroup                 // group metadata
)

// decodeKey reads a record key: an offset commit's group and partition, or a group's id.
func decodeKey(key []byte) (kind keyKind, group string, p tp, err error) {
	if len(key) < 2 {
		return keyOther, "", tp{}, fmt.Errorf("record key of %d bytes", len(key))
	}
	switch version := int16(binary.BigEndian.Uint16(key)); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return keyOther, "", tp{}, fmt.Errorf("offset commit key: %w", err)
		}
		return keyOffset, k.Group, tp{k.Topic, k.Partition}, nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return keyOther, "", tp{}, fmt.Errorf("group metadata key: %w", err)
		}
		return keyGroup, k.Group, tp{}, nil
	}
	return keyOther, "", tp{}, nil
}

func valueVersion(value []byte) (int16, error) {
	if len(value) < 2 {
		return 0, fmt.Errorf("record value of %d bytes", len(value))
	}
	v := int16(binary.BigEndian.Uint16(value))
	if v < 0 || v > valueVersionMax {
		return 0, fmt.Errorf("unknown value version %d", v)
	}
	return v, nil
}

// decodeOffsetValue reads a committed offset's value.
func decodeOffsetValue(value []byte, logOffset int64) (offset, error) {
	if _, err := valueVersion(value); err != nil {
		return offset{}, fmt.Errorf("offset commit value: %w", err)
	}
	v := kmsg.NewOffsetCommitValue()
	if err := v.ReadFrom(value); err != nil {
		return offset{}, fmt.Errorf("offset commit value: %w", err)
	}
	epoch := int32(-1)
	if v.Version >= 3 {
		epoch = v.LeaderEpoch
	}
	return offset{offset: v.Offset, leaderEpoch: epoch, metadata: v.Metadata,
		commitMs: v.CommitTimestamp, logOffset: logOffset}, nil
}

// decodeGroupValue reads a group's metadata value.
func decodeGroupValue(value []byte) (*kmsg.GroupMetadataValue, error) {
	if _, err := valueVersion(value); err != nil {
		return nil, fmt.Errorf("group metadata value: %w", err)
	}
	v := kmsg.NewGroupMetadataValue()
	if err := v.ReadFrom(value); err != nil {
		return nil, fmt.Errorf("group metadata value: %w", err)
	}
	// The bytes alias the batch, which the log may reuse once the chunk is read.
	for i := range v.Members {
		m := &v.Members[i]
		m.Subscription, m.Assignment = bytes.Clone(m.Subscription), bytes.Clone(m.Assignment)
	}
	return &v, nil
}
