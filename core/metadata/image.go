package metadata

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core/acl"
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
	// acls holds the access control bindings; nil when there are none. Immutable once
	// in an image: a change copies it.
	acls *aclSet
	// quotas holds the client quotas by entity; shared between images and copied
	// before a change. Inner maps are immutable once in an image; empty ones are removed.
	quotas map[QuotaEntity]map[string]float64
}

// aclSet is the bindings, and an index by resource pattern for authorization.
type aclSet struct {
	all        map[acl.Binding]struct{}
	byResource map[acl.Resource][]acl.Binding
	// prefixLens counts the prefixed patterns of each resource type by name length, so
	// that a lookup tries only lengths that exist.
	prefixLens map[acl.ResourceType]map[int]int
	changedAt  int64
}

func (s *aclSet) clone() *aclSet {
	c := &aclSet{all: map[acl.Binding]struct{}{}, byResource: map[acl.Resource][]acl.Binding{},
		prefixLens: map[acl.ResourceType]map[int]int{}, changedAt: -1}
	if s == nil {
		return c
	}
	c.changedAt = s.changedAt
	for b := range s.all {
		c.all[b] = struct{}{}
	}
	for r, bs := range s.byResource {
		c.byResource[r] = bs // replaced, never appended to in place, on a change
	}
	// order-independent: fills another map.
	for t, m := range s.prefixLens {
		c.prefixLens[t] = cloneMap(m)
	}
	return c
}

func (s *aclSet) add(b acl.Binding) {
	if _, ok := s.all[b]; ok {
		return
	}
	s.all[b] = struct{}{}
	r := b.Resource
	s.byResource[r] = append(slices.Clip(s.byResource[r]), b)
	if r.Pattern == acl.PatternPrefixed {
		if s.prefixLens[r.Type] == nil {
			s.prefixLens[r.Type] = map[int]int{}
		}
		s.prefixLens[r.Type][len(r.Name)]++
	}
}

func (s *aclSet) remove(b acl.Binding) {
	if _, ok := s.all[b]; !ok {
		return
	}
	delete(s.all, b)
	r := b.Resource
	rest := slices.DeleteFunc(slices.Clone(s.byResource[r]), func(x acl.Binding) bool { return x == b })
	if len(rest) == 0 {
		delete(s.byResource, r)
	} else {
		s.byResource[r] = rest
	}
	if r.Pattern == acl.PatternPrefixed {
		if s.prefixLens[r.Type][len(r.Name)]--; s.prefixLens[r.Type][len(r.Name)] == 0 {
			delete(s.prefixLens[r.Type], len(r.Name))
		}
	}
}

// AclChangedAt is the offset of the newest ACL record applied (-1: none), or, in an
// image decoded from a snapshot that holds bindings, the snapshot's offset.
func (im Image) AclChangedAt() int64 {
	if im.acls == nil {
		return -1
	}
	return im.acls.changedAt
}

// EachBroker calls fn with every registered broker's id and fencing, in no particular
// order (for callers whose result does not depend on it).
func (im Image) EachBroker(fn func(id int32, fenced bool)) {
	// order-independent: documented as unordered.
	for id, b := range im.brokers {
		fn(id, b.Fenced)
	}
}

// AclBindings calls each with every binding whose pattern may cover the resource of
// type t named name (acl.Bindings).
func (im Image) AclBindings(t acl.ResourceType, name string, each func(acl.Binding)) {
	s := im.acls
	if s == nil {
		return
	}
	for _, b := range s.byResource[acl.Resource{Type: t, Name: name, Pattern: acl.PatternLiteral}] {
		each(b)
	}
	if name != acl.Wildcard {
		for _, b := range s.byResource[acl.Resource{Type: t, Name: acl.Wildcard, Pattern: acl.PatternLiteral}] {
			each(b)
		}
	}
	// Authorize's decision does not depend on the order it sees bindings in.
	// order-independent: only lookups, whose results each takes in any order.
	for n := range s.prefixLens[t] {
		if n <= len(name) {
			for _, b := range s.byResource[acl.Resource{Type: t, Name: name[:n], Pattern: acl.PatternPrefixed}] {
				each(b)
			}
		}
	}
}

// Acls returns every binding, in acl.Compare order.
func (im Image) Acls() []acl.Binding {
	if im.acls == nil {
		return nil
	}
	out := make([]acl.Binding, 0, len(im.acls.all))
	// order-independent: sorted right after.
	for b := range im.acls.all {
		out = append(out, b)
	}
	slices.SortFunc(out, acl.Compare)
	return out
}

// AnyAcl reports whether some stored binding satisfies ok, without copying or sorting
// them.
func (im Image) AnyAcl(ok func(acl.Binding) bool) bool {
	if im.acls == nil {
		return false
	}
	// order-independent: whether any binding satisfies ok.
	for b := range im.acls.all {
		if ok(b) {
			return true
		}
	}
	return false
}

// HasAcl reports whether binding b is stored.
func (im Image) HasAcl(b acl.Binding) bool {
	if im.acls == nil {
		return false
	}
	_, ok := im.acls.all[b]
	return ok
}

// AclCount is the number of stored bindings.
func (im Image) AclCount() int {
	if im.acls == nil {
		return 0
	}
	return len(im.acls.all)
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
	// Adding and Removing are a reassignment's replicas joining and leaving (Reassign);
	// both are empty when the partition is not moving.
	Adding   []int32
	Removing []int32
}

// Moving reports whether a reassignment of the partition is under way.
func (ps PartitionState) Moving() bool { return len(ps.Adding)+len(ps.Removing) > 0 }

// Target is where a moving partition goes: its replicas less those being removed.
func (ps PartitionState) Target() []int32 {
	out := make([]int32, 0, len(ps.Replicas))
	for _, id := range ps.Replicas {
		if !slices.Contains(ps.Removing, id) {
			out = append(out, id)
		}
	}
	return out
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

// ReplicaOn reports whether the partition exists and has a replica on broker id.
func (im Image) ReplicaOn(topicID [16]byte, p int32, id int32) bool {
	ps, ok := im.partition(topicID, p)
	return ok && slices.Contains(ps.Replicas, id)
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

// ReplicaCounts returns how many partition replicas each broker holds, replicas a
// reassignment is adding included (they are in Replicas), in one pass over the
// partitions. Brokers that hold none are absent.
func (im Image) ReplicaCounts() map[int32]int {
	counts := map[int32]int{}
	for _, id := range im.topicIDs { // order-independent: only counts

		for _, ps := range im.topic(id).partitions {
			for _, b := range ps.Replicas {
				counts[b]++
			}
		}
	}
	return counts
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
	c.Adding = slices.Clone(ps.Adding)
	c.Removing = slices.Clone(ps.Removing)
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
