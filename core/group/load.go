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
// the last commit of each partition win, tombstones delete. Offsets in a producer's
// transactional batches wait in txns for the producer's marker: a commit marker applies
// them where no later commit of the partition was loaded, an abort drops them.
type loader struct {
	groups map[string]*loadedGroup
	txns   map[int64]map[string]map[tp]offset // producer id -> group -> partition
	err    error
}

type loadedGroup struct {
	meta    *kmsg.GroupMetadataValue // nil: none, or deleted
	offsets map[tp]offset
}

func newLoader() *loader {
	return &loader{groups: map[string]*loadedGroup{}, txns: map[int64]map[string]map[tp]offset{}}
}

// txnGroup is the offsets producer pid's open transaction committed to a group.
func (l *loader) txnGroup(pid int64, id string) map[tp]offset {
	gs := l.txns[pid]
	if gs == nil {
		gs = map[string]map[tp]offset{}
		l.txns[pid] = gs
	}
	parts := gs[id]
	if parts == nil {
		parts = map[tp]offset{}
		gs[id] = parts
	}
	return parts
}

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
// load: skipping it could roll a group back to an older generation. So does a control
// batch whose key does not decode: it may be the marker of a transaction's offsets.
func (c *Coordinator) loadChunk(b []byte) {
	c.deadlineKnown = false
	if c.phase != phaseLoading || c.load.err != nil {
		return
	}
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		switch {
		case h.IsControl():
			return c.load.control(h, batch)
		case !h.IsTransactional():
			return c.load.batch(batch, -1)
		case h.ProducerID < 0:
			return nil // transactional with no producer: no marker can end it
		}
		return c.load.batch(batch, h.ProducerID)
	})
	if err != nil {
		c.load.err = err
	}
}

// batch loads the records of a batch, of producer pid's transaction when pid >= 0.
func (l *loader) batch(batch []byte, pid int64) error {
	it, err := record.NewIter(batch, loadRecordsBytesMax)
	if err != nil {
		return err
	}
	for it.Next() {
		r := it.Record()
		if err := l.record(it.Offset(), r.Key, r.Value, pid); err != nil {
			return fmt.Errorf("record at offset %d: %w", it.Offset(), err)
		}
	}
	return it.Err()
}

func (l *loader) record(logOffset int64, key, value []byte, pid int64) error {
	kind, groupID, p, err := decodeKey(key)
	if err != nil {
		return err
	}
	switch kind {
	case keyOffset:
		if pid >= 0 {
			return l.txnRecord(logOffset, groupID, p, value, pid)
		}
		lg := l.group(groupID)
		if value == nil {
			delete(lg.offsets, p)
			for _, gs := range l.txns { // order-independent: deletes from each producer's map
				delete(gs[groupID], p)
			}
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

// txnRecord loads an offset record of producer pid's transaction: it waits for the
// producer's marker, replacing the transaction's earlier record of the partition.
func (l *loader) txnRecord(logOffset int64, groupID string, p tp, value []byte, pid int64) error {
	parts := l.txnGroup(pid, groupID)
	if value == nil {
		delete(parts, p) // seedlog writes none; Kafka's loader reads it so
		return nil
	}
	o, err := decodeOffsetValue(value, logOffset)
	if err != nil {
		return err
	}
	parts[p] = o
	return nil
}

// control loads a control batch: a commit or abort marker ends its producer's
// transaction. Other control types are no business of this partition's.
func (l *loader) control(h record.Header, batch []byte) error {
	it, err := record.NewIter(batch, loadRecordsBytesMax)
	if err != nil {
		return err
	}
	if !it.Next() {
		return it.Err() // no record: ends nothing
	}
	k, err := record.ParseControlKey(it.Record().Key)
	if err != nil {
		return fmt.Errorf("control record at offset %d: %w", it.Offset(), err)
	}
	switch k.Type {
	case record.ControlCommit:
		l.commitTxn(h.ProducerID)
	case record.ControlAbort:
		delete(l.txns, h.ProducerID)
	}
	return nil
}

// commitTxn applies producer pid's transaction at its commit marker: each offset becomes
// the committed one unless a commit whose record lies later in the log was loaded.
func (l *loader) commitTxn(pid int64) {
	for id, parts := range l.txns[pid] { // order-independent: each group and partition on its own
		lg := l.group(id)
		for p, o := range parts { // order-independent: each partition on its own
			if cur, ok := lg.offsets[p]; !ok || cur.logOffset < o.logOffset {
				lg.offsets[p] = o
			}
		}
	}
	delete(l.txns, pid)
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
	c.restoreTxns(l.txns)
	c.phase = phaseServing
	c.nextExpiryCheck = c.now + int64(c.cfg.OffsetsRetentionCheck)
}

// restoreTxns gives each group the offsets of the open transactions that committed to
// it; a group that holds nothing else is created for them.
func (c *Coordinator) restoreTxns(txns map[int64]map[string]map[tp]offset) {
	for _, pid := range slices.Sorted(maps.Keys(txns)) {
		for _, id := range slices.Sorted(maps.Keys(txns[pid])) {
			parts := txns[pid][id]
			if len(parts) == 0 {
				continue
			}
			g := c.groups[id]
			if g == nil {
				g = newGroup(id)
				c.groups[id] = g
			}
			c.txnOf(g, pid).offsets = parts
		}
	}
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
