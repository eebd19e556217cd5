package group

import (
	"slices"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerProtocolType is the protocol type of Kafka's consumers, whose metadata names
// the topics they subscribe to.
const consumerProtocolType = "consumer"

// OffsetDelete handles an OffsetDelete request (KIP-496). An Empty group loses the
// offsets of every partition named; a consumer group with members keeps those of the
// topics its members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC) and loses the others; any
// other group with members refuses (NON_EMPTY_GROUP). The offsets are deleted by
// tombstones, and the answer given, once those are durable on the ISR; an Empty group
// left with nothing is removed with them, as Kafka does. As for OffsetCommit, the node
// answers partitions of unknown topics before calling.
func (c *Coordinator) OffsetDelete(now int64, req *kmsg.OffsetDeleteRequest, reply func(*kmsg.OffsetDeleteResponse)) {
	c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	respond := func(code int16) { reply(offsetDeleteResponse(req, code, codes)) }
	g, code := c.offsetDeleteGroup(req.Group)
	if code != codeNone {
		respond(code)
		return
	}
	subscribed := c.subscribedTopics(g)
	var parts []tp
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if subscribed[t.Topic] {
				codes[i][j] = codeGroupSubscribedToTopic
				continue
			}
			q := tp{t.Topic, p.Partition}
			if _, ok := g.offsets[q]; ok || g.commitsPending[q] > 0 || g.txnPendingAt(q) {
				parts = append(parts, q)
			}
		}
	}
	slices.SortFunc(parts, compareTP)
	parts = slices.Compact(parts)
	switch {
	case len(parts) == 0:
		respond(codeNone)
	case c.commitsInFlight >= c.cfg.CommitsInFlightMax:
		respond(codeCoordinatorNotAvailable)
	case c.cfg.Plants.On(plant.OffsetDeleteNotDurable):
		// Planted bug: the offsets are gone, and the answer out, before the log has the
		// tombstones.
		for _, p := range parts {
			delete(g.offsets, p)
		}
		respond(codeNone)
		c.append(c.tombstones(g, parts, false), func(int64, error) { g.unmarkRemoving(parts) }, nil)
	default:
		c.deleteOffsets(g, parts, respond)
	}
}

// offsetDeleteGroup finds the group of an OffsetDelete, or the code that refuses it.
func (c *Coordinator) offsetDeleteGroup(groupID string) (*group, int16) {
	if code := c.Availability(); code != codeNone {
		return nil, code
	}
	if groupID == "" {
		return nil, codeInvalidGroupID
	}
	g := c.groups[groupID]
	switch {
	case g == nil:
		return nil, codeGroupIDNotFound
	case g.state == stateDead:
		return nil, codeCoordinatorNotAvailable // being removed; it may come back if that fails
	case len(g.members) > 0 && g.protocolType != consumerProtocolType:
		return nil, codeNonEmptyGroup
	}
	return g, codeNone
}

// deleteOffsets writes tombstones for parts of g and answers once they are durable.
func (c *Coordinator) deleteOffsets(g *group, parts []tp, respond func(int16)) {
	remove := g.leftWith(parts)
	recs := c.tombstones(g, parts, remove)
	if remove {
		c.event(Event{Kind: GroupRemoving, Group: g.id, AtMs: millis(c.now)})
	}
	c.commitsInFlight++
	c.append(recs, func(base int64, err error) {
		c.commitsInFlight--
		g.unmarkRemoving(parts)
		if err != nil {
			if remove {
				// The tombstones may yet be in the log: the group stays Dead, and the
				// expiry check writes its removal again.
				g.removal = removalRetry
			}
			respond(appendCode(err))
			return
		}
		c.applyTombstones(g, parts, remove, base)
		respond(codeNone)
	}, func() { respond(codeNotCoordinator) })
}

// subscribedTopics is the set of topics the members of a consumer group subscribe to,
// from their protocol metadata for the group's protocol (or, while none is chosen, the
// first they offer). It is nil for a group without members, and, as in Kafka, when some
// member's metadata does not decode: then no topic counts as subscribed.
func (c *Coordinator) subscribedTopics(g *group) map[string]bool {
	if len(g.members) == 0 || c.cfg.Plants.On(plant.OffsetDeleteIgnoresSubscription) {
		return nil
	}
	out := map[string]bool{}
	for _, m := range g.members { // order-independent: builds a set
		protocol := g.protocol
		if protocol == "" || !m.supports(protocol) {
			protocol = m.protocols[0].name
		}
		s := m.subscription(protocol)
		if !s.known {
			return nil
		}
		for _, t := range s.topics {
			out[t] = true
		}
	}
	return out
}

// subscription is what a member's consumer metadata for one protocol says it consumes,
// decoded once: the metadata may be large, and an OffsetDelete must not decode every
// member's at every call.
type subscription struct {
	protocol string
	topics   []string
	known    bool // the metadata decoded
}

func (m *member) subscription(protocol string) *subscription {
	if m.sub == nil || m.sub.protocol != protocol {
		s := &subscription{protocol: protocol}
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(protocol)); err == nil {
			s.topics, s.known = md.Topics, true
		}
		m.sub = s
	}
	return m.sub
}

// offsetDeleteResponse answers req: with a group error alone, as Kafka does, or with a
// code for every partition.
func offsetDeleteResponse(req *kmsg.OffsetDeleteRequest, code int16, codes [][]int16) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = req.Version
	if code != codeNone {
		resp.ErrorCode = code
		return resp
	}
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
