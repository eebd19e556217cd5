package group

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/plant"
)

// Bounds of one expiry check: the tombstones of one group in one append, and the
// expiry appends in flight. What is left waits for the next check.
const (
	expiryRecordsMax = 1000
	expiryAppendsMax = 256
)

// expired lists, sorted, the partitions of g whose offsets expired at nowMs, by Kafka's
// rule (KIP-211): a group with members keeps every offset; an Empty group that had
// members loses each one OffsetsRetention after it became Empty, or after the offset's
// commit when that came later (so that offsets reset in a long-idle group live their
// retention); a group that never had members loses each one OffsetsRetention after its
// commit. An offset with a commit or a tombstone on its way to the log waits for it, and
// one with offsets of an open transaction for its partition waits for the marker.
func (g *group) expired(nowMs, retentionMs int64, plants plant.Set) []tp {
	switch {
	case g.state == stateEmpty:
	case plants.On(plant.OffsetsExpireWithMembers) && g.state != stateDead:
		// Planted bug: the members are ignored.
	default:
		return nil
	}
	var out []tp
	for _, p := range slices.SortedFunc(maps.Keys(g.offsets), compareTP) {
		if g.commitsPending[p] > 0 || g.removing[p] > 0 || g.txnPendingAt(p) {
			continue
		}
		if nowMs-g.expiryBase(g.offsets[p], plants) >= retentionMs {
			out = append(out, p)
			if len(out) == expiryRecordsMax {
				break
			}
		}
	}
	return out
}

// expiryBase is the time an offset's retention counts from, in milliseconds.
func (g *group) expiryBase(o offset, plants plant.Set) int64 {
	if g.protocolType == "" || g.emptySinceMs < 0 || g.state != stateEmpty {
		// A group that never had members, or one whose record does not say when it became
		// Empty (Kafka's fallback); or the planted bug, which ignores the members.
		return o.commitMs
	}
	return max(g.emptySinceMs, o.commitMs)
}

// leftWith reports whether g holds nothing but the offsets of parts, so that removing
// them leaves an Empty group with nothing to keep: Kafka removes such a group.
func (g *group) leftWith(parts []tp) bool {
	if g.state != stateEmpty || len(g.pending) > 0 || len(g.removing) > 0 || len(g.txns) > 0 {
		return false // an open transaction's offsets keep the group until their marker
	}
	for p := range g.offsets { // order-independent: whether every key is in parts
		if _, found := slices.BinarySearchFunc(parts, p, compareTP); !found {
			return false
		}
	}
	for p := range g.commitsPending { // order-independent: whether every key is in parts
		if _, found := slices.BinarySearchFunc(parts, p, compareTP); !found {
			return false
		}
	}
	return true
}

// mayExpire reports whether the expiry check has anything to look at in g: an Empty
// group (offsets that may expire, or nothing left to keep it), or a removal to write
// again.
func (g *group) mayExpire(plants plant.Set) bool {
	switch {
	case g.removal == removalRetry, g.state == stateEmpty:
		return true
	}
	return plants.On(plant.OffsetsExpireWithMembers) && g.state != stateDead && len(g.offsets) > 0
}

// expireOffsets is the expiry check, run every OffsetsRetentionCheck: each group's
// expired offsets get tombstones, and a group left Empty with nothing goes with them
// (its removal written again if it failed before). The offsets stay visible until the
// tombstones are durable.
func (c *Coordinator) expireOffsets(now int64) {
	nowMs, retentionMs := millis(now), millis(int64(c.cfg.OffsetsRetention))
	if c.cfg.Plants.On(plant.OffsetsExpireEarly) {
		nowMs += millis(int64(c.cfg.OffsetsRetentionCheck)) // planted bug: a check early
	}
	for _, gid := range slices.Sorted(maps.Keys(c.groups)) {
		if c.expiriesInFlight >= expiryAppendsMax {
			return
		}
		g := c.groups[gid]
		var parts []tp
		remove, retry := false, g.removal == removalRetry
		switch {
		case retry:
			parts, remove = slices.SortedFunc(maps.Keys(g.offsets), compareTP), true
		case g.state != stateDead:
			parts = g.expired(nowMs, retentionMs, c.cfg.Plants)
			remove = g.leftWith(parts)
		}
		switch {
		case len(parts) > 0 || remove && g.generation > 0:
			c.expire(g, parts, remove, retry)
		case remove:
			// Nothing was ever written for it: there is nothing to delete.
			delete(c.groups, g.id)
		}
	}
}

// expire writes tombstones for parts of g, and for g itself when remove is set (the
// group is Dead meanwhile). retry says the removal was decided before and failed.
func (c *Coordinator) expire(g *group, parts []tp, remove, retry bool) {
	recs := c.tombstones(g, parts, remove)
	c.nextOpID++ // expiry ids share the append id space, so they never repeat
	id := c.nextOpID
	c.expiriesInFlight++
	c.event(Event{Kind: ExpiryStarted, ID: id, Group: g.id, Offsets: exportTPs(parts), Remove: remove, Retry: retry, AtMs: millis(c.now)})
	settle := func() {
		c.expiriesInFlight--
		g.unmarkRemoving(parts)
	}
	c.append(recs, func(base int64, err error) {
		settle()
		if err != nil {
			if remove {
				g.removal = removalRetry
			}
			c.event(Event{Kind: ExpiryUnknown, ID: id, Group: g.id})
			return
		}
		c.applyTombstones(g, parts, remove, base)
		c.event(Event{Kind: ExpiryDone, ID: id, Group: g.id})
	}, func() {
		settle()
		c.event(Event{Kind: ExpiryUnknown, ID: id, Group: g.id})
	})
}

// tombstones builds the records that delete the offsets of parts of g, and g itself
// when remove is set, and marks them on their way. A removed group is Dead until they
// are durable. An Empty group that stays gets its record written with them: a
// coordinator that loads the tombstones then loads the group without members too, never
// the members of an older record (one written before a rebalance emptied it, when that
// rebalance's own record was lost) beside offsets deleted for want of them.
func (c *Coordinator) tombstones(g *group, parts []tp, remove bool) []KV {
	recs := make([]KV, 0, len(parts)+1)
	for _, p := range parts {
		recs = append(recs, KV{Key: offsetKey(g.id, p)})
		g.removing[p]++
	}
	switch {
	case remove:
		g.state, g.removal = stateDead, removalWriting
		if g.generation > 0 {
			recs = append(recs, KV{Key: groupKey(g.id)})
		}
	case g.state == stateEmpty && g.generation > 0:
		recs = append(recs, c.groupRecord(g, nil))
	}
	return recs
}

// applyTombstones makes durable tombstones of parts (the first at log offset base)
// take effect, and removes g when they removed it.
func (c *Coordinator) applyTombstones(g *group, parts []tp, remove bool, base int64) {
	if c.groups[g.id] != g {
		return
	}
	for i, p := range parts {
		g.dropOffset(p, base+int64(i))
	}
	c.pruneTxns(g)
	if remove {
		delete(c.groups, g.id)
		return
	}
	c.dropIfVacant(g)
}

func (g *group) unmarkRemoving(parts []tp) {
	for _, p := range parts {
		if g.removing[p]--; g.removing[p] <= 0 {
			delete(g.removing, p)
		}
	}
}

// dropOffset applies a durable tombstone of p at logOffset: the offset goes unless a
// later record replaced it, and so do the offsets of p open transactions committed
// before it. A commit of p still in flight has its record before the tombstone, and
// must not bring the offset back when it completes.
func (g *group) dropOffset(p tp, logOffset int64) {
	g.dropTxnOffsets(p, logOffset)
	if cur, ok := g.offsets[p]; ok && cur.logOffset > logOffset {
		return
	}
	delete(g.offsets, p)
	if g.commitsPending[p] > 0 {
		g.tombstones[p] = max(g.tombstones[p], logOffset)
	}
}

// forgetTombstones drops the tombstone marks of parts no commit is in flight for any
// more: every later commit's record lies after them.
func (g *group) forgetTombstones(parts []tp) {
	for _, p := range parts {
		if g.commitsPending[p] == 0 {
			delete(g.tombstones, p)
		}
	}
}

// TopicPartition names a partition whose offset a group commits.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func exportTPs(parts []tp) []TopicPartition {
	out := make([]TopicPartition, len(parts))
	for i, p := range parts {
		out[i] = TopicPartition{p.topic, p.partition}
	}
	return out
}

// Event is something the coordinator decided about offsets or a group's existence that
// outlives the request or timer that caused it.
type Event struct {
	Kind EventKind
	// Partition is the coordinator's __consumer_offsets partition.
	Partition int32
	Group     string
	// ID names one expiry within the coordinator: the ExpiryDone or ExpiryUnknown that
	// ends it carries the ID of its ExpiryStarted.
	ID uint64
	// Offsets are the partitions whose offsets an expiry deletes (ExpiryStarted).
	Offsets []TopicPartition
	// Remove says the expiry removes the group too (ExpiryStarted). Retry says the group's
	// removal was decided earlier, by an expiry or an OffsetDelete, and failed: this
	// check writes it again.
	Remove, Retry bool
	// AtMs is the coordinator's clock at the decision, in milliseconds (ExpiryStarted,
	// GroupRemoving, TxnOffsetsCommitted, TxnOffsetsAborted).
	AtMs int64
	// ProducerID is the producer whose transaction a marker ended (TxnOffsetsCommitted,
	// TxnOffsetsAborted), whose Offsets are those the transaction held in the group.
	ProducerID int64
}

// EventKind is what an Event says.
type EventKind uint8

const (
	// ExpiryStarted: tombstones of expired offsets (and of the group, with Remove) were
	// handed to the log.
	ExpiryStarted EventKind = iota + 1
	// ExpiryDone: they are durable, and the offsets gone.
	ExpiryDone
	// ExpiryUnknown: the append failed, or the coordinator closed first: the tombstones
	// may be in the log or not.
	ExpiryUnknown
	// GroupRemoving: an OffsetDelete or DeleteGroups handed the group's tombstone to the
	// log. Once it is durable the group is gone, and a group of that name starts again
	// from generation 0.
	GroupRemoving
	// TxnOffsetsCommitted: a commit marker made a transaction's offsets committed (where
	// no later commit of their partition was).
	TxnOffsetsCommitted
	// TxnOffsetsAborted: an abort marker dropped a transaction's offsets.
	TxnOffsetsAborted
)

var eventNames = [...]string{ExpiryStarted: "group-offsets-expiring", ExpiryDone: "group-offsets-expired",
	ExpiryUnknown: "group-offsets-expiry-unknown", GroupRemoving: "group-removing",
	TxnOffsetsCommitted: "group-txn-offsets-committed", TxnOffsetsAborted: "group-txn-offsets-aborted"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("group-event-%d", k)
}

func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %q (offsets partition %d)", e.Group, e.Partition)
	switch e.Kind {
	case ExpiryStarted:
		fmt.Fprintf(&b, " expiry %d at %d ms:", e.ID, e.AtMs)
		for _, p := range e.Offsets {
			fmt.Fprintf(&b, " %s/%d", p.Topic, p.Partition)
		}
		if e.Remove {
			b.WriteString(" and the group")
		}
		if e.Retry {
			b.WriteString(" (written again)")
		}
	case ExpiryDone, ExpiryUnknown:
		fmt.Fprintf(&b, " expiry %d", e.ID)
	case GroupRemoving:
		fmt.Fprintf(&b, " at %d ms", e.AtMs)
	case TxnOffsetsCommitted, TxnOffsetsAborted:
		fmt.Fprintf(&b, " producer %d:", e.ProducerID)
		for _, p := range e.Offsets {
			fmt.Fprintf(&b, " %s/%d", p.Topic, p.Partition)
		}
	}
	return b.String()
}

// event hands e to Config.Events.
func (c *Coordinator) event(e Event) {
	if c.cfg.Events != nil {
		e.Partition = c.cfg.Partition
		c.cfg.Events(e)
	}
}
