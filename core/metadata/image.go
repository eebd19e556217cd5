package metadata

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core/sasl"
)

// topicShardCount splits the topics into this many maps so that a partition change
// copies one shard (about topics/64 entries) instead of the whole topic map.
const topicShardCount = 64

// Image is the cluster metadata after applying every record up to Offset(). It is a
// value: Apply returns a new Image and leaves the receiver unchanged and usable. Images
// share every structure a record did not touch, so keeping old images is cheap.
//
// The zero Image is the empty cluster, with Offset() == -1.
type Image struct {
	// next is Offset()+1, so that the zero value means "nothing applied".
	next int64
	// brokers holds registrations; each *Broker is immutable once in an image.
	brokers map[int32]*Broker
	// topicIDs maps each topic name to its id; it has one entry per topic in shards.
	topicIDs map[string][16]byte
	// shards holds the topics by id; nil when there are none. The array and each map
	// are shared between images and copied before a change.
	shards *[topicShardCount]map[[16]byte]*topicState
	// brokerConfigs maps a broker config resource name ("" or a broker id) to its keys.
	// Inner maps are immutable once in an image; empty ones are removed.
	brokerConfigs  map[string]map[string]string
	nextProducerID int64
	// scram holds the SCRAM credentials; shared between images and copied before a
	// change. Credentials are immutable once in an image.
	scram map[ScramKey]sasl.Credential
}

// ScramKey names one stored credential.
type ScramKey struct {
	User      string
	Mechanism sasl.Mechanism
}

// topicState is immutable once in an image.
type topicState struct {
	name       string
	id         [16]byte
	partitions []PartitionState // index == partition number; elements immutable
	configs    map[string]string
}

// Broker is one broker registration.
type Broker struct {
	ID int32
	// Epoch is the offset of the RegisterBroker record of this incarnation.
	Epoch       int64
	Incarnation [16]byte
	Listeners   []Listener
	Rack        string
	Fenced      bool
	// CatchUpOffset is the metadata offset the broker must have applied before it may be
	// unfenced: the newest of its registration, its latest fencing, and every record
	// that took a partition leadership away from it. A broker that has applied it knows
	// of every leadership it lost, so a lease granted after unfencing cannot make it
	// lead a partition that has moved on.
	CatchUpOffset int64
}

// Endpoint is the broker's listener named name, or its first listener when name is
// empty. Clients are given the listener of the name they connected on, as in Kafka.
func (b Broker) Endpoint(name string) (Listener, bool) {
	for _, l := range b.Listeners {
		if name == "" || l.Name == name {
			return l, true
		}
	}
	return Listener{}, false
}

// PartitionState is one partition as the image holds it.
type PartitionState struct {
	TopicID        [16]byte
	Partition      int32
	Replicas       []int32
	ISR            []int32
	Leader         int32 // NoLeader when there is none
	LeaderEpoch    int32
	PartitionEpoch int32
}

// TopicInfo summarizes a topic.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// TopicPartition names one partition for the per-broker helpers.
type TopicPartition struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
}

// ConfigEntry is one set config key.
type ConfigEntry struct {
	Key   string
	Value string
}

// Offset is the offset of the last applied record, or -1 for the empty image.
func (im Image) Offset() int64 { return im.next - 1 }

// NextProducerID is the first producer id not yet handed out.
func (im Image) NextProducerID() int64 { return im.nextProducerID }

// Broker returns a copy of broker id's registration.
func (im Image) Broker(id int32) (Broker, bool) {
	b, ok := im.brokers[id]
	if !ok {
		return Broker{}, false
	}
	return b.clone(), true
}

// Brokers returns every registration, sorted by id.
func (im Image) Brokers() []Broker {
	out := make([]Broker, 0, len(im.brokers))
	for _, id := range im.brokerIDs() {
		out = append(out, im.brokers[id].clone())
	}
	return out
}

// ScramCredential returns user's credential for mechanism m.
func (im Image) ScramCredential(user string, m sasl.Mechanism) (sasl.Credential, bool) {
	c, ok := im.scram[ScramKey{user, m}]
	return c, ok
}

// ScramKeys lists every stored credential's user and mechanism, sorted by user, then
// mechanism.
func (im Image) ScramKeys() []ScramKey {
	out := make([]ScramKey, 0, len(im.scram))
	// order-independent: sorted right after.
	for k := range im.scram {
		out = append(out, k)
	}
	slices.SortFunc(out, compareScramKeys)
	return out
}

func compareScramKeys(a, b ScramKey) int {
	if c := strings.Compare(a.User, b.User); c != 0 {
		return c
	}
	return cmp.Compare(a.Mechanism, b.Mechanism)
}

// BrokerIDs lists the registered broker ids, sorted.
func (im Image) BrokerIDs() []int32 { return im.brokerIDs() }

// MinUnfenced returns the smallest at(id) over the registered brokers that are not
// fenced, or none when there is no such broker. at must not change anything: the node
// asks after every input (Controller.Deadline), so the ids are neither copied nor sorted.
func (im Image) MinUnfenced(at func(id int32) int64, none int64) int64 {
	d := none
	// order-independent: a minimum of a function without side effects.
	for id, b := range im.brokers {
		if !b.Fenced {
			d = min(d, at(id))
		}
	}
	return d
}

// AppendBrokerIDs appends the registered broker ids, sorted, to dst, for callers that
// reuse a buffer.
func (im Image) AppendBrokerIDs(dst []int32) []int32 {
	start := len(dst)
	// order-independent: the appended ids are sorted right after.
	for id := range im.brokers {
		dst = append(dst, id)
	}
	slices.Sort(dst[start:])
	return dst
}

// BrokerEpoch returns the epoch of broker id and whether it is fenced, without copying
// its registration.
func (im Image) BrokerEpoch(id int32) (epoch int64, fenced, ok bool) {
	b, ok := im.brokers[id]
	if !ok {
		return 0, true, false
	}
	return b.Epoch, b.Fenced, true
}

// IsFenced reports whether broker id may not lead: fenced or not registered.
func (im Image) IsFenced(id int32) bool {
	b, ok := im.brokers[id]
	return !ok || b.Fenced
}

// Topic looks a topic up by name.
func (im Image) Topic(name string) (TopicInfo, bool) {
	id, ok := im.topicIDs[name]
	if !ok {
		return TopicInfo{}, false
	}
	return im.TopicByID(id)
}

// TopicByID looks a topic up by id.
func (im Image) TopicByID(id [16]byte) (TopicInfo, bool) {
	t := im.topic(id)
	if t == nil {
		return TopicInfo{}, false
	}
	return t.info(), true
}

// Topics returns every topic, sorted by name.
func (im Image) Topics() []TopicInfo {
	out := make([]TopicInfo, 0, len(im.topicIDs))
	for _, name := range im.topicNames() {
		out = append(out, im.topic(im.topicIDs[name]).info())
	}
	return out
}

// Partition returns a copy of one partition.
func (im Image) Partition(topicID [16]byte, p int32) (PartitionState, bool) {
	ps, ok := im.partition(topicID, p)
	if !ok {
		return PartitionState{}, false
	}
	return ps.clone(), true
}

// Partitions returns copies of every partition of a topic, in partition order.
func (im Image) Partitions(topicID [16]byte) []PartitionState {
	t := im.topic(topicID)
	if t == nil {
		return nil
	}
	out := make([]PartitionState, len(t.partitions))
	for i, ps := range t.partitions {
		out[i] = ps.clone()
	}
	return out
}

// LeaderOf returns the leader and leader epoch of a partition; ok is false for an
// unknown partition. The leader is NoLeader when the partition has none.
func (im Image) LeaderOf(topicID [16]byte, p int32) (leader, leaderEpoch int32, ok bool) {
	ps, ok := im.partition(topicID, p)
	if !ok {
		return NoLeader, 0, false
	}
	return ps.Leader, ps.LeaderEpoch, true
}

// PartitionsLedBy lists the partitions broker id leads, sorted by topic name and
// partition.
func (im Image) PartitionsLedBy(id int32) []TopicPartition {
	return im.partitionsWhere(func(ps *PartitionState) bool { return ps.Leader == id })
}

// PartitionsReplicatedOn lists the partitions with a replica on broker id, sorted by
// topic name and partition.
func (im Image) PartitionsReplicatedOn(id int32) []TopicPartition {
	return im.partitionsWhere(func(ps *PartitionState) bool { return slices.Contains(ps.Replicas, id) })
}

// TopicConfig returns the keys set on a topic, sorted by key.
func (im Image) TopicConfig(name string) []ConfigEntry {
	id, ok := im.topicIDs[name]
	if !ok {
		return nil
	}
	return sortedEntries(im.topic(id).configs)
}

// BrokerConfig returns the keys set on a broker resource ("" is the cluster default,
// otherwise the broker id in decimal), sorted by key.
func (im Image) BrokerConfig(name string) []ConfigEntry {
	return sortedEntries(im.brokerConfigs[name])
}

// BrokerConfigNames lists the broker resources that have keys set, sorted.
func (im Image) BrokerConfigNames() []string {
	names := make([]string, 0, len(im.brokerConfigs))
	for n := range im.brokerConfigs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// topicConfigValue returns the value of key set on topic name, if any.
func (im Image) topicConfigValue(name, key string) (string, bool) {
	id, ok := im.topicIDs[name]
	if !ok {
		return "", false
	}
	v, ok := im.topic(id).configs[key]
	return v, ok
}

func (im Image) partitionsWhere(keep func(*PartitionState) bool) []TopicPartition {
	var out []TopicPartition
	for _, name := range im.topicNames() {
		t := im.topic(im.topicIDs[name])
		for i := range t.partitions {
			if keep(&t.partitions[i]) {
				out = append(out, TopicPartition{Topic: t.name, TopicID: t.id, Partition: int32(i)})
			}
		}
	}
	return out
}

func (im Image) topic(id [16]byte) *topicState {
	if im.shards == nil {
		return nil
	}
	return im.shards[shardOf(id)][id]
}

func (im Image) partition(topicID [16]byte, p int32) (*PartitionState, bool) {
	t := im.topic(topicID)
	if t == nil || p < 0 || int(p) >= len(t.partitions) {
		return nil, false
	}
	return &t.partitions[p], true
}

func (im Image) brokerIDs() []int32 {
	ids := make([]int32, 0, len(im.brokers))
	for id := range im.brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (im Image) topicNames() []string {
	names := make([]string, 0, len(im.topicIDs))
	for n := range im.topicIDs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// topicIDsSorted lists topic ids in byte order, the order snapshots use.
func (im Image) topicIDsSorted() [][16]byte {
	ids := make([][16]byte, 0, len(im.topicIDs))
	for _, id := range im.topicIDs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b [16]byte) int { return compareIDs(a, b) })
	return ids
}

func compareIDs(a, b [16]byte) int {
	for i := range a {
		if c := cmp.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// shardOf spreads ids over the shards. Ids are random, but a cheap mix of all bytes keeps
// hand-made ids (tests, tools) from piling into one shard.
func shardOf(id [16]byte) int {
	var h uint32 = 2166136261
	for _, c := range id {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % topicShardCount)
}

func (t *topicState) info() TopicInfo {
	return TopicInfo{Name: t.name, ID: t.id, Partitions: int32(len(t.partitions))}
}

func (b *Broker) clone() Broker {
	c := *b
	c.Listeners = slices.Clone(b.Listeners)
	return c
}

func (ps *PartitionState) clone() PartitionState {
	c := *ps
	c.Replicas = slices.Clone(ps.Replicas)
	c.ISR = slices.Clone(ps.ISR)
	return c
}

func sortedEntries(m map[string]string) []ConfigEntry {
	if len(m) == 0 {
		return nil
	}
	out := make([]ConfigEntry, 0, len(m))
	for k, v := range m {
		out = append(out, ConfigEntry{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b ConfigEntry) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// BrokerResourceName is the config resource name of broker id.
func BrokerResourceName(id int32) string { return strconv.FormatInt(int64(id), 10) }
