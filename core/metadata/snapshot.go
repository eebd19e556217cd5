package metadata

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/sasl"
)

// snapshotVersion is the first byte of an encoded snapshot. Version 2 added the SCRAM
// credentials, the access control bindings and the client quotas; version 3 each
// partition's adding and removing replicas. Older snapshots, which lack them, still
// decode.
const snapshotVersion = 3

// EncodeSnapshot returns the canonical encoding of the image: equal images give equal
// bytes. Layout (enc's integers, strings and lengths):
//
//	version u8, offset i64, next producer id i64
//	brokers, by id: id i32, epoch i64, incarnation [16], listeners (name, host, port i32),
//	    rack, fenced bool, catch-up offset i64
//	topics, by id bytes: id [16], name, configs by key (key, value),
//	    partitions in order (replicas, ISR, leader i32, leader epoch i32, partition epoch i32,
//	    adding, removing)
//	broker config resources, by name: name, keys by key (key, value)
//	SCRAM credentials, by user then mechanism: user, mechanism u8, salt, stored key,
//	    server key, iterations i32
//	access control bindings, in acl.Compare order: resource type u8, name, pattern u8,
//	    principal, host, operation u8, permission u8
//	client quotas, by entity (CompareQuotaEntities): flags u8 (1 user, 2 client id),
//	    user, client id, keys by key (key, value as float64 bits u64)
func (im Image) EncodeSnapshot() []byte { return im.encodeSnapshot(snapshotVersion) }

// encodeSnapshot writes the layout of an older version too, for the tests that prove
// such snapshots still decode.
func (im Image) encodeSnapshot(version uint8) []byte {
	w := &enc.Writer{}
	w.U8(version)
	w.I64(im.Offset())
	w.I64(im.nextProducerID)
	w.Len(len(im.brokers))
	for _, id := range im.brokerIDs() {
		putBroker(w, im.brokers[id])
	}
	ids := im.topicIDsSorted()
	w.Len(len(ids))
	for _, id := range ids {
		putTopic(w, im.topic(id), version)
	}
	names := im.BrokerConfigNames()
	w.Len(len(names))
	for _, name := range names {
		w.String(name)
		putEntries(w, sortedEntries(im.brokerConfigs[name]))
	}
	if version < 2 {
		return w.B
	}
	keys := im.ScramKeys()
	w.Len(len(keys))
	for _, k := range keys {
		c := im.scram[k]
		w.String(k.User)
		w.U8(uint8(k.Mechanism))
		w.Bytes(c.Salt)
		w.Bytes(c.StoredKey)
		w.Bytes(c.ServerKey)
		w.I32(c.Iterations)
	}
	acls := im.Acls()
	w.Len(len(acls))
	for _, b := range acls {
		putBinding(w, b)
	}
	putQuotas(w, im)
	return w.B
}

func putBroker(w *enc.Writer, b *Broker) {
	w.I32(b.ID)
	w.I64(b.Epoch)
	putID(w, b.Incarnation)
	putListeners(w, b.Listeners)
	w.String(b.Rack)
	w.Bool(b.Fenced)
	w.I64(b.CatchUpOffset)
}

func putTopic(w *enc.Writer, t *topicState, version uint8) {
	putID(w, t.id)
	w.String(t.name)
	putEntries(w, sortedEntries(t.configs))
	w.Len(len(t.partitions))
	for _, ps := range t.partitions {
		w.I32s(ps.Replicas)
		w.I32s(ps.ISR)
		w.I32(ps.Leader)
		w.I32(ps.LeaderEpoch)
		w.I32(ps.PartitionEpoch)
		if version >= 3 {
			w.I32s(ps.Adding)
			w.I32s(ps.Removing)
		}
	}
}

func putEntries(w *enc.Writer, es []ConfigEntry) {
	w.Len(len(es))
	for _, e := range es {
		w.String(e.Key)
		w.String(e.Value)
	}
}

// Equal reports whether two images hold the same metadata at the same offset.
func Equal(a, b Image) bool { return bytes.Equal(a.EncodeSnapshot(), b.EncodeSnapshot()) }

// DecodeSnapshot parses a snapshot. It never panics, accepts only the canonical order,
// and checks every invariant Apply maintains, so a decoded image is as trustworthy as
// one built from records.
func DecodeSnapshot(b []byte) (Image, error) {
	r := &enc.Reader{B: b}
	v := r.U8()
	if r.Err() == nil && (v < 1 || v > snapshotVersion) {
		return Image{}, fmt.Errorf("%w: snapshot version %d", ErrDecode, v)
	}
	im, err := decodeSnapshotBody(r, v)
	if err == nil {
		err = r.Done()
	}
	if err != nil {
		return Image{}, fmt.Errorf("%w: snapshot: %w", ErrDecode, err)
	}
	return im, nil
}

// Smallest encodings, to bound allocations by the input size.
const (
	brokerBytesMin    = 4 + 8 + 16 + 1 + 1 + 1 + 8
	topicBytesMin     = 16 + 1 + 1 + 1
	partitionBytesMin = 1 + 1 + 4 + 4 + 4
	entryBytesMin     = 2
	resourceBytesMin  = 2
	scramBytesMin     = 1 + 1 + 1 + 1 + 1 + 4
	bindingBytesMin   = 1 + 1 + 1 + 1 + 1 + 1 + 1
)

func decodeSnapshotBody(r *enc.Reader, version uint8) (Image, error) {
	offset := r.I64()
	im := Image{next: offset + 1, nextProducerID: r.I64()}
	if r.Err() == nil && (offset < -1 || im.nextProducerID < 0) {
		return Image{}, fmt.Errorf("offset %d, next producer id %d", offset, im.nextProducerID)
	}
	if err := decodeBrokers(r, &im); err != nil {
		return Image{}, err
	}
	if err := decodeTopics(r, &im, version); err != nil {
		return Image{}, err
	}
	if err := decodeBrokerConfigs(r, &im); err != nil {
		return Image{}, err
	}
	if version >= 2 {
		if err := decodeScram(r, &im); err != nil {
			return Image{}, err
		}
		if err := decodeAcls(r, &im); err != nil {
			return Image{}, err
		}
		if err := decodeQuotas(r, &im); err != nil {
			return Image{}, err
		}
	}
	if r.Err() != nil {
		return Image{}, r.Err()
	}
	if offset == -1 && (len(im.brokers) > 0 || len(im.topicIDs) > 0 || len(im.brokerConfigs) > 0 || im.nextProducerID > 0 || len(im.scram) > 0 || im.AclCount() > 0 || len(im.quotas) > 0) {
		return Image{}, errors.New("content in an image with nothing applied")
	}
	return im, nil
}

func decodeBrokers(r *enc.Reader, im *Image) error {
	n := r.Len(brokerBytesMin)
	if n > 0 {
		im.brokers = make(map[int32]*Broker, n)
	}
	prev := int32(-1)
	for i := 0; i < n && r.Err() == nil; i++ {
		b := &Broker{ID: r.I32(), Epoch: r.I64(), Incarnation: getID(r), Listeners: getListeners(r),
			Rack: r.String(), Fenced: r.Bool(), CatchUpOffset: r.I64()}
		if r.Err() != nil {
			break
		}
		if b.ID <= prev {
			return fmt.Errorf("broker %d out of order", b.ID)
		}
		prev = b.ID
		if err := checkBroker(b, im.Offset()); err != nil {
			return err
		}
		im.brokers[b.ID] = b
	}
	return nil
}

func checkBroker(b *Broker, offset int64) error {
	reg := RegisterBroker{BrokerID: b.ID, Listeners: b.Listeners, Rack: b.Rack}
	if err := validateRegister(&Image{}, reg); err != nil {
		return err
	}
	if b.Epoch < 0 || b.CatchUpOffset < b.Epoch || b.CatchUpOffset > offset {
		return fmt.Errorf("broker %d: epoch %d, catch-up offset %d, image offset %d", b.ID, b.Epoch, b.CatchUpOffset, offset)
	}
	return nil
}

func decodeTopics(r *enc.Reader, im *Image, version uint8) error {
	n := r.Len(topicBytesMin)
	var prev [16]byte
	for i := 0; i < n && r.Err() == nil; i++ {
		t := &topicState{id: getID(r), name: r.String()}
		t.configs = getEntries(r)
		if r.Err() != nil {
			break
		}
		if compareIDs(t.id, prev) <= 0 {
			return fmt.Errorf("topic id %x zero or out of order", t.id)
		}
		prev = t.id
		if err := ValidTopicName(t.name); err != nil {
			return err
		}
		if _, dup := im.topicIDs[t.name]; dup {
			return fmt.Errorf("topic %q twice", t.name)
		}
		if err := decodePartitions(r, im, t, version); err != nil {
			return err
		}
		if im.shards == nil {
			im.shards = &[topicShardCount]map[[16]byte]*topicState{}
			im.topicIDs = map[string][16]byte{}
		}
		shard := im.shards[shardOf(t.id)]
		if shard == nil {
			shard = map[[16]byte]*topicState{}
			im.shards[shardOf(t.id)] = shard
		}
		shard[t.id] = t
		im.topicIDs[t.name] = t.id
	}
	return nil
}

func decodePartitions(r *enc.Reader, im *Image, t *topicState, version uint8) error {
	n := r.Len(partitionBytesMin)
	if n > 0 {
		t.partitions = make([]PartitionState, 0, n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		ps := PartitionState{TopicID: t.id, Partition: int32(i), Replicas: r.I32s(), ISR: r.I32s(),
			Leader: r.I32(), LeaderEpoch: r.I32(), PartitionEpoch: r.I32()}
		if version >= 3 {
			ps.Adding, ps.Removing = r.I32s(), r.I32s()
		}
		if r.Err() != nil {
			break
		}
		if err := checkPartition(im, &ps); err != nil {
			return fmt.Errorf("topic %q partition %d: %w", t.name, i, err)
		}
		t.partitions = append(t.partitions, ps)
	}
	return nil
}

// checkPartition is the snapshot form of Partition validation: replicas need not be
// registered (a broker may have been unregistered since), but a leader must be.
func checkPartition(im *Image, ps *PartitionState) error {
	if len(ps.Replicas) == 0 || len(ps.Replicas) > ReplicasMax {
		return fmt.Errorf("%d replicas", len(ps.Replicas))
	}
	for i, id := range ps.Replicas {
		if id < 0 || slices.Contains(ps.Replicas[:i], id) {
			return fmt.Errorf("replicas %v", ps.Replicas)
		}
	}
	if err := validISR(ps.ISR, ps.Replicas); err != nil {
		return err
	}
	if err := validMoveLists(ps.Replicas, ps.Adding, ps.Removing); err != nil {
		return err
	}
	if ps.Leader != NoLeader {
		if _, ok := im.brokers[ps.Leader]; !ok || !slices.Contains(ps.ISR, ps.Leader) {
			return fmt.Errorf("leader %d unregistered or not in ISR %v", ps.Leader, ps.ISR)
		}
	}
	if ps.LeaderEpoch < 0 || ps.PartitionEpoch < 0 {
		return fmt.Errorf("negative epoch")
	}
	return nil
}

func decodeBrokerConfigs(r *enc.Reader, im *Image) error {
	n := r.Len(resourceBytesMin)
	prev := ""
	for i := 0; i < n && r.Err() == nil; i++ {
		name := r.String()
		keys := getEntries(r)
		if r.Err() != nil {
			break
		}
		if (i > 0 && name <= prev) || !ValidBrokerResourceName(name) || len(keys) == 0 {
			return fmt.Errorf("broker config resource %q out of order, invalid or empty", name)
		}
		prev = name
		if im.brokerConfigs == nil {
			im.brokerConfigs = map[string]map[string]string{}
		}
		im.brokerConfigs[name] = keys
	}
	return nil
}

func decodeScram(r *enc.Reader, im *Image) error {
	n := r.Len(scramBytesMin)
	var prev ScramKey
	for i := 0; i < n && r.Err() == nil; i++ {
		rec := ScramCredential{User: r.String(), Mechanism: sasl.Mechanism(r.U8()), Salt: ownBytes(r),
			StoredKey: ownBytes(r), ServerKey: ownBytes(r), Iterations: r.I32()}
		if r.Err() != nil {
			break
		}
		k := ScramKey{rec.User, rec.Mechanism}
		if i > 0 && compareScramKeys(k, prev) <= 0 {
			return fmt.Errorf("SCRAM credential of %q out of order", rec.User)
		}
		prev = k
		if err := validateScram(im, rec); err != nil {
			return err
		}
		if im.scram == nil {
			im.scram = make(map[ScramKey]sasl.Credential, n)
		}
		im.scram[k] = sasl.Credential{Salt: rec.Salt, StoredKey: rec.StoredKey, ServerKey: rec.ServerKey, Iterations: rec.Iterations}
	}
	return nil
}

func decodeAcls(r *enc.Reader, im *Image) error {
	n := r.Len(bindingBytesMin)
	var prev acl.Binding
	for i := 0; i < n && r.Err() == nil; i++ {
		b := getBinding(r)
		if r.Err() != nil {
			break
		}
		if i > 0 && acl.Compare(b, prev) <= 0 {
			return fmt.Errorf("binding %+v out of order", b)
		}
		prev = b
		if err := validateAcl(im, b); err != nil {
			return err
		}
		if im.acls == nil {
			im.acls = (*aclSet)(nil).clone()
			// The change is somewhere at or before the snapshot: assume the latest.
			im.acls.changedAt = im.Offset()
		}
		im.acls.add(b)
	}
	return nil
}

// getEntries reads sorted config entries into a map, failing the reader on disorder or
// on keys and values a Config record could not have set.
func getEntries(r *enc.Reader) map[string]string {
	n := r.Len(entryBytesMin)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	prev := ""
	for i := 0; i < n && r.Err() == nil; i++ {
		k, v := r.String(), r.String()
		if r.Err() != nil {
			break
		}
		if k == "" || len(k) > NameBytesMax || len(v) > ConfigValueBytes || (i > 0 && cmp.Compare(k, prev) <= 0) {
			r.Fail(fmt.Errorf("%w: config key %q out of order or invalid", enc.ErrBad, k))
			break
		}
		prev = k
		m[k] = v
	}
	return m
}
