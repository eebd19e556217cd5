package group

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// loadRecordsBytesMax bounds the decompressed records of one batch read while loading.
const loadRecordsBytesMax = 64 << 20

// loader accumulates the partition's records while loading: the last group record and
// the last commit of each partition win, tombstones delete.
type loader struct {
	groups map[string]*loadedGroup
	err    error
}

type loadedGroup struct {
	meta    *kmsg.GroupMetadataValue // nil: none, or deleted
	offsets map[tp]offset
}

func newLoader() *loader { return &loader{groups: map[string]*loadedGroup{}} }

func (l *loader) group(id string) *loadedGroup {
	lg := l.groups[id]
	if lg == nil {
		lg = &loadedGroup{offsets: map[tp]offset{}}
		l.groups[id] = lg
	}
	return lg
}

// loadChunk takes one chunk of whole batches from Log.Load. A batch that fails its
// checks, or a record of a kind this coordinator writes that does not decode, fails the
// load: skipping it could roll a group back to an older generation.
func (c *Coordinator) loadChunk(b []byte) {
	c.deadlineKnown = false
	if c.phase != phaseLoading || c.load.err != nil {
		return
	}
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		if h.IsControl() || h.IsTransactional() {
			return nil // transaction markers and transactional commits: not written by seedlog
		}
		return c.load.batch(batch)
	})
	if err != nil {
		c.load.err = err
	}
}

func (l *loader) batch(batch []byte) error {
	it, err := record.NewIter(batch, loadRecordsBytesMax)
	if err != nil {
		return err
	}
	for it.Next() {
		r := it.Record()
		if err := l.record(it.Offset(), r.Key, r.Value); err != nil {
			return fmt.Errorf("record at offset %d: %w", it.Offset(), err)
		}
	}
	return it.Err()
}

func (l *loader) record(logOffset int64, key, value []byte) error {
	kind, groupID, p, err := decodeKey(key)
	if err != nil {
		return err
	}
	switch kind {
	case keyOffset:
		lg := l.group(groupID)
		if value == nil {
			delete(lg.offsets, p)
			return nil
		}
		o, err := decodeOffsetValue(value, logOffset)
		if err != nil {
			return err
		}
		lg.offsets[p] = o
	case keyGroup:
		lg := l.group(groupID)
		if value == nil {
			lg.meta = nil
			return nil
		}
		meta, err := decodeGroupValue(value)
		if err != nil {
			return err
		}
		lg.meta = meta
	}
	return nil
}

// loadDone ends loading: the groups are rebuilt and served, or the coordinator fails.
func (c *Coordinator) loadDone(err error) {
	c.deadlineKnown = false
	if c.phase != phaseLoading {
		return
	}
	l := c.load
	c.load = nil
	if err == nil {
		err = l.err
	}
	if err != nil {
		c.phase = phaseFailed
		c.loadErr = fmt.Errorf("group: loading __consumer_offsets partition %d: %w", c.cfg.Partition, err)
		return
	}
	for _, id := range slices.Sorted(maps.Keys(l.groups)) {
		if g := c.restoreGroup(id, l.groups[id]); g != nil {
			c.groups[id] = g
		}
	}
	c.phase = phaseServing
	c.nextExpiryCheck = c.now + int64(c.cfg.OffsetsRetentionCheck)
}

// restoreGroup rebuilds a group from its last record and offsets. A group with members
// comes back Stable in its recorded generation with its recorded assignment, so the next
// rebalance moves on to a generation never handed out before.
func (c *Coordinator) restoreGroup(id string, lg *loadedGroup) *group {
	if lg.meta == nil && len(lg.offsets) == 0 {
		return nil
	}
	g := newGroup(id)
	g.offsets = lg.offsets
	if lg.meta == nil {
		return g // offsets only: a group that does not use group management
	}
	meta := lg.meta
	g.protocolType = meta.ProtocolType
	g.generation = meta.Generation
	if c.cfg.Plants.On(plant.DoubleAssignAfterFailover) {
		// Planted bug: forget the generation and the members, so numbering restarts and
		// a generation number is reused with a different assignment.
		g.generation = 0
		return g
	}
	for _, vm := range meta.Members {
		if g.members[vm.MemberID] != nil {
			continue // a duplicate in a damaged record: the first wins
		}
		g.addMember(c.restoredMember(meta, vm), meta.ProtocolType)
	}
	if len(g.members) == 0 {
		g.leader = ""
		g.emptySinceMs = meta.CurrentStateTimestamp // -1 when the record does not say
		return g
	}
	g.state = stateStable
	g.protocol = deref(meta.Protocol)
	if leader := deref(meta.Leader); g.members[leader] != nil {
		g.leader = leader
	}
	return g
}

func (c *Coordinator) restoredMember(meta *kmsg.GroupMetadataValue, vm kmsg.GroupMetadataValueMember) *member {
	session := int64(vm.SessionTimeoutMillis) * int64(time.Millisecond)
	if session <= 0 {
		session = int64(c.cfg.SessionTimeoutMin)
	}
	rebalance := int64(vm.RebalanceTimeoutMillis) * int64(time.Millisecond)
	if rebalance <= 0 {
		rebalance = session
	}
	m := &member{
		id:               vm.MemberID,
		clientID:         vm.ClientID,
		clientHost:       vm.ClientHost,
		sessionTimeout:   session,
		rebalanceTimeout: rebalance,
		protocols:        []protocol{{name: deref(meta.Protocol), metadata: vm.Subscription}},
		assignment:       vm.Assignment,
		sessionFrom:      c.timeNow(), // fresh: the session starts when serving does
	}
	if vm.InstanceID != nil {
		id := *vm.InstanceID
		m.instanceID = &id
	}
	return m
}
