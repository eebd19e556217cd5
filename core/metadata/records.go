package metadata

import (
	"fmt"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/sasl"
)

// Kind tells the record types apart in their encoding. The values are part of the
// on-disk format: never renumber them.
type Kind uint8

const (
	KindRegisterBroker   Kind = 1
	KindFenceBroker      Kind = 2
	KindUnfenceBroker    Kind = 3
	KindUnregisterBroker Kind = 4
	KindTopic            Kind = 5
	KindPartition        Kind = 6
	KindPartitionChange  Kind = 7
	KindRemoveTopic      Kind = 8
	KindConfig           Kind = 9
	KindProducerIDs      Kind = 10
	KindScramCredential  Kind = 11
	KindRemoveScram      Kind = 12
	KindAcl              Kind = 13
	KindRemoveAcl        Kind = 14
	KindClientQuota      Kind = 15
	KindReassign         Kind = 16
)

func (k Kind) String() string {
	switch k {
	case KindRegisterBroker:
		return "RegisterBroker"
	case KindFenceBroker:
		return "FenceBroker"
	case KindUnfenceBroker:
		return "UnfenceBroker"
	case KindUnregisterBroker:
		return "UnregisterBroker"
	case KindTopic:
		return "Topic"
	case KindPartition:
		return "Partition"
	case KindPartitionChange:
		return "PartitionChange"
	case KindRemoveTopic:
		return "RemoveTopic"
	case KindConfig:
		return "Config"
	case KindProducerIDs:
		return "ProducerIDs"
	case KindScramCredential:
		return "ScramCredential"
	case KindRemoveScram:
		return "RemoveScram"
	case KindAcl:
		return "Acl"
	case KindRemoveAcl:
		return "RemoveAcl"
	case KindClientQuota:
		return "ClientQuota"
	case KindReassign:
		return "Reassign"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Record is one metadata record. The set of implementations is closed: the
// fifteen types below and ClientQuota (quotas.go).
type Record interface {
	Kind() Kind
	isRecord()
}

// Listener is one address a broker accepts connections on.
type Listener struct {
	Name string
	Host string
	Port int32
}

// RegisterBroker announces a broker incarnation. Its broker epoch is the offset of this
// record. A registration starts fenced. Re-registering an id replaces the previous
// registration, which must be fenced by then (so that its leases have run out).
type RegisterBroker struct {
	BrokerID    int32
	Incarnation [16]byte
	Listeners   []Listener
	Rack        string
}

// FenceBroker takes an unfenced broker out of service: it may no longer lead.
type FenceBroker struct {
	BrokerID    int32
	BrokerEpoch int64
}

// UnfenceBroker returns a fenced broker to service.
type UnfenceBroker struct {
	BrokerID    int32
	BrokerEpoch int64
}

// UnregisterBroker forgets a fenced broker that leads nothing.
type UnregisterBroker struct {
	BrokerID    int32
	BrokerEpoch int64
}

// Topic creates a topic with no partitions; Partition records follow.
type Topic struct {
	Name string
	ID   [16]byte
}

// Partition adds the next partition of a topic (partitions are numbered densely).
type Partition struct {
	TopicID        [16]byte
	Partition      int32
	Replicas       []int32
	ISR            []int32
	Leader         int32 // NoLeader when there is none
	LeaderEpoch    int32
	PartitionEpoch int32
}

// NoLeader is the leader of a partition that has none.
const NoLeader int32 = -1

// LeaderUnchanged in PartitionChange.Leader keeps the current leader.
const LeaderUnchanged int32 = -2

// PartitionChange alters the ISR and/or the leader of a partition. A nil ISR keeps the
// current one. Leader is LeaderUnchanged, NoLeader or a broker id.
//
// Applying it bumps PartitionEpoch by one, and LeaderEpoch by one when the leader differs
// from the current one (including a change to or from NoLeader). Kafka also bumps the
// leader epoch on some ISR shrinks; seedlog does not: a leader epoch names one period of
// one broker's leadership, and the partition epoch already fences stale ISR updates.
type PartitionChange struct {
	TopicID   [16]byte
	Partition int32
	ISR       []int32
	Leader    int32
}

// Reassign replaces a partition's replica set while it moves (KIP-455). Replicas is the
// whole set: the target replicas first, in the target's order, then those being removed.
// Adding lists the target replicas not yet in sync when the move began, Removing the
// replicas outside the target; both empty means no move is under way. ISR and Leader
// are as in PartitionChange, and the epochs move as for PartitionChange.
type Reassign struct {
	TopicID   [16]byte
	Partition int32
	Replicas  []int32
	Adding    []int32
	Removing  []int32
	ISR       []int32
	Leader    int32
}

// RemoveTopic deletes a topic, its partitions and its configs.
type RemoveTopic struct {
	TopicID [16]byte
}

// ConfigResource is the kind of thing a config belongs to. The values are Kafka's
// ConfigResourceType numbers.
type ConfigResource uint8

const (
	ConfigTopic  ConfigResource = 2
	ConfigBroker ConfigResource = 4
)

// Config sets (or with Delete, removes) one config key of a topic or a broker. For a
// broker, Name is the broker id in decimal, or "" for the cluster-wide default.
type Config struct {
	Resource ConfigResource
	Name     string
	Key      string
	Value    string
	Delete   bool
}

// ProducerIDs hands the block [previous NextProducerID, NextProducerID) to a broker.
type ProducerIDs struct {
	BrokerID       int32
	BrokerEpoch    int64
	NextProducerID int64
}

// ScramCredential sets a user's credential for one SCRAM mechanism, replacing any it
// had. It holds what proves knowledge of the password, never the password.
type ScramCredential struct {
	User       string
	Mechanism  sasl.Mechanism
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// RemoveScram deletes a user's credential for one SCRAM mechanism.
type RemoveScram struct {
	User      string
	Mechanism sasl.Mechanism
}

// Acl stores an access control binding; storing one that exists changes nothing.
type Acl struct{ Binding acl.Binding }

// RemoveAcl deletes an access control binding.
type RemoveAcl struct{ Binding acl.Binding }

func (RegisterBroker) Kind() Kind   { return KindRegisterBroker }
func (FenceBroker) Kind() Kind      { return KindFenceBroker }
func (UnfenceBroker) Kind() Kind    { return KindUnfenceBroker }
func (UnregisterBroker) Kind() Kind { return KindUnregisterBroker }
func (Topic) Kind() Kind            { return KindTopic }
func (Partition) Kind() Kind        { return KindPartition }
func (PartitionChange) Kind() Kind  { return KindPartitionChange }
func (RemoveTopic) Kind() Kind      { return KindRemoveTopic }
func (Config) Kind() Kind           { return KindConfig }
func (ProducerIDs) Kind() Kind      { return KindProducerIDs }
func (ScramCredential) Kind() Kind  { return KindScramCredential }
func (RemoveScram) Kind() Kind      { return KindRemoveScram }
func (Acl) Kind() Kind              { return KindAcl }
func (RemoveAcl) Kind() Kind        { return KindRemoveAcl }
func (Reassign) Kind() Kind         { return KindReassign }

func (RegisterBroker) isRecord()   {}
func (FenceBroker) isRecord()      {}
func (UnfenceBroker) isRecord()    {}
func (UnregisterBroker) isRecord() {}
func (Topic) isRecord()            {}
func (Partition) isRecord()        {}
func (PartitionChange) isRecord()  {}
func (RemoveTopic) isRecord()      {}
func (Config) isRecord()           {}
func (ProducerIDs) isRecord()      {}
func (ScramCredential) isRecord()  {}
func (RemoveScram) isRecord()      {}
func (Acl) isRecord()              {}
func (RemoveAcl) isRecord()        {}
func (Reassign) isRecord()         {}
