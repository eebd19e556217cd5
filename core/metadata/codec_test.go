package metadata

import (
	"errors"
	"reflect"
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/sasl"
)

// sampleScram is a valid credential record for user and m.
func sampleScram(user string, m sasl.Mechanism) ScramCredential {
	salt := []byte("salt of " + user)
	c := sasl.Derive(m, sasl.SaltedPassword(m, "pw-"+user, salt, 4096), salt, 4096)
	return ScramCredential{User: user, Mechanism: m, Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}
}

func sampleRecords() []Record {
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	return []Record{
		RegisterBroker{BrokerID: 7, Incarnation: id, Rack: "r1",
			Listeners: []Listener{{Name: "PLAINTEXT", Host: "h7", Port: 9092}, {Name: "INTERNAL", Host: "", Port: 0}}},
		RegisterBroker{BrokerID: 0},
		FenceBroker{BrokerID: 7, BrokerEpoch: 12},
		UnfenceBroker{BrokerID: 7, BrokerEpoch: 12},
		UnregisterBroker{BrokerID: 7, BrokerEpoch: 1 << 40},
		Topic{Name: "orders", ID: id},
		Partition{TopicID: id, Partition: 3, Replicas: []int32{1, 2, 3}, ISR: []int32{2, 1}, Leader: 2, LeaderEpoch: 4, PartitionEpoch: 9},
		Partition{TopicID: id, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: NoLeader},
		PartitionChange{TopicID: id, Partition: 1, ISR: []int32{1, 2}, Leader: LeaderUnchanged},
		PartitionChange{TopicID: id, Partition: 1, Leader: NoLeader},
		PartitionChange{TopicID: id, Partition: 1, ISR: []int32{}, Leader: 5},
		Reassign{TopicID: id, Partition: 2, Replicas: []int32{4, 1, 2}, Adding: []int32{4}, Removing: []int32{2}, Leader: LeaderUnchanged},
		Reassign{TopicID: id, Partition: 2, Replicas: []int32{4, 1}, ISR: []int32{1, 4}, Leader: 4},
		RemoveTopic{TopicID: id},
		Config{Resource: ConfigTopic, Name: "orders", Key: "retention.ms", Value: "1000"},
		Config{Resource: ConfigBroker, Name: "", Key: "log.flush", Delete: true},
		ProducerIDs{BrokerID: 2, BrokerEpoch: 8, NextProducerID: 5000},
		sampleScram("alice", sasl.ScramSHA512),
		RemoveScram{User: "bob", Mechanism: sasl.ScramSHA256},
		Acl{sampleBinding("User:a", "orders", acl.PatternPrefixed)},
		RemoveAcl{sampleBinding("User:*", "*", acl.PatternLiteral)},
		ClientQuota{Entity: QuotaEntity{HasUser: true, User: "alice", HasClientID: true}, Key: QuotaProducerByteRate, Value: 1 << 20},
		ClientQuota{Entity: QuotaEntity{HasClientID: true, ClientID: "app"}, Key: QuotaConsumerByteRate, Remove: true},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, rec := range sampleRecords() {
		b := Encode(rec)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%#v: %v", rec, err)
		}
		if !reflect.DeepEqual(got, rec) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, rec)
		}
	}
}

// An absent ISR means "unchanged" and an empty one is invalid: the two must not merge.
func TestCodecKeepsEmptyISRApartFromAbsent(t *testing.T) {
	absent, _ := Decode(Encode(PartitionChange{Leader: 1}))
	empty, _ := Decode(Encode(PartitionChange{ISR: []int32{}, Leader: 1}))
	if absent.(PartitionChange).ISR != nil {
		t.Fatal("absent ISR decoded as present")
	}
	if e := empty.(PartitionChange).ISR; e == nil || len(e) != 0 {
		t.Fatalf("empty ISR decoded as %#v", e)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(FenceBroker{BrokerID: 1, BrokerEpoch: 2})
	bad := map[string][]byte{
		"empty":         nil,
		"version only":  {recordVersion},
		"wrong version": append([]byte{2}, good[1:]...),
		"unknown kind":  {recordVersion, 99},
		"zero kind":     {recordVersion, 0},
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"bad bool":      append(Encode(PartitionChange{Leader: 1})[:2+16+4], 7),
	}
	for name, b := range bad {
		if _, err := Decode(b); err == nil || !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err = %v, want ErrDecode", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, rec := range sampleRecords() {
		f.Add(Encode(rec))
	}
	f.Add([]byte{recordVersion, byte(KindRegisterBroker), 0, 0, 0, 1})
	f.Add([]byte{recordVersion, byte(KindPartition), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Encode(rec))
		if err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encoding %#v: %v, %#v", rec, err, again)
		}
		_ = Validate(Image{}, rec) // must not panic on any decodable record
	})
}
