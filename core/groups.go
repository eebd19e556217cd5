package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the internal topic holding group metadata and committed offsets.
const OffsetsTopic = "__consumer_offsets"

// offsetsAppendTimeout bounds one write of a group coordinator.
const offsetsAppendTimeout = 30 * time.Second

// loadRetry is how long a coordinator's load waits when its partition's new leader
// cannot serve reads yet.
const loadRetry = 50 * time.Millisecond

// groupHost runs a group coordinator for every partition of the offsets topic this
// broker leads, and finds coordinators for clients.
type groupHost struct {
	coords map[int32]*groupCoord // by offsets partition
	// sorted holds the coordinators of coords ordered by partition, for deterministic
	// iteration on every tick and deadline without sorting the keys each time.
	sorted   []*groupCoord
	creating bool // a CreateTopics of the offsets topic is in flight
}

type groupCoord struct {
	c     *group.Coordinator
	epoch int32 // the leader epoch it was started in
	log   *offsetsLog
}

// syncCoordinators starts a coordinator where this broker newly leads an offsets
// partition and closes those it no longer leads.
func (n *Node) syncCoordinators(now int64) {
	g := &n.groups
	if g.coords == nil {
		g.coords = map[int32]*groupCoord{}
	}
	leading := map[int32]int32{}
	for _, hr := range n.replicas.sorted {
		if hr.topic != OffsetsTopic {
			continue
		}
		if ok, epoch := hr.r.Leading(); ok {
			leading[hr.part] = epoch
		}
	}
	changed := false
	for _, p := range sortedKeys(g.coords) {
		if epoch, ok := leading[p]; !ok || epoch != g.coords[p].epoch {
			changed = true
			g.coords[p].log.closed = true
			g.coords[p].c.Close()
			delete(g.coords, p)
			n.note("group-coordinator-stopped", fmt.Sprintf("offsets partition %d", p))
		}
	}
	for _, p := range sortedKeys(leading) {
		if g.coords[p] != nil {
			continue
		}
		changed = true
		log := &offsetsLog{n: n, part: p}
		cfg := group.DefaultConfig(p, rand.New(rand.NewPCG(n.rng.Uint64(), n.rng.Uint64())))
		cfg.Plants = n.cfg.Plants
		cfg.OffsetsRetention, cfg.OffsetsRetentionCheck = n.cfg.OffsetsRetention, n.cfg.OffsetsRetentionCheck
		cfg.Events = n.groupEvent
		g.coords[p] = &groupCoord{c: group.NewCoordinator(now, cfg, log), epoch: leading[p], log: log}
		n.note("group-coordinator-started", fmt.Sprintf("offsets partition %d epoch %d", p, leading[p]))
	}
	if changed {
		g.sortCoordinators()
	}
}

// groupEvent makes a note of a coordinator's event.
func (n *Node) groupEvent(e group.Event) {
	n.out.Notes = append(n.out.Notes, Note{Kind: e.Kind.String(), Text: e.String(), Group: &e})
}

// sortCoordinators rebuilds sorted from coords, in a new slice: a loop over the old one
// may be under way.
func (g *groupHost) sortCoordinators() {
	g.sorted = make([]*groupCoord, 0, len(g.coords))
	for _, p := range sortedKeys(g.coords) {
		g.sorted = append(g.sorted, g.coords[p])
	}
}

func (g *groupHost) coordinator(n *Node, groupID string) (*group.Coordinator, int16) {
	t, ok := n.quorum.image.Topic(OffsetsTopic)
	if !ok {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	gc := g.coords[group.PartitionFor(groupID, t.Partitions)]
	if gc == nil {
		return nil, kerr.NotCoordinator.Code
	}
	if !n.LeaseValid(n.now) && !n.cfg.Plants.On(plant.ServeAfterLease) {
		// As the partition leader it runs on: once its lease may have ended, the
		// controller may have moved the offsets partition, and a coordinator elsewhere
		// may have changed what this one would answer.
		return nil, kerr.NotCoordinator.Code
	}
	if code := gc.c.Availability(); code != 0 {
		return nil, code
	}
	return gc.c, 0
}

func (g *groupHost) find(n *Node, groupID string, reply func(int32, string, int32, int16)) {
	im := n.quorum.image
	t, ok := im.Topic(OffsetsTopic)
	if !ok {
		g.createOffsetsTopic(n)
		reply(-1, "", -1, kerr.CoordinatorNotAvailable.Code)
		return
	}
	leader, _, ok := im.LeaderOf(t.ID, group.PartitionFor(groupID, t.Partitions))
	b, known := im.Broker(leader)
	l, reachable := b.Endpoint(n.ctx.listener)
	if !ok || leader < 0 || !known || b.Fenced || !reachable {
		reply(-1, "", -1, kerr.CoordinatorNotAvailable.Code)
		return
	}
	reply(leader, l.Host, l.Port, 0)
}

// createOffsetsTopic asks the controller to create the offsets topic, as Kafka does on
// the first FindCoordinator.
func (g *groupHost) createOffsetsTopic(n *Node) {
	if g.creating {
		return
	}
	live := 0
	for _, b := range n.quorum.image.Brokers() {
		if !b.Fenced {
			live++
		}
	}
	rf := int16(max(1, min(3, live)))
	if want := n.cfg.Defaults.OffsetsTopicReplicationFactor; want > 0 {
		if int32(live) < want {
			return // not yet: too few brokers are live for the replication asked
		}
		rf = int16(want)
	}
	g.creating = true
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(5)
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = OffsetsTopic, n.cfg.Defaults.OffsetsTopicPartitions, rf
	compact := "compact"
	t.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "cleanup.policy", Value: &compact}}
	req.Topics = append(req.Topics, t)
	n.rpc.callController(n, req, func(kmsg.Response, error) { g.creating = false })
}

func (g *groupHost) all() []*group.Coordinator {
	out := make([]*group.Coordinator, 0, len(g.sorted))
	for _, gc := range g.sorted {
		out = append(out, gc.c)
	}
	return out
}

func (g *groupHost) tick(now int64) {
	for _, gc := range g.sorted {
		gc.c.Tick(now)
	}
}

func (g *groupHost) deadline() int64 {
	d := NoDeadline
	for _, gc := range g.sorted {
		d = min(d, gc.c.Deadline())
	}
	return d
}

// GroupStatus lists the state of every coordinator on this broker, for checkers.
func (n *Node) GroupStatus() []group.Status {
	out := []group.Status{}
	for _, c := range n.groups.all() {
		out = append(out, c.Status())
	}
	return out
}

// GroupMembers is GroupStatus without the committed offsets, which checkers of
// assignments need not copy.
func (n *Node) GroupMembers() []group.Status {
	out := []group.Status{}
	for _, c := range n.groups.all() {
		out = append(out, c.MemberStatus())
	}
	return out
}

// offsetsLog is a coordinator's offsets partition (group.Log), through the local
// replica, which must be the partition's leader.
type offsetsLog struct {
	n      *Node
	part   int32
	closed bool
}

func (l *offsetsLog) replica() *hosted {
	if l.closed {
		return nil
	}
	return l.n.replica(OffsetsTopic, l.part)
}

// Append writes the records as one batch with acks=all.
func (l *offsetsLog) Append(now int64, recs []group.KV, done func(int64, error)) {
	l.write(now, record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: now / 1e6}.NoProducer(), recs, done)
}

// AppendTxn writes the records as one batch of producer pid's transaction (base
// sequence -1: the coordinator writes it, not the producer) with acks=all.
func (l *offsetsLog) AppendTxn(now int64, pid int64, epoch int16, recs []group.KV, done func(int64, error)) {
	spec := record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: now / 1e6,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1, Transactional: true}
	l.write(now, spec, recs, done)
}

// write builds one batch of recs by spec and appends it through the leader replica.
func (l *offsetsLog) write(now int64, spec record.Spec, recs []group.KV, done func(int64, error)) {
	r := l.replica()
	if r == nil {
		done(-1, group.ErrNotLeader)
		return
	}
	krs := make([]kmsg.Record, len(recs))
	for i, kv := range recs {
		krs[i] = kmsg.Record{Key: kv.Key, Value: kv.Value}
	}
	batch, err := record.Build(spec, krs)
	if err != nil {
		done(-1, fmt.Errorf("%w: %v", group.ErrTooLarge, err))
		return
	}
	acks := int16(-1)
	if l.n.cfg.Plants.On(plant.GroupRecordsAcksOne) {
		acks = 1 // planted bug: answered once durable here, before the ISR has it
	}
	l.n.withReplica(r, func() {
		produceInternal(r, now, batch, acks, func(res partition.ProduceResult) {
			switch res.Err {
			case 0:
				done(res.BaseOffset, nil)
			case kerr.NotLeaderForPartition.Code, kerr.FencedLeaderEpoch.Code:
				done(-1, group.ErrNotLeader)
			case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code:
				done(-1, group.ErrTooLarge)
			case kerr.InvalidProducerEpoch.Code, kerr.ProducerFenced.Code:
				done(-1, group.ErrInvalidProducerEpoch)
			default:
				done(-1, kerr.ErrorForCode(res.Err))
			}
		})
	})
}

// produceInternal appends a batch a coordinator wrote to the partition r leads.
func produceInternal(r *hosted, now int64, batch []byte, acks int16, reply func(partition.ProduceResult)) {
	r.r.Produce(now, batch, acks, offsetsAppendTimeout, reply)
}

// Load reads the partition from its start to its high watermark.
func (l *offsetsLog) Load(now int64, batch func([]byte), done func(error)) {
	r := l.replica()
	if r == nil {
		done(group.ErrNotLeader)
		return
	}
	st := r.r.Status()
	from := st.LogStartOffset
	if l.n.cfg.Plants.On(plant.OffsetsLoadSkipsCleaned) {
		from = max(from, st.CleanedTo)
	}
	l.loadFrom(from, batch, done)
}

func (l *offsetsLog) loadFrom(off int64, batch func([]byte), done func(error)) {
	r := l.replica()
	if r == nil {
		done(group.ErrNotLeader)
		return
	}
	n := l.n
	req := partition.FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: off, MaxBytes: 1 << 20}
	n.withReplica(r, func() {
		r.r.Fetch(n.now, req, func(res partition.FetchResult) {
			switch {
			case res.Err == kerr.OffsetNotAvailable.Code || res.Err == kerr.NotLeaderForPartition.Code ||
				res.Err == kerr.LeaderNotAvailable.Code:
				// A new leader not ready to serve reads, still loading its producer state
				// or waiting for its lease: wait while it still leads.
				if lead, _ := r.r.Leading(); !lead || l.closed {
					done(group.ErrNotLeader)
					return
				}
				n.Wait(n.now+int64(loadRetry), func() bool { return false }, func() { l.loadFrom(off, batch, done) })
			case res.Err == kerr.OffsetOutOfRange.Code && off < res.LogStartOffset:
				l.loadFrom(res.LogStartOffset, batch, done)
			case res.Err != 0:
				done(kerr.ErrorForCode(res.Err))
			case len(res.Records) == 0:
				done(nil) // reached the high watermark
			default:
				next := off
				record.Split(res.Records, func(h record.Header, _ []byte) error {
					next = h.NextOffset()
					return nil
				})
				if next <= off {
					done(errors.New("offsets log: a read made no progress"))
					return
				}
				batch(res.Records)
				l.loadFrom(next, batch, done)
			}
		})
	})
}

func sortedKeys[K int32 | disk.LogID, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
