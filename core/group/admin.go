package group

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroup describes one group. As in Kafka, members carry their metadata and
// assignment only while the group is Stable, and a group this coordinator does not know
// reads as Dead with no error (DescribeGroups v6+ clients expect GROUP_ID_NOT_FOUND
// there; the node sets it for them).
func (c *Coordinator) DescribeGroup(now int64, groupID string) kmsg.DescribeGroupsResponseGroup {
	c.enter(now)
	defer c.leave()
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = groupID
	d.AuthorizedOperations = math.MinInt32 // not asked for
	if code := c.Availability(); code != codeNone {
		d.ErrorCode = code
		return d
	}
	g := c.groups[groupID]
	if g == nil {
		d.State = stateDead.String()
		return d
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, id := range g.memberIDs() {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID = m.id, m.instanceID
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// ListGroups lists the groups, sorted, keeping only those in one of statesFilter (v4+;
// compared case-insensitively) when it is not empty. It lists nothing while not serving:
// the node answers with Availability.
func (c *Coordinator) ListGroups(now int64, statesFilter []string) []kmsg.ListGroupsResponseGroup {
	c.enter(now)
	defer c.leave()
	if c.Availability() != codeNone {
		return nil
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range slices.Sorted(maps.Keys(c.groups)) {
		g := c.groups[id]
		if len(statesFilter) > 0 && !slices.ContainsFunc(statesFilter, func(s string) bool {
			return strings.EqualFold(s, g.state.String())
		}) {
			continue
		}
		l := kmsg.NewListGroupsResponseGroup()
		l.Group, l.ProtocolType, l.GroupState = g.id, g.protocolType, g.state.String()
		l.GroupType = "classic"
		out = append(out, l)
	}
	return out
}

// DeleteGroup deletes an Empty group: tombstones for its metadata and every committed
// offset (and every offset being committed) are written, and reply gets NONE once they
// are durable. A group with members, or with offsets of a transaction not yet ended,
// answers NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
func (c *Coordinator) DeleteGroup(now int64, groupID string, reply func(code int16)) {
	c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	if code := c.Availability(); code != codeNone {
		reply(code)
		return
	}
	g := c.groups[groupID]
	switch {
	case g == nil || g.state == stateDead:
		reply(codeGroupIDNotFound)
		return
	case g.state != stateEmpty, len(g.txns) > 0:
		// Members, or offsets of a transaction its marker has not ended yet.
		reply(codeNonEmptyGroup)
		return
	}
	g.state = stateDead
	g.pending = map[string]int64{}
	c.event(Event{Kind: GroupRemoving, Group: g.id, AtMs: millis(c.now)})
	recs := []KV{{Key: groupKey(g.id)}}
	for _, p := range deletedPartitions(g) {
		recs = append(recs, KV{Key: offsetKey(g.id, p)})
	}
	c.append(recs, func(_ int64, err error) {
		if c.groups[g.id] != g {
			return
		}
		if err != nil {
			g.state = stateEmpty
			reply(appendCode(err))
			return
		}
		delete(c.groups, g.id)
		reply(codeNone)
	}, func() { reply(codeNotCoordinator) })
}

// deletedPartitions are the partitions a deletion must tombstone: those with an offset
// and those with a commit in flight, whose record precedes the tombstones in the log.
func deletedPartitions(g *group) []tp {
	set := maps.Clone(g.offsets)
	for p := range g.commitsPending {
		set[p] = offset{}
	}
	return slices.SortedFunc(maps.Keys(set), compareTP)
}
