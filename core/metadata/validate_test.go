package metadata

import (
	"errors"
	"strings"
	"testing"
)

var (
	topicT = [16]byte{0xaa, 1}
	topicU = [16]byte{0xbb, 2}
)

// mustApply applies recs at the offsets following im's.
func mustApply(t testing.TB, im Image, recs ...Record) Image {
	t.Helper()
	for _, r := range recs {
		next, err := im.Apply(im.Offset()+1, r)
		if err != nil {
			t.Fatalf("apply %#v: %v", r, err)
		}
		im = next
	}
	return im
}

// baseImage: brokers 1 (epoch 0) and 2 (epoch 1) unfenced, 3 (epoch 2) fenced; topic "t"
// with partition 0 (replicas 1,2,3, ISR 1,2, leader 1) and partition 1 (replicas 2,3,
// ISR 2, leader 2); retention.ms set on t; producer ids up to 1000 handed out.
func baseImage(t testing.TB) Image {
	return mustApply(t, Image{},
		RegisterBroker{BrokerID: 1, Incarnation: [16]byte{1}, Rack: "a", Listeners: []Listener{{Name: "P", Host: "h1", Port: 9092}}},
		RegisterBroker{BrokerID: 2, Incarnation: [16]byte{2}, Rack: "b"},
		RegisterBroker{BrokerID: 3, Incarnation: [16]byte{3}},
		UnfenceBroker{BrokerID: 1, BrokerEpoch: 0},
		UnfenceBroker{BrokerID: 2, BrokerEpoch: 1},
		Topic{Name: "t", ID: topicT},
		Partition{TopicID: topicT, Partition: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1},
		Partition{TopicID: topicT, Partition: 1, Replicas: []int32{2, 3}, ISR: []int32{2}, Leader: 2},
		Config{Resource: ConfigTopic, Name: "t", Key: "retention.ms", Value: "1"},
		ProducerIDs{BrokerID: 1, BrokerEpoch: 0, NextProducerID: 1000},
	)
}

func TestValidate(t *testing.T) {
	base := baseImage(t)
	cases := []struct {
		name string
		rec  Record
		bad  string // substring of the error, "" when valid
	}{
		{"register new", RegisterBroker{BrokerID: 4}, ""},
		{"re-register fenced", RegisterBroker{BrokerID: 3, Incarnation: [16]byte{9}}, ""},
		{"re-register unfenced", RegisterBroker{BrokerID: 1, Incarnation: [16]byte{9}}, "unfenced"},
		{"register negative id", RegisterBroker{BrokerID: -1}, "negative"},
		{"register duplicate listener", RegisterBroker{BrokerID: 4, Listeners: []Listener{{Name: "a"}, {Name: "a"}}}, "twice"},
		{"register empty listener name", RegisterBroker{BrokerID: 4, Listeners: []Listener{{Host: "h"}}}, "empty"},
		{"register bad port", RegisterBroker{BrokerID: 4, Listeners: []Listener{{Name: "a", Port: 70000}}}, "port"},
		{"register long rack", RegisterBroker{BrokerID: 4, Rack: strings.Repeat("r", 256)}, "rack"},
		{"register many listeners", RegisterBroker{BrokerID: 4, Listeners: manyListeners(ListenersMax + 1)}, "listeners"},

		{"fence", FenceBroker{BrokerID: 1, BrokerEpoch: 0}, ""},
		{"fence stale epoch", FenceBroker{BrokerID: 1, BrokerEpoch: 5}, "stale"},
		{"fence unknown", FenceBroker{BrokerID: 9, BrokerEpoch: 0}, "not registered"},
		{"fence fenced", FenceBroker{BrokerID: 3, BrokerEpoch: 2}, "already"},
		{"unfence", UnfenceBroker{BrokerID: 3, BrokerEpoch: 2}, ""},
		{"unfence stale epoch", UnfenceBroker{BrokerID: 3, BrokerEpoch: 1}, "stale"},
		{"unfence unfenced", UnfenceBroker{BrokerID: 2, BrokerEpoch: 1}, "already"},
		{"unregister fenced idle", UnregisterBroker{BrokerID: 3, BrokerEpoch: 2}, ""},
		{"unregister unfenced", UnregisterBroker{BrokerID: 2, BrokerEpoch: 1}, "unfenced"},
		{"unregister stale", UnregisterBroker{BrokerID: 3, BrokerEpoch: 0}, "stale"},

		{"topic", Topic{Name: "u", ID: topicU}, ""},
		{"topic duplicate name", Topic{Name: "t", ID: topicU}, "exists"},
		{"topic duplicate id", Topic{Name: "u", ID: topicT}, "in use"},
		{"topic zero id", Topic{Name: "u"}, "zero"},
		{"topic bad name", Topic{Name: "a/b", ID: topicU}, "illegal"},
		{"topic dot", Topic{Name: "..", ID: topicU}, "reserved"},
		{"topic long", Topic{Name: strings.Repeat("x", 250), ID: topicU}, "more than"},

		{"partition next", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{3}, ISR: []int32{3}, Leader: NoLeader}, ""},
		{"partition gap", Partition{TopicID: topicT, Partition: 3, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}, "next is 2"},
		{"partition existing", Partition{TopicID: topicT, Partition: 1, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}, "next is 2"},
		{"partition unknown topic", Partition{TopicID: topicU, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}, "unknown topic"},
		{"partition no replicas", Partition{TopicID: topicT, Partition: 2, ISR: []int32{1}, Leader: 1}, "replicas"},
		{"partition duplicate replica", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1, 1}, ISR: []int32{1}, Leader: 1}, "twice"},
		{"partition unregistered replica", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1, 8}, ISR: []int32{1}, Leader: 1}, "registered"},
		{"partition empty ISR", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1}, ISR: []int32{}, Leader: NoLeader}, "empty ISR"},
		{"partition ISR outside replicas", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1}, ISR: []int32{1, 2}, Leader: 1}, "not a replica"},
		{"partition duplicate ISR", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 1}, Leader: 1}, "twice"},
		{"partition leader outside ISR", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 2}, "not in ISR"},
		{"partition negative epoch", Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: -1}, "negative"},

		{"change ISR", PartitionChange{TopicID: topicT, Partition: 0, ISR: []int32{1, 2, 3}, Leader: LeaderUnchanged}, ""},
		{"change leader", PartitionChange{TopicID: topicT, Partition: 0, Leader: 2}, ""},
		{"change to no leader", PartitionChange{TopicID: topicT, Partition: 0, Leader: NoLeader}, ""},
		{"change nothing", PartitionChange{TopicID: topicT, Partition: 0, ISR: []int32{1, 2}, Leader: 1}, "nothing"},
		{"change unknown partition", PartitionChange{TopicID: topicT, Partition: 2, Leader: NoLeader}, "unknown partition"},
		{"change leader outside new ISR", PartitionChange{TopicID: topicT, Partition: 0, ISR: []int32{2}, Leader: LeaderUnchanged}, "not in ISR"},
		{"change leader outside ISR", PartitionChange{TopicID: topicT, Partition: 0, Leader: 3}, "not in ISR"},
		{"change empty ISR", PartitionChange{TopicID: topicT, Partition: 0, ISR: []int32{}, Leader: NoLeader}, "empty ISR"},
		{"change ISR outside replicas", PartitionChange{TopicID: topicT, Partition: 1, ISR: []int32{2, 1}, Leader: LeaderUnchanged}, "not a replica"},
		{"change bad leader value", PartitionChange{TopicID: topicT, Partition: 0, Leader: -7}, "leader -7"},

		{"reassign start", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{1, 3, 2}, Adding: []int32{1}, Removing: []int32{2}, Leader: LeaderUnchanged}, ""},
		{"reassign finish", Reassign{TopicID: topicT, Partition: 0, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: LeaderUnchanged}, ""},
		{"reassign unregistered", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{8, 2, 3}, Adding: []int32{8}, Leader: LeaderUnchanged}, "registered"},
		{"reassign twice", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{2, 2}, Leader: LeaderUnchanged}, "twice"},
		{"reassign adding outside", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{2, 3}, Adding: []int32{1}, Leader: LeaderUnchanged}, "adding"},
		{"reassign adding removed", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{1, 2, 3}, Adding: []int32{1}, Removing: []int32{1}, Leader: LeaderUnchanged}, "adding"},
		{"reassign removing all", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{2, 3}, Removing: []int32{2, 3}, Leader: LeaderUnchanged}, "no target"},
		{"reassign drops ISR member", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{1, 3}, Leader: LeaderUnchanged}, "not a replica"},
		{"reassign nothing", Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{2, 3}, Leader: LeaderUnchanged}, "nothing"},

		{"remove topic", RemoveTopic{TopicID: topicT}, ""},
		{"remove unknown topic", RemoveTopic{TopicID: topicU}, "unknown"},

		{"config topic", Config{Resource: ConfigTopic, Name: "t", Key: "segment.ms", Value: "5"}, ""},
		{"config delete set key", Config{Resource: ConfigTopic, Name: "t", Key: "retention.ms", Delete: true}, ""},
		{"config delete unset key", Config{Resource: ConfigTopic, Name: "t", Key: "segment.ms", Delete: true}, "unset"},
		{"config delete with value", Config{Resource: ConfigTopic, Name: "t", Key: "retention.ms", Value: "1", Delete: true}, "with a value"},
		{"config unknown topic", Config{Resource: ConfigTopic, Name: "u", Key: "k", Value: "v"}, "unknown topic"},
		{"config cluster default", Config{Resource: ConfigBroker, Name: "", Key: "log.flush", Value: "async"}, ""},
		{"config broker", Config{Resource: ConfigBroker, Name: "12", Key: "k", Value: "v"}, ""},
		{"config broker name", Config{Resource: ConfigBroker, Name: "012", Key: "k", Value: "v"}, "neither"},
		{"config broker name overflow", Config{Resource: ConfigBroker, Name: "2147483648", Key: "k", Value: "v"}, "neither"},
		{"config empty key", Config{Resource: ConfigBroker, Name: "", Key: "", Value: "v"}, "key"},
		{"config long value", Config{Resource: ConfigBroker, Name: "", Key: "k", Value: strings.Repeat("v", ConfigValueBytes+1)}, "value"},
		{"config unknown resource", Config{Resource: 3, Name: "", Key: "k"}, "resource"},

		{"producer ids", ProducerIDs{BrokerID: 2, BrokerEpoch: 1, NextProducerID: 2000}, ""},
		{"producer ids backwards", ProducerIDs{BrokerID: 2, BrokerEpoch: 1, NextProducerID: 999}, "not above"},
		{"producer ids same", ProducerIDs{BrokerID: 2, BrokerEpoch: 1, NextProducerID: 1000}, "not above"},
		{"producer ids stale epoch", ProducerIDs{BrokerID: 2, BrokerEpoch: 0, NextProducerID: 2000}, "stale"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := base.EncodeSnapshot()
			err := Validate(base, c.rec)
			next, applyErr := base.Apply(base.Offset()+1, c.rec)
			if (err == nil) != (applyErr == nil) {
				t.Fatalf("Validate %v but Apply %v", err, applyErr)
			}
			if c.bad == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if next.Offset() != base.Offset()+1 {
					t.Fatalf("offset %d after apply", next.Offset())
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), c.bad) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.bad)
				}
				if !Equal(next, base) {
					t.Fatal("a failed Apply changed the image it returned")
				}
			}
			if string(base.EncodeSnapshot()) != string(before) {
				t.Fatal("Apply changed its receiver")
			}
		})
	}
}

func TestUnregisterLeaderRejected(t *testing.T) {
	im := baseImage(t)
	im = mustApply(t, im, FenceBroker{BrokerID: 2, BrokerEpoch: 1})
	// Fenced, but still the leader of t-1: the controller must move leadership first.
	if err := Validate(im, UnregisterBroker{BrokerID: 2, BrokerEpoch: 1}); err == nil || !strings.Contains(err.Error(), "still leads") {
		t.Fatalf("err = %v", err)
	}
}

func TestApplyRejectsOldOffset(t *testing.T) {
	im := baseImage(t)
	if _, err := im.Apply(im.Offset(), Topic{Name: "u", ID: topicU}); err == nil {
		t.Fatal("applied at an offset already covered")
	}
	next, err := im.Apply(im.Offset()+100, Topic{Name: "u", ID: topicU})
	if err != nil || next.Offset() != im.Offset()+100 {
		t.Fatalf("gap in offsets: %v, offset %d", err, next.Offset())
	}
}

func TestValidateNil(t *testing.T) {
	if err := Validate(Image{}, nil); err == nil {
		t.Fatal("nil record validated")
	}
}

func manyListeners(n int) []Listener {
	ls := make([]Listener, n)
	for i := range ls {
		ls[i] = Listener{Name: string(rune('a'+i%26)) + strings.Repeat("x", i/26)}
	}
	return ls
}
