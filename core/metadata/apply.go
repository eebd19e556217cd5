package metadata

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/sasl"
)

// ErrInvalid wraps every reason a record does not apply to an image.
var ErrInvalid = errors.New("metadata: invalid record")

// Bounds on what one record may carry. They keep a hostile or buggy record from making
// every broker hold something absurd; the controller stays well inside them.
const (
	ListenersMax     = 64
	NameBytesMax     = 255 // listener names, hosts, racks, config keys
	ReplicasMax      = 128
	ConfigValueBytes = 32 << 10
	// ScramCredentialsMax bounds the stored SCRAM credentials (users times mechanisms).
	ScramCredentialsMax = 10_000
	// AclsMax bounds the stored access control bindings.
	AclsMax = 10_000
)

// Entry is a record with the log offset it was committed at.
type Entry struct {
	Offset int64
	Record Record
}

// Validate reports whether rec would apply to im. It is exactly the check Apply makes.
func Validate(im Image, rec Record) error {
	return validate(&im, rec)
}

// Apply returns the image after rec, committed at offset. The receiver is left
// unchanged. Offsets must rise; gaps are fine (the quorum log holds records of its own).
func (im Image) Apply(offset int64, rec Record) (Image, error) {
	b := newBuilder(im)
	if err := b.apply(offset, rec); err != nil {
		return im, err
	}
	return b.im, nil
}

// ApplyBatch applies entries in order, all or nothing. Each structure the batch touches
// is copied once however many records touch it, so a topic created with many partitions
// or a broker fenced off many leaderships costs time linear in the batch.
func (im Image) ApplyBatch(entries []Entry) (Image, error) {
	b := newBuilder(im)
	for i, e := range entries {
		if err := b.apply(e.Offset, e.Record); err != nil {
			return im, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return b.im, nil
}

// builder applies records to a private copy of an image. own* flags mark structures the
// builder has already copied; only those may be written in place.
type builder struct {
	im                  Image
	ownBrokers          bool
	ownTopicIDs         bool
	ownShards           bool
	ownShard            [topicShardCount]bool
	ownTopic            map[[16]byte]bool
	ownTopicConfigs     map[[16]byte]bool
	ownBrokerConfigs    bool
	ownBrokerConfigKeys map[string]bool
	ownScram            bool
	ownAcls             bool
	ownQuotas           bool
}

func newBuilder(im Image) *builder { return &builder{im: im} }

func (b *builder) apply(offset int64, rec Record) error {
	if offset < b.im.next {
		return fmt.Errorf("%w: %s at offset %d, not after %d", ErrInvalid, rec.Kind(), offset, b.im.Offset())
	}
	if err := validate(&b.im, rec); err != nil {
		return err
	}
	switch r := rec.(type) {
	case RegisterBroker:
		b.setBroker(&Broker{ID: r.BrokerID, Epoch: offset, Incarnation: r.Incarnation,
			Listeners: slices.Clone(r.Listeners), Rack: r.Rack, Fenced: true, CatchUpOffset: offset})
	case FenceBroker:
		br := *b.im.brokers[r.BrokerID]
		br.Fenced, br.CatchUpOffset = true, offset
		b.setBroker(&br)
	case UnfenceBroker:
		br := *b.im.brokers[r.BrokerID]
		br.Fenced = false
		b.setBroker(&br)
	case UnregisterBroker:
		b.mutableBrokers()
		delete(b.im.brokers, r.BrokerID)
	case Topic:
		b.addTopic(r)
	case Partition:
		t := b.mutableTopic(r.TopicID)
		t.partitions = append(t.partitions, PartitionState{TopicID: r.TopicID, Partition: r.Partition,
			Replicas: slices.Clone(r.Replicas), ISR: slices.Clone(r.ISR), Leader: r.Leader,
			LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch})
	case PartitionChange:
		b.changePartition(offset, r.TopicID, r.Partition, r.ISR, r.Leader, nil)
	case Reassign:
		b.changePartition(offset, r.TopicID, r.Partition, r.ISR, r.Leader, func(ps *PartitionState) {
			ps.Replicas, ps.Adding, ps.Removing = slices.Clone(r.Replicas), slices.Clone(r.Adding), slices.Clone(r.Removing)
		})
	case RemoveTopic:
		b.removeTopic(r.TopicID)
	case Config:
		b.setConfig(r)
	case ProducerIDs:
		b.im.nextProducerID = r.NextProducerID
	case ScramCredential:
		b.mutableScram()
		b.im.scram[ScramKey{r.User, r.Mechanism}] = sasl.Credential{Salt: slices.Clone(r.Salt),
			StoredKey: slices.Clone(r.StoredKey), ServerKey: slices.Clone(r.ServerKey), Iterations: r.Iterations}
	case RemoveScram:
		b.mutableScram()
		delete(b.im.scram, ScramKey{r.User, r.Mechanism})
	case Acl:
		b.mutableAcls().add(r.Binding)
		b.im.acls.changedAt = offset
	case RemoveAcl:
		b.mutableAcls().remove(r.Binding)
		b.im.acls.changedAt = offset
	case ClientQuota:
		b.setQuota(r)
	}
	b.im.next = offset + 1
	return nil
}

// changePartition applies a PartitionChange or a Reassign: replicas (when non-nil) sets
// the replica lists first.
func (b *builder) changePartition(offset int64, topicID [16]byte, partition int32, isr []int32, leader int32,
	replicas func(*PartitionState)) {
	t := b.mutableTopic(topicID)
	ps := t.partitions[partition]
	if replicas != nil {
		replicas(&ps)
	}
	if isr != nil {
		ps.ISR = slices.Clone(isr)
	}
	if leader != LeaderUnchanged && leader != ps.Leader {
		if old, ok := b.im.brokers[ps.Leader]; ok {
			br := *old
			br.CatchUpOffset = offset
			b.setBroker(&br)
		}
		ps.Leader = leader
		ps.LeaderEpoch++
	}
	ps.PartitionEpoch++
	t.partitions[partition] = ps
}

func (b *builder) addTopic(r Topic) {
	if !b.ownTopicIDs {
		b.im.topicIDs = cloneMap(b.im.topicIDs)
		b.ownTopicIDs = true
	}
	b.im.topicIDs[r.Name] = r.ID
	shard := b.mutableShard(r.ID)
	shard[r.ID] = &topicState{name: r.Name, id: r.ID}
	b.markTopicOwned(r.ID)
}

func (b *builder) removeTopic(id [16]byte) {
	t := b.im.topic(id)
	if !b.ownTopicIDs {
		b.im.topicIDs = cloneMap(b.im.topicIDs)
		b.ownTopicIDs = true
	}
	delete(b.im.topicIDs, t.name)
	delete(b.mutableShard(id), id)
	delete(b.ownTopic, id)
	delete(b.ownTopicConfigs, id)
}

func (b *builder) setConfig(r Config) {
	if r.Resource == ConfigTopic {
		t := b.mutableTopic(b.im.topicIDs[r.Name])
		if !b.ownTopicConfigs[t.id] || t.configs == nil {
			t.configs = cloneMap(t.configs)
			b.ownTopicConfigs[t.id] = true
		}
		setOrDelete(t.configs, r)
		if len(t.configs) == 0 {
			t.configs = nil
		}
		return
	}
	if !b.ownBrokerConfigs {
		b.im.brokerConfigs = cloneMap(b.im.brokerConfigs)
		b.ownBrokerConfigs = true
		b.ownBrokerConfigKeys = map[string]bool{}
	}
	keys := b.im.brokerConfigs[r.Name]
	if !b.ownBrokerConfigKeys[r.Name] {
		keys = cloneMap(keys)
		b.ownBrokerConfigKeys[r.Name] = true
	}
	setOrDelete(keys, r)
	if len(keys) == 0 {
		delete(b.im.brokerConfigs, r.Name)
		delete(b.ownBrokerConfigKeys, r.Name)
		return
	}
	b.im.brokerConfigs[r.Name] = keys
}

func setOrDelete(m map[string]string, r Config) {
	if r.Delete {
		delete(m, r.Key)
	} else {
		m[r.Key] = r.Value
	}
}

func (b *builder) mutableAcls() *aclSet {
	if !b.ownAcls {
		b.im.acls = b.im.acls.clone()
		b.ownAcls = true
	}
	return b.im.acls
}

func (b *builder) mutableScram() {
	if !b.ownScram {
		b.im.scram = cloneMap(b.im.scram)
		b.ownScram = true
	}
}

func (b *builder) mutableBrokers() {
	if !b.ownBrokers {
		b.im.brokers = cloneMap(b.im.brokers)
		b.ownBrokers = true
	}
}

func (b *builder) setBroker(br *Broker) {
	b.mutableBrokers()
	b.im.brokers[br.ID] = br
}

func (b *builder) mutableShard(id [16]byte) map[[16]byte]*topicState {
	if !b.ownShards {
		var shards [topicShardCount]map[[16]byte]*topicState
		if b.im.shards != nil {
			shards = *b.im.shards
		}
		b.im.shards = &shards
		b.ownShards = true
	}
	s := shardOf(id)
	if !b.ownShard[s] {
		b.im.shards[s] = cloneMap(b.im.shards[s])
		b.ownShard[s] = true
	}
	return b.im.shards[s]
}

// mutableTopic returns topic id (which must exist) ready to be written in place.
func (b *builder) mutableTopic(id [16]byte) *topicState {
	if b.ownTopic[id] {
		return b.im.topic(id)
	}
	shard := b.mutableShard(id)
	t := *shard[id]
	t.partitions = slices.Clone(t.partitions)
	shard[id] = &t
	b.markTopicOwned(id)
	b.ownTopicConfigs[id] = false
	return &t
}

func (b *builder) markTopicOwned(id [16]byte) {
	if b.ownTopic == nil {
		b.ownTopic = map[[16]byte]bool{}
		b.ownTopicConfigs = map[[16]byte]bool{}
	}
	b.ownTopic[id] = true
	b.ownTopicConfigs[id] = true // a new topic has no configs map to share yet
}

// cloneMap copies m; a nil m gives an empty, writable map.
func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

func validate(im *Image, rec Record) error {
	var err error
	switch r := rec.(type) {
	case RegisterBroker:
		err = validateRegister(im, r)
	case FenceBroker:
		err = validateFencing(im, r.BrokerID, r.BrokerEpoch, false)
	case UnfenceBroker:
		err = validateFencing(im, r.BrokerID, r.BrokerEpoch, true)
	case UnregisterBroker:
		err = validateUnregister(im, r)
	case Topic:
		err = validateTopic(im, r)
	case Partition:
		err = validatePartition(im, r)
	case PartitionChange:
		err = validatePartitionChange(im, r)
	case Reassign:
		err = validateReassign(im, r)
	case RemoveTopic:
		if im.topic(r.TopicID) == nil {
			err = fmt.Errorf("unknown topic id %x", r.TopicID)
		}
	case Config:
		err = validateConfig(im, r)
	case ProducerIDs:
		err = validateProducerIDs(im, r)
	case ScramCredential:
		err = validateScram(im, r)
	case RemoveScram:
		if _, ok := im.scram[ScramKey{r.User, r.Mechanism}]; !ok {
			err = fmt.Errorf("no %s credential for user %q", r.Mechanism, r.User)
		}
	case Acl:
		err = validateAcl(im, r.Binding)
	case RemoveAcl:
		if !im.HasAcl(r.Binding) {
			err = fmt.Errorf("no binding %+v", r.Binding)
		}
	case ClientQuota:
		err = validateClientQuota(im, r)
	case nil:
		return fmt.Errorf("%w: nil record", ErrInvalid)
	default:
		return fmt.Errorf("%w: unknown record type %T", ErrInvalid, rec)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, rec.Kind(), err)
	}
	return nil
}

func validateRegister(im *Image, r RegisterBroker) error {
	if r.BrokerID < 0 {
		return fmt.Errorf("negative broker id %d", r.BrokerID)
	}
	if len(r.Listeners) > ListenersMax {
		return fmt.Errorf("%d listeners, more than %d", len(r.Listeners), ListenersMax)
	}
	for i, l := range r.Listeners {
		if l.Name == "" || len(l.Name) > NameBytesMax || len(l.Host) > NameBytesMax {
			return fmt.Errorf("listener %d: name or host empty or too long", i)
		}
		if l.Port < 0 || l.Port > math.MaxUint16 {
			return fmt.Errorf("listener %q: port %d out of range", l.Name, l.Port)
		}
		for _, prev := range r.Listeners[:i] {
			if prev.Name == l.Name {
				return fmt.Errorf("listener %q listed twice", l.Name)
			}
		}
	}
	if len(r.Rack) > NameBytesMax {
		return fmt.Errorf("rack longer than %d bytes", NameBytesMax)
	}
	if old, ok := im.brokers[r.BrokerID]; ok && !old.Fenced {
		// The old incarnation may still hold a lease; it must be fenced first.
		return fmt.Errorf("broker %d re-registered while its epoch %d is unfenced", r.BrokerID, old.Epoch)
	}
	return nil
}

func brokerWithEpoch(im *Image, id int32, epoch int64) (*Broker, error) {
	b, ok := im.brokers[id]
	if !ok {
		return nil, fmt.Errorf("broker %d not registered", id)
	}
	if b.Epoch != epoch {
		return nil, fmt.Errorf("broker %d: stale epoch %d, current %d", id, epoch, b.Epoch)
	}
	return b, nil
}

func validateFencing(im *Image, id int32, epoch int64, unfence bool) error {
	b, err := brokerWithEpoch(im, id, epoch)
	if err != nil {
		return err
	}
	if b.Fenced != unfence {
		return fmt.Errorf("broker %d: fenced is already %v", id, b.Fenced)
	}
	return nil
}

func validateUnregister(im *Image, r UnregisterBroker) error {
	b, err := brokerWithEpoch(im, r.BrokerID, r.BrokerEpoch)
	if err != nil {
		return err
	}
	if !b.Fenced {
		return fmt.Errorf("broker %d is unfenced", r.BrokerID)
	}
	if led := im.PartitionsLedBy(r.BrokerID); len(led) > 0 {
		return fmt.Errorf("broker %d still leads %s-%d", r.BrokerID, led[0].Topic, led[0].Partition)
	}
	return nil
}

func validateTopic(im *Image, r Topic) error {
	if err := ValidTopicName(r.Name); err != nil {
		return err
	}
	if r.ID == ([16]byte{}) {
		return errors.New("zero topic id")
	}
	if _, ok := im.topicIDs[r.Name]; ok {
		return fmt.Errorf("topic %q exists", r.Name)
	}
	if im.topic(r.ID) != nil {
		return fmt.Errorf("topic id %x in use", r.ID)
	}
	return nil
}

func validatePartition(im *Image, r Partition) error {
	t := im.topic(r.TopicID)
	if t == nil {
		return fmt.Errorf("unknown topic id %x", r.TopicID)
	}
	if int64(r.Partition) != int64(len(t.partitions)) {
		return fmt.Errorf("topic %q: partition %d added, next is %d", t.name, r.Partition, len(t.partitions))
	}
	if err := validReplicas(im, r.Replicas); err != nil {
		return err
	}
	if err := validISR(r.ISR, r.Replicas); err != nil {
		return err
	}
	if r.Leader != NoLeader && !slices.Contains(r.ISR, r.Leader) {
		return fmt.Errorf("leader %d not in ISR %v", r.Leader, r.ISR)
	}
	if r.LeaderEpoch < 0 || r.PartitionEpoch < 0 {
		return fmt.Errorf("negative epoch %d/%d", r.LeaderEpoch, r.PartitionEpoch)
	}
	return nil
}

func validReplicas(im *Image, replicas []int32) error {
	if len(replicas) == 0 || len(replicas) > ReplicasMax {
		return fmt.Errorf("%d replicas, want 1..%d", len(replicas), ReplicasMax)
	}
	for i, id := range replicas {
		if _, ok := im.brokers[id]; !ok {
			return fmt.Errorf("replica %d not a registered broker", id)
		}
		if slices.Contains(replicas[:i], id) {
			return fmt.Errorf("replica %d listed twice", id)
		}
	}
	return nil
}

// validISR checks that isr is a non-empty subset of replicas without duplicates.
func validISR(isr, replicas []int32) error {
	if len(isr) == 0 {
		return errors.New("empty ISR")
	}
	for i, id := range isr {
		if !slices.Contains(replicas, id) {
			return fmt.Errorf("ISR member %d not a replica %v", id, replicas)
		}
		if slices.Contains(isr[:i], id) {
			return fmt.Errorf("ISR member %d listed twice", id)
		}
	}
	return nil
}

func validatePartitionChange(im *Image, r PartitionChange) error {
	ps, ok := im.partition(r.TopicID, r.Partition)
	if !ok {
		return fmt.Errorf("unknown partition %x-%d", r.TopicID, r.Partition)
	}
	return validateChange(im, ps, ps.Replicas, r.ISR, r.Leader, false)
}

func validateReassign(im *Image, r Reassign) error {
	ps, ok := im.partition(r.TopicID, r.Partition)
	if !ok {
		return fmt.Errorf("unknown partition %x-%d", r.TopicID, r.Partition)
	}
	if len(r.Replicas) == 0 || len(r.Replicas) > ReplicasMax {
		return fmt.Errorf("%d replicas, want 1..%d", len(r.Replicas), ReplicasMax)
	}
	for i, id := range r.Replicas {
		if slices.Contains(r.Replicas[:i], id) {
			return fmt.Errorf("replica %d listed twice", id)
		}
		if _, ok := im.brokers[id]; !ok && !slices.Contains(ps.Replicas, id) {
			return fmt.Errorf("new replica %d not a registered broker", id)
		}
	}
	if err := validMoveLists(r.Replicas, r.Adding, r.Removing); err != nil {
		return err
	}
	moves := !slices.Equal(r.Replicas, ps.Replicas) || !slices.Equal(r.Adding, ps.Adding) || !slices.Equal(r.Removing, ps.Removing)
	isr := r.ISR
	if isr == nil {
		isr = ps.ISR
	}
	return validateChange(im, ps, r.Replicas, isr, r.Leader, moves)
}

// validMoveLists checks a reassignment's adding and removing lists against replicas:
// distinct replicas each, disjoint, and at least one target replica left.
func validMoveLists(replicas, adding, removing []int32) error {
	for i, id := range adding {
		if !slices.Contains(replicas, id) || slices.Contains(removing, id) || slices.Contains(adding[:i], id) {
			return fmt.Errorf("adding %v: not distinct target replicas of %v", adding, replicas)
		}
	}
	for i, id := range removing {
		if !slices.Contains(replicas, id) || slices.Contains(removing[:i], id) {
			return fmt.Errorf("removing %v: not distinct replicas of %v", removing, replicas)
		}
	}
	if len(removing) >= len(replicas) {
		return fmt.Errorf("removing %v leaves no target replica", removing)
	}
	return nil
}

// validateChange checks a partition's next ISR (nil keeps it) and leader against its
// next replicas: the Partition rules, a registered new leader, epochs left, and a change.
func validateChange(im *Image, ps *PartitionState, replicas, nextISR []int32, nextLeader int32, moves bool) error {
	isr := ps.ISR
	if nextISR != nil {
		if err := validISR(nextISR, replicas); err != nil {
			return err
		}
		isr = nextISR
	}
	leader := ps.Leader
	switch {
	case nextLeader == LeaderUnchanged:
	case nextLeader == NoLeader:
		leader = NoLeader
	case nextLeader < 0:
		return fmt.Errorf("leader %d", nextLeader)
	default:
		if _, ok := im.brokers[nextLeader]; !ok {
			return fmt.Errorf("leader %d not a registered broker", nextLeader)
		}
		leader = nextLeader
	}
	if leader != NoLeader && !slices.Contains(isr, leader) {
		return fmt.Errorf("leader %d not in ISR %v", leader, isr)
	}
	leaderChanges := leader != ps.Leader
	if !moves && !leaderChanges && slices.Equal(isr, ps.ISR) {
		return errors.New("changes nothing")
	}
	if ps.PartitionEpoch == math.MaxInt32 || (leaderChanges && ps.LeaderEpoch == math.MaxInt32) {
		return errors.New("epoch exhausted")
	}
	return nil
}

func validateConfig(im *Image, r Config) error {
	var current map[string]string
	switch r.Resource {
	case ConfigTopic:
		id, ok := im.topicIDs[r.Name]
		if !ok {
			return fmt.Errorf("unknown topic %q", r.Name)
		}
		current = im.topic(id).configs
	case ConfigBroker:
		if !ValidBrokerResourceName(r.Name) {
			return fmt.Errorf("broker resource %q is neither empty nor a broker id", r.Name)
		}
		current = im.brokerConfigs[r.Name]
	default:
		return fmt.Errorf("unknown resource type %d", r.Resource)
	}
	if r.Key == "" || len(r.Key) > NameBytesMax {
		return fmt.Errorf("key of %d bytes", len(r.Key))
	}
	if len(r.Value) > ConfigValueBytes {
		return fmt.Errorf("value of %d bytes, more than %d", len(r.Value), ConfigValueBytes)
	}
	if r.Delete {
		if r.Value != "" {
			return errors.New("delete with a value")
		}
		if _, ok := current[r.Key]; !ok {
			return fmt.Errorf("delete of unset key %q", r.Key)
		}
	}
	return nil
}

func validateProducerIDs(im *Image, r ProducerIDs) error {
	if _, err := brokerWithEpoch(im, r.BrokerID, r.BrokerEpoch); err != nil {
		return err
	}
	if r.NextProducerID <= im.nextProducerID {
		return fmt.Errorf("next producer id %d not above %d", r.NextProducerID, im.nextProducerID)
	}
	return nil
}

func validateScram(im *Image, r ScramCredential) error {
	if err := ValidScramUser(r.User); err != nil {
		return err
	}
	m := r.Mechanism
	switch {
	case !m.Valid():
		return fmt.Errorf("unknown SCRAM mechanism %d", m)
	case r.Iterations < sasl.IterationsMin || r.Iterations > sasl.IterationsMax:
		return fmt.Errorf("%d iterations, outside [%d, %d]", r.Iterations, sasl.IterationsMin, sasl.IterationsMax)
	case len(r.Salt) == 0 || len(r.Salt) > sasl.SaltBytesMax:
		return fmt.Errorf("salt of %d bytes", len(r.Salt))
	case len(r.StoredKey) != m.KeyBytes() || len(r.ServerKey) != m.KeyBytes():
		return fmt.Errorf("keys of %d and %d bytes, want %d", len(r.StoredKey), len(r.ServerKey), m.KeyBytes())
	}
	if _, ok := im.scram[ScramKey{r.User, m}]; !ok && len(im.scram) >= ScramCredentialsMax {
		return fmt.Errorf("already %d SCRAM credentials", len(im.scram))
	}
	return nil
}

func validateAcl(im *Image, b acl.Binding) error {
	if why := b.Validate(); why != "" {
		return errors.New(why)
	}
	if !im.HasAcl(b) && im.AclCount() >= AclsMax {
		return fmt.Errorf("already %d bindings", im.AclCount())
	}
	return nil
}

// ValidScramUser accepts user names of 1 to sasl.UserBytesMax bytes of valid UTF-8
// without control characters.
func ValidScramUser(user string) error {
	if user == "" || len(user) > sasl.UserBytesMax || !utf8.ValidString(user) {
		return fmt.Errorf("user name of %d bytes, or not UTF-8", len(user))
	}
	for _, r := range user {
		if unicode.IsControl(r) {
			return fmt.Errorf("user name %q holds a control character", user)
		}
	}
	return nil
}

// ValidBrokerResourceName accepts "" (the cluster default) and canonical decimal
// non-negative int32 broker ids.
func ValidBrokerResourceName(name string) bool {
	if name == "" {
		return true
	}
	if len(name) > 10 || (len(name) > 1 && name[0] == '0') {
		return false
	}
	var v int64
	for _, c := range []byte(name) {
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int64(c-'0')
	}
	return v <= math.MaxInt32
}
