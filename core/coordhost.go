package core

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coordinator is what a coordinatorHost needs of the coordinators it runs: the group
// coordinators on __consumer_offsets and the transaction coordinators on
// __transaction_state.
type coordinator interface {
	Tick(now int64)
	Deadline() int64
	Availability() int16
	Close()
}

// coordinatorHost runs a coordinator for every partition of an internal topic this
// broker leads, and finds coordinators for clients. A key (group id, transactional id)
// belongs to the partition partitionFor hashes it onto.
type coordinatorHost[C coordinator] struct {
	topic        string
	kind         string // names the coordinators in notes: "group", "transaction"
	label        string // names the partitions in notes: "offsets", "transaction state"
	partitionFor func(key string, partitions int32) int32
	// start makes the coordinator of a partition this broker now leads in epoch.
	start func(n *Node, now int64, part, epoch int32, log *internalLog) C
	// topicConfig is what the topic is created with.
	topicConfig func(n *Node, live int) (partitions int32, rf int16, configs map[string]string, ok bool)

	coords map[int32]*hostedCoordinator[C]
	// sorted holds the coordinators of coords ordered by partition, for deterministic
	// iteration on every tick and deadline without sorting the keys each time.
	sorted   []*hostedCoordinator[C]
	creating bool // a CreateTopics of the topic is in flight
}

type hostedCoordinator[C coordinator] struct {
	c     C
	epoch int32 // the leader epoch it was started in
	log   *internalLog
}

// sync starts a coordinator where this broker newly leads a partition of the topic and
// closes those it no longer leads (or leads in another epoch).
func (h *coordinatorHost[C]) sync(n *Node, now int64) {
	if h.coords == nil {
		h.coords = map[int32]*hostedCoordinator[C]{}
	}
	leading := map[int32]int32{}
	for _, hr := range n.replicas.sorted {
		if hr.topic != h.topic {
			continue
		}
		if ok, epoch := hr.r.Leading(); ok {
			leading[hr.part] = epoch
		}
	}
	changed := false
	for _, p := range sortedKeys(h.coords) {
		if epoch, ok := leading[p]; !ok || epoch != h.coords[p].epoch {
			changed = true
			h.coords[p].log.closed = true
			h.coords[p].c.Close()
			delete(h.coords, p)
			n.note(h.kind+"-coordinator-stopped", fmt.Sprintf("%s partition %d", h.label, p))
		}
	}
	for _, p := range sortedKeys(leading) {
		if h.coords[p] != nil {
			continue
		}
		changed = true
		log := &internalLog{n: n, topic: h.topic, part: p}
		h.coords[p] = &hostedCoordinator[C]{c: h.start(n, now, p, leading[p], log), epoch: leading[p], log: log}
		n.note(h.kind+"-coordinator-started", fmt.Sprintf("%s partition %d epoch %d", h.label, p, leading[p]))
	}
	if changed {
		// A new slice: a loop over the old one may be under way.
		h.sorted = make([]*hostedCoordinator[C], 0, len(h.coords))
		for _, p := range sortedKeys(h.coords) {
			h.sorted = append(h.sorted, h.coords[p])
		}
	}
}

// waiting reports whether this broker leads part of the topic without running its
// coordinator yet (a leader that waited for the one it replaced to stop).
func (h *coordinatorHost[C]) waiting(hr *hosted) bool {
	if hr.topic != h.topic || h.coords[hr.part] != nil {
		return false
	}
	lead, _ := hr.r.Leading()
	return lead
}

// coordinator returns the coordinator of key when this broker runs it, or the code a
// client gets.
func (h *coordinatorHost[C]) coordinator(n *Node, key string) (C, int16) {
	var none C
	t, ok := n.quorum.image.Topic(h.topic)
	if !ok {
		return none, kerr.CoordinatorNotAvailable.Code
	}
	hc := h.coords[h.partitionFor(key, t.Partitions)]
	if hc == nil {
		return none, kerr.NotCoordinator.Code
	}
	if !n.LeaseValid(n.now) && !n.cfg.Plants.On(plant.ServeAfterLease) {
		// As the partition leader it runs on: once its lease may have ended, the
		// controller may have moved the partition, and a coordinator elsewhere may have
		// changed what this one would answer.
		return none, kerr.NotCoordinator.Code
	}
	if code := hc.c.Availability(); code != 0 {
		return none, code
	}
	return hc.c, 0
}

// find locates the broker running key's coordinator, creating the topic first when it
// does not exist yet (as Kafka does on the first FindCoordinator).
func (h *coordinatorHost[C]) find(n *Node, key string, reply func(int32, string, int32, int16)) {
	im := n.quorum.image
	t, ok := im.Topic(h.topic)
	if !ok {
		h.createTopic(n)
		reply(-1, "", -1, kerr.CoordinatorNotAvailable.Code)
		return
	}
	leader, _, ok := im.LeaderOf(t.ID, h.partitionFor(key, t.Partitions))
	b, known := im.Broker(leader)
	l, reachable := b.Endpoint(n.ctx.listener)
	if !ok || leader < 0 || !known || b.Fenced || !reachable {
		reply(-1, "", -1, kerr.CoordinatorNotAvailable.Code)
		return
	}
	reply(leader, l.Host, l.Port, 0)
}

func (h *coordinatorHost[C]) createTopic(n *Node) {
	if h.creating {
		return
	}
	live := 0
	for _, b := range n.quorum.image.Brokers() {
		if !b.Fenced {
			live++
		}
	}
	parts, rf, configs, ok := h.topicConfig(n, live)
	if !ok {
		return // not yet: too few brokers are live for the replication asked
	}
	h.creating = true
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(5)
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = h.topic, parts, rf
	for _, name := range sortedKeys(configs) {
		v := configs[name]
		t.Configs = append(t.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: name, Value: &v})
	}
	req.Topics = append(req.Topics, t)
	n.rpc.callController(n, req, func(kmsg.Response, error) { h.creating = false })
}

func (h *coordinatorHost[C]) all() []C {
	out := make([]C, 0, len(h.sorted))
	for _, hc := range h.sorted {
		out = append(out, hc.c)
	}
	return out
}

func (h *coordinatorHost[C]) tick(now int64) {
	for _, hc := range h.sorted {
		hc.c.Tick(now)
	}
}

func (h *coordinatorHost[C]) deadline() int64 {
	d := NoDeadline
	for _, hc := range h.sorted {
		d = min(d, hc.c.Deadline())
	}
	return d
}

// liveReplication is the replication factor of an internal topic: want when set (once
// that many brokers are live), otherwise as many replicas as live brokers, up to 3.
func liveReplication(live int, want int32) (int16, bool) {
	if want > 0 {
		return int16(want), int32(live) >= want
	}
	return int16(max(1, min(3, live))), true
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
