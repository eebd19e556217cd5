package sim

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/disk"
)

// coreOffsetsTopic is the topic holding group state: its leader failovers are
// coordinator failovers.
const coreOffsetsTopic = "__consumer_offsets"

// dataInvariants checks partition replicas and group coordinators after every step of a
// node, against the latest state of every other node (each node's state only changes
// when it takes an input, so the latest seen is its state now):
//
//   - at most one leader per (partition, leader epoch);
//   - no two replicas of a partition lead with a valid lease at the same instant (a
//     deposed leader may still believe it leads, but its lease must have lapsed, on its
//     own clock, before another replica's lease lets it serve);
//   - per replica and incarnation, the high watermark never decreases within an epoch;
//     HW <= log end, durable offset <= log end, log start <= HW;
//   - every member of a leader's ISR durably holds everything below the leader's HW;
//   - two replicas agree below the smaller of their HWs (their leader-epoch caches
//     describe the same epochs there; the bytes are compared at the end of the run);
//   - in every node's metadata image, the ISR is within the replicas and the leader
//     within the ISR;
//   - in every coordinator's view, no partition has two owners in one generation of a
//     group, and a generation number never comes back with a different owner.
//
// With log.flush=async the durability invariants are off: that mode lets a correlated
// power loss take what the ISR acknowledged, and followers then truncate below their HW;
// so are the group checks, as group records may be lost with it.
type dataInvariants struct {
	w     *World
	async bool
	// replicas caches each node's replicas as of its last step, by node index; nil
	// while the node is down. spare holds the previous list of each node, reused.
	replicas [][]ReplicaView
	spare    [][]ReplicaView
	// groupsDue marks nodes whose coordinators answered a join or sync (or started)
	// since their groups were last checked.
	groupsDue []bool
	// lease is each node's lease validity at its last step.
	lease   []bool
	leaders map[epochKey]int32
	hws     map[hwKey]hwMark
	images  []int64
	// owners holds, per group and generation, the owner of each partition seen in any
	// coordinator's view.
	owners map[genKey]map[TopicPartition]string
	// lastLeader is the latest leader epoch seen per partition and its leader, to count
	// failovers.
	lastLeader map[partKey][2]int32
	// With log.flush=async: the highest high watermark any leader of a data partition
	// reached, and the partitions whose later leaders' logs ended below it (committed
	// records lost), with a description of the first time.
	committedMax map[TopicPartition]int64
	regressed    map[TopicPartition]string
	// declared holds, per data partition, the ranges a leader served as fenced while it
	// was the only member of its ISR: offsets the partition declared lost because no
	// in-sync copy of them was intact. Reads may fail there, and only there.
	declared map[TopicPartition][]offRange
	// deleted holds, per data partition, the highest low watermark a DeleteRecords
	// answer acknowledged: no leader starts its log below it afterwards.
	deleted map[TopicPartition]int64
	// aliases, stamps and alias are checkInPlace's scratch space.
	aliases []ReplicaView
	stamps  []ReplicaStamp
	alias   ReplicaView
	// truth reads the disks' durable images (truth.go); hwChecked is the high
	// watermark each leader replica (per incarnation) was last checked at against them,
	// and brokers lists the nodes whose disks checkDurable reads.
	truth     *durableTruth
	hwChecked map[hwKey]hwMark
	brokers   []int32
	// copies is checkDurable's scratch list, and logs names each partition's log.
	copies []durableCopy
	logs   map[TopicPartition]disk.LogID
	// For the moves checker (checkMoves): the highest high watermark any leader of
	// each partition reached, and the latest replica set seen in any node's image.
	topHW       map[partKey]int64
	replicaSets map[partKey]replicaSet
}

// replicaSet is a partition's replicas at a partition epoch.
type replicaSet struct {
	epoch    int32
	replicas []int32
}

type partKey struct {
	topicID   [16]byte
	partition int32
}

type epochKey struct {
	partKey
	epoch int32
}

type hwKey struct {
	partKey
	node int32
	inc  uint32
}

type hwMark struct {
	epoch   int32
	hw      int64
	repairs int
}

// groupViolation marks an invariant violation of a group coordinator.
type groupViolation struct{ error }

type genKey struct {
	group      string
	generation int32
}

func newDataInvariants(w *World, truth *durableTruth) *dataInvariants {
	d := &dataInvariants{
		w:         w,
		async:     w.cfg.Data.FlushAsync,
		replicas:  make([][]ReplicaView, len(w.nodes)),
		spare:     make([][]ReplicaView, len(w.nodes)),
		groupsDue: make([]bool, len(w.nodes)),
		lease:     make([]bool, len(w.nodes)),
		leaders:   map[epochKey]int32{},
		hws:       map[hwKey]hwMark{},
		images:    make([]int64, len(w.nodes)),
		owners:    map[genKey]map[TopicPartition]string{},

		lastLeader: map[partKey][2]int32{},

		committedMax: map[TopicPartition]int64{},
		regressed:    map[TopicPartition]string{},
		declared:     map[TopicPartition][]offRange{},
		deleted:      map[TopicPartition]int64{},

		truth:     truth,
		brokers:   w.cfg.Brokers(),
		hwChecked: map[hwKey]hwMark{},
		logs:      map[TopicPartition]disk.LogID{},

		topHW:       map[partKey]int64{},
		replicaSets: map[partKey]replicaSet{},
	}
	return d
}

// count updates the coverage counters of ISR shrinks (to min.insync.replicas, too) and
// expansions of data partitions from a node's replicas before and after a step.
func (d *dataInvariants) count(before, after []ReplicaView) {
	for i := range after {
		r := &after[i]
		if !r.Leader || r.Closed {
			continue
		}
		if o := findReplica(before, partKey{r.TopicID, r.Partition}); o != nil {
			d.countPair(o, r)
		}
	}
}

// countPair counts an ISR change of leader replica r since its view o.
func (d *dataInvariants) countPair(o, r *ReplicaView) {
	if !r.Leader || r.Closed || !o.Leader || o.LeaderEpoch != r.LeaderEpoch || len(o.ISR) == len(r.ISR) {
		return
	}
	t, data := d.w.cfg.Data.topic(r.Topic)
	if !data {
		return
	}
	cov := d.w.cov
	if len(r.ISR) < len(o.ISR) {
		cov.Inc("partition:isr-shrink")
		if int32(len(r.ISR)) == t.MinISR {
			cov.Inc("partition:isr-shrink-to-min")
		}
	} else {
		cov.Inc("partition:isr-expand")
	}
}

// checkedThrough reports whether node n's replica rv, leading, had its high watermark
// checked against the disks at or past end in its leader epoch (checkAdvance): the
// broker decided an acks=all answer up to end then. The answer may leave later, behind
// earlier answers of its connection, when a follower that found damage has cut its log
// to fetch it back and holds fewer copies: what the broker promised held when it
// decided.
func (d *dataInvariants) checkedThrough(n *simNode, rv *ReplicaView, end int64) bool {
	m, ok := d.hwChecked[hwKey{partKey{rv.TopicID, rv.Partition}, n.spec.ID, n.inc}]
	return ok && rv.Leader && m.epoch == rv.LeaderEpoch && m.hw >= end
}

// checkAdvance checks a leader's high watermark against the disks' durable images
// when it moved past where it was last checked in the leader epoch (a leader's first
// high watermark was its predecessor's, checked when that one advanced it).
func (d *dataInvariants) checkAdvance(hk hwKey, r *ReplicaView) error {
	if !r.Leader {
		return nil
	}
	last, seen := d.hwChecked[hk]
	seen = seen && last.epoch == r.LeaderEpoch
	if seen && r.HW <= last.hw {
		return nil
	}
	d.hwChecked[hk] = hwMark{epoch: r.LeaderEpoch, hw: r.HW}
	if !seen {
		return nil
	}
	return d.checkDurable(r, r.HW, func() string { return "the high watermark advanced" })
}

func (d *dataInvariants) crashed(n *simNode) {
	d.replicas[n.spec.ID-1] = nil
	d.lease[n.spec.ID-1] = false
	d.groupsDue[n.spec.ID-1] = true
}

// check runs the invariants after node n took an input.
func (d *dataInvariants) check(n *simNode) error {
	ins := d.w.opts.Inspect
	id := n.spec.ID
	// The node's image changes only with an input.
	if n.unchecked && ins.ImageCheck != nil && ins.ImageOffset != nil {
		if err := d.checkImage(n); err != nil {
			return err
		}
	}
	if ins.Replicas == nil || !n.spec.Broker {
		return nil
	}

	// A lease that became valid makes every leader replica of the node serve again:
	// check them all.
	lease := ins.LeaseValid != nil && ins.LeaseValid(n.m, n.localNow())
	renewed := lease && !d.lease[id-1]
	d.lease[id-1] = lease
	if !n.unchecked && !renewed {
		// The node took no input since its replicas were last checked (it drained, say):
		// they are the views, which were checked then, and any other node's change since
		// was checked against them when that node stepped.
		return d.maybeCheckGroups(n)
	}
	n.unchecked = false
	prev := d.replicas[id-1]
	if ins.ReplicaViews != nil && prev != nil {
		done, err := d.checkInPlace(n, prev, renewed)
		if err != nil {
			return err
		}
		if done {
			return d.maybeCheckGroups(n)
		}
		// The node's replicas changed shape (one came or went): compare them whole.
	}
	reps := ins.Replicas(n.m, d.spare[id-1])
	d.count(prev, reps)
	for i := range reps {
		// A replica new on the node (a reassignment may remove one and add it back
		// later, its log started afresh) has no high watermark to keep to yet.
		if pk := (partKey{reps[i].TopicID, reps[i].Partition}); prev != nil && findReplica(prev, pk) == nil {
			delete(d.hws, hwKey{pk, id, n.inc})
			delete(d.hwChecked, hwKey{pk, id, n.inc})
		}
	}
	d.replicas[id-1], d.spare[id-1] = reps, prev
	for i := range reps {
		r := &reps[i]
		if r.Closed {
			continue
		}
		// A replica that did not change since the node's last step was checked then,
		// against every other node as it was; each other node's changes are checked
		// against it when that node steps.
		if i < len(prev) && sameView(&prev[i], r) && !(renewed && r.Leader) {
			continue
		}
		if err := d.checkReplica(n, r); err != nil {
			return fmt.Errorf("%s/%d on node %d: %w", r.Topic, r.Partition, id, err)
		}
	}
	return d.maybeCheckGroups(n)
}

// maybeCheckGroups checks the node's coordinators when they answered a join or sync.
func (d *dataInvariants) maybeCheckGroups(n *simNode) error {
	id := n.spec.ID
	if d.w.opts.Inspect.Groups != nil && d.groupsDue[id-1] && !d.async {
		d.groupsDue[id-1] = false
		return d.checkGroups(n)
	}
	return nil
}

// checkInPlace is check for a node whose replicas are those of views, its list as of
// its last step, one for one: it compares each replica with its view where it lies
// (Inspect.ReplicaViews copies nothing), and only a replica that changed (or a leader
// whose lease became valid again) is copied into its view and checked, as check would.
// It reports false when the replicas differ from views in number or identity, having
// brought a prefix of views up to date; the caller then compares the whole lists, and
// those views compare equal. With Inspect.ReplicaStamps it reads only the replicas
// whose stamp moved (checkStamped).
func (d *dataInvariants) checkInPlace(n *simNode, views []ReplicaView, renewed bool) (bool, error) {
	ins := d.w.opts.Inspect
	if ins.ReplicaStamps != nil && ins.StampView != nil {
		if stamps, ok := ins.ReplicaStamps(n.m, d.stamps[:0]); ok {
			d.stamps = stamps
			return d.checkStamped(n, views, renewed)
		}
	}
	d.aliases = ins.ReplicaViews(n.m, d.aliases[:0])
	for i := range d.aliases {
		r := &d.aliases[i]
		if i >= len(views) || views[i].Partition != r.Partition || views[i].TopicID != r.TopicID {
			return false, nil
		}
		if err := d.checkView(n, &views[i], r, renewed); err != nil {
			return false, err
		}
	}
	return len(d.aliases) == len(views), nil
}

// checkStamped is checkInPlace reading only the replicas whose stamp moved since their
// view was read: the others' views are as they are (Inspect.ReplicaStamps).
func (d *dataInvariants) checkStamped(n *simNode, views []ReplicaView, renewed bool) (bool, error) {
	ins := d.w.opts.Inspect
	for i := range d.stamps {
		s := &d.stamps[i]
		if i >= len(views) || views[i].Partition != s.Partition || views[i].TopicID != s.TopicID {
			return false, nil
		}
		view, st := &views[i], s.stamp()
		if view.stamp == st && !ins.VerifyStamps {
			// The view is the replica: checkView would find them the same.
			if renewed && view.Leader && !view.Closed {
				if err := d.checkReplica(n, view); err != nil {
					return false, fmt.Errorf("%s/%d on node %d: %w", view.Topic, view.Partition, n.spec.ID, err)
				}
			}
			continue
		}
		ins.StampView(s, &d.alias)
		if view.stamp == st && !sameView(view, &d.alias) {
			return false, fmt.Errorf("%s/%d on node %d: changed under the same stamp %d: now %s, was %s", s.Topic, s.Partition, n.spec.ID, s.Changes, brief(&d.alias), brief(view))
		}
		if err := d.checkView(n, view, &d.alias, renewed); err != nil {
			return false, err
		}
		view.stamp = st
	}
	d.alias = ReplicaView{} // let go of the replica's slices
	return len(d.stamps) == len(views), nil
}

func brief(v *ReplicaView) string {
	return fmt.Sprintf("leader %v epoch %d hw %d leo %d durable %d start %d isr %v epochs %v fences %v",
		v.Leader, v.LeaderEpoch, v.HW, v.LEO, v.Durable, v.Start, v.ISR, v.Epochs, v.Fences)
}

// checkView brings view, a replica's view as of its node's last step, up to r, the
// replica now, and checks it if it changed (or if it leads and its lease was renewed).
func (d *dataInvariants) checkView(n *simNode, view, r *ReplicaView, renewed bool) error {
	if sameView(view, r) {
		if !(renewed && r.Leader && !r.Closed) {
			return nil
		}
	} else {
		d.countPair(view, r)
		setView(view, r)
	}
	if view.Closed {
		return nil
	}
	if err := d.checkReplica(n, view); err != nil {
		return fmt.Errorf("%s/%d on node %d: %w", view.Topic, view.Partition, n.spec.ID, err)
	}
	return nil
}

// setView makes dst a copy of src, reusing dst's slices. Every slice is copied: src's
// are the node's own, and a view that kept one would let a later copy into the view
// (coreReplicas reuses a view's slices) write into the node's state.
func setView(dst, src *ReplicaView) {
	isr, epochs, fences := dst.ISR[:0], dst.Epochs[:0], dst.Fences[:0]
	*dst = *src
	dst.ISR = append(isr, src.ISR...)
	dst.Epochs = append(epochs, src.Epochs...)
	dst.Fences = append(fences, src.Fences...)
}

// checkImage checks the node's metadata image when it changed.
func (d *dataInvariants) checkImage(n *simNode) error {
	ins := d.w.opts.Inspect
	off := ins.ImageOffset(n.m)
	if off == d.images[n.spec.ID-1] {
		return nil
	}
	d.images[n.spec.ID-1] = off
	if err := ins.ImageCheck(n.m); err != nil {
		return err
	}
	if err := d.checkBrokerCap(n); err != nil {
		return err
	}
	return d.checkMoves(n)
}

// checkMoves checks, for each data partition whose replicas the node's image shows at
// a newer partition epoch than any image before, that the replicas it lost leave
// enough copies behind: the ones that remain hold everything below the highest high
// watermark the partition reached, on min.insync.replicas of their synced disks (all
// of them, when fewer remain).
func (d *dataInvariants) checkMoves(n *simNode) error {
	ins := d.w.opts.Inspect
	if d.async || ins.Metadata == nil || d.w.cfg.Data.MoveInterval == 0 {
		return nil
	}
	md, ok := ins.Metadata(n.m)
	if !ok {
		return nil
	}
	for _, t := range md.Topics {
		dt, data := d.w.cfg.Data.topic(t.Name)
		if !data {
			continue
		}
		for p := range t.Replicas {
			pk := partKey{t.ID, int32(p)}
			last, seen := d.replicaSets[pk]
			if seen && t.PartitionEpochs[p] <= last.epoch {
				continue
			}
			d.replicaSets[pk] = replicaSet{t.PartitionEpochs[p], t.Replicas[p]}
			if !seen || !slices.ContainsFunc(last.replicas, func(id int32) bool { return !slices.Contains(t.Replicas[p], id) }) {
				continue
			}
			top := d.topHW[pk]
			if top <= 0 {
				continue
			}
			tp := TopicPartition{t.Name, int32(p)}
			need := max(1, min(int(dt.MinISR), len(t.Replicas[p])))
			d.w.cov.Inc("check:moves")
			if holding := d.countCopies(tp, t.Replicas[p], top); holding < need {
				held, short := describeCopies(d.copies)
				return durableViolation{fmt.Errorf("%s lost replicas %v -> %v at partition epoch %d (image of node %d), but only %d of those left hold the offsets below the high watermark %d on their synced disks, below %d: holding %v, short %v",
					tp, last.replicas, t.Replicas[p], t.PartitionEpochs[p], n.spec.ID, holding, top, need, held, short)}
			}
		}
	}
	return nil
}

func (d *dataInvariants) checkReplica(n *simNode, r *ReplicaView) error {
	id := n.spec.ID
	pk := partKey{r.TopicID, r.Partition}
	if r.Durable > r.LEO || (!d.async && r.HW > r.LEO) {
		return fmt.Errorf("offsets out of order: log start %d, HW %d, durable %d, log end %d", r.Start, r.HW, r.Durable, r.LEO)
	}
	if r.Leader {
		k := epochKey{pk, r.LeaderEpoch}
		if other, ok := d.leaders[k]; ok && other != id {
			return fmt.Errorf("two leaders in leader epoch %d: node %d and node %d", r.LeaderEpoch, other, id)
		}
		d.leaders[k] = id
		if last, ok := d.lastLeader[pk]; ok && r.LeaderEpoch > last[0] && last[1] != id {
			if r.Topic == coreOffsetsTopic {
				d.w.cov.Inc("group:coordinator-failover")
			} else if r.Topic == coreTxnTopic {
				if slices.Contains(d.w.cfg.Data.txnCoordinatorPartitions(), r.Partition) {
					// The coordinator of a transactional id of the run moved: the new one
					// loads its state in a new coordinator epoch.
					d.w.cov.Inc("txn:coordinator-move")
				}
			} else if _, data := d.w.cfg.Data.topic(r.Topic); data {
				d.w.cov.Inc("partition:leader-failover")
			}
		}
		if last, ok := d.lastLeader[pk]; !ok || r.LeaderEpoch > last[0] {
			d.lastLeader[pk] = [2]int32{r.LeaderEpoch, id}
		}
		d.topHW[pk] = max(d.topHW[pk], r.HW)
		if low := d.deleted[TopicPartition{r.Topic, r.Partition}]; r.Start < low && d.serves(n, r) {
			return fmt.Errorf("leads epoch %d from log start %d, below %d, where an acknowledged DeleteRecords moved it", r.LeaderEpoch, r.Start, low)
		}
	}
	if d.async && r.Leader && !r.Loading {
		d.noteCommitted(id, r)
	}
	if !d.async && !r.Loading {
		// A replica that cut damaged data to fetch it back moves its high watermark back
		// with its log (it is out of the ISR then: nothing counts on it).
		hk := hwKey{pk, id, n.inc}
		if last, ok := d.hws[hk]; ok && last.epoch == r.LeaderEpoch && r.HW < last.hw && r.Repairs == last.repairs {
			return fmt.Errorf("high watermark went back from %d to %d in leader epoch %d", last.hw, r.HW, r.LeaderEpoch)
		}
		d.hws[hk] = hwMark{r.LeaderEpoch, r.HW, r.Repairs}
		if err := d.checkAdvance(hk, r); err != nil {
			return err
		}
	}
	if err := d.checkDamage(id, r); err != nil {
		return err
	}
	if err := d.checkLease(n, r); err != nil {
		return err
	}
	for j, reps := range d.replicas {
		other := int32(j + 1)
		if other == id || reps == nil {
			continue
		}
		o := findReplica(reps, pk)
		if o == nil || o.Closed {
			continue
		}
		if err := d.checkPair(n.spec.ID, r, other, o); err != nil {
			return err
		}
	}
	return nil
}

// leaseHolds reports whether node id holds a valid broker lease on its own clock.
func (d *dataInvariants) leaseHolds(id int32) bool {
	ins := d.w.opts.Inspect
	n := d.w.nodes[id-1]
	return ins.LeaseValid == nil || n.m != nil && ins.LeaseValid(n.m, n.localNow())
}

// serves reports whether leader r on node n may answer clients: loaded, ready to read,
// with a valid lease (a leader deposed while cut off keeps its view until it learns).
func (d *dataInvariants) serves(n *simNode, r *ReplicaView) bool {
	return !r.Loading && r.ReadReady && d.leaseHolds(n.spec.ID)
}

// deleteAcknowledged records a DeleteRecords answer's low watermark.
func (d *dataInvariants) deleteAcknowledged(tp TopicPartition, low int64) {
	d.deleted[tp] = max(d.deleted[tp], low)
}

// noteCommitted watches a leader of a data partition with log.flush=async: a leader
// whose log ends below a high watermark reached before has lost committed records,
// which the mode allows and after which the partition's history cannot be linearizable.
func (d *dataInvariants) noteCommitted(id int32, r *ReplicaView) {
	if _, data := d.w.cfg.Data.topic(r.Topic); !data {
		return
	}
	tp := TopicPartition{r.Topic, r.Partition}
	top := d.committedMax[tp]
	if _, seen := d.regressed[tp]; !seen && r.LEO < top {
		d.regressed[tp] = fmt.Sprintf("node %d leads epoch %d with its log ending at %d, below the high watermark %d reached before", id, r.LeaderEpoch, r.LEO, top)
		d.w.cov.Inc("check:async-committed-lost")
	}
	d.committedMax[tp] = max(top, r.HW)
}

// checkLease fails when r leads with a valid lease while another replica does too.
func (d *dataInvariants) checkLease(n *simNode, r *ReplicaView) error {
	ins := d.w.opts.Inspect
	if !r.Leader || ins.LeaseValid == nil || !ins.LeaseValid(n.m, n.localNow()) {
		return nil
	}
	pk := partKey{r.TopicID, r.Partition}
	for j, reps := range d.replicas {
		m := d.w.nodes[j]
		if m == n || reps == nil || !m.up {
			continue
		}
		if o := findReplica(reps, pk); o != nil && o.Leader && !o.Closed && ins.LeaseValid(m.m, m.localNow()) {
			return fmt.Errorf("two leaders with valid leases at once: node %d (epoch %d) and node %d (epoch %d)", n.spec.ID, r.LeaderEpoch, m.spec.ID, o.LeaderEpoch)
		}
	}
	return nil
}

// checkPair checks r on node a against o on node b.
func (d *dataInvariants) checkPair(a int32, r *ReplicaView, b int32, o *ReplicaView) error {
	if d.async {
		return nil
	}
	// An ISR member holds everything below its leader's HW. A leader the member already
	// knows was superseded (a later leader epoch reached it) is a deposed one that has
	// not heard yet, say after a pause: its ISR speaks for nobody. Nor does it for a
	// member that knows a later partition state without it in the ISR (removed, say,
	// then added back with an empty log, while the leader was cut off from the
	// metadata): the leader counts that member's next fetches, not what it held. Nor
	// does a leader whose lease ended (paused, say, while a reassignment removed the
	// member, which a restart then brought back catching up with the metadata): it
	// answers nobody until it hears from the controller again.
	if r.Leader && slices.Contains(r.ISR, b) && !o.Loading && o.Durable < r.HW && r.LeaderEpoch >= o.LeaderEpoch && !leftISR(o, b, r) && d.leaseHolds(a) {
		return fmt.Errorf("ISR member %d durably holds up to %d, below the leader's high watermark %d (leader epoch %d, ISR %v)", b, o.Durable, r.HW, r.LeaderEpoch, r.ISR)
	}
	if o.Leader && slices.Contains(o.ISR, a) && !r.Loading && r.Durable < o.HW && o.LeaderEpoch >= r.LeaderEpoch && !leftISR(r, a, o) && d.leaseHolds(b) {
		return fmt.Errorf("it is in the ISR %v of leader %d (epoch %d, HW %d) but durably holds only up to %d", o.ISR, b, o.LeaderEpoch, o.HW, r.Durable)
	}
	if r.Loading || o.Loading {
		return nil
	}
	hw := min(r.HW, o.HW)
	if r.Start > 0 || o.Start > 0 {
		return agreeAbove(a, r, b, o, hw)
	}
	if ea, eb := epochsBelow(r.Epochs, hw), epochsBelow(o.Epochs, hw); !slices.Equal(ea, eb) {
		return fmt.Errorf("logs disagree below offset %d, the smaller HW: node %d has epochs %v, node %d has %v", hw, a, ea, b, eb)
	}
	return nil
}

// checkDamage checks a replica's fences against what the faults damaged, and its
// conduct with damage:
//
//   - a range fenced as damaged holds a batch a fault damaged on this node (storage never
//     fences intact data, whatever a transient read fault returned);
//   - a replica holding damaged data does not lead while its ISR has another member:
//     that member may hold the data intact, and reads must not lose it (it resigns);
//   - a leader that is the only member of its ISR declares its fenced ranges lost: the
//     one place reads may fail (kept in declared).
func (d *dataInvariants) checkDamage(id int32, r *ReplicaView) error {
	if len(r.Fences) == 0 {
		return nil
	}
	log := d.partitionLog(TopicPartition{r.Topic, r.Partition})
	damaged := false
	for _, f := range r.Fences {
		if f.Kind != disk.FenceDamaged {
			continue
		}
		damaged = true
		if !d.w.faults.partDamage.overlaps(id, log, offRange{f.From, f.To}) {
			return fmt.Errorf("it fenced %v as damaged, but no fault damaged a batch there", f)
		}
	}
	if !r.Leader || r.Loading {
		return nil
	}
	others := slices.ContainsFunc(r.ISR, func(m int32) bool { return m != id })
	if damaged && others {
		return fmt.Errorf("it leads epoch %d holding damaged data (fences %v) while its ISR %v has other members", r.LeaderEpoch, r.Fences, r.ISR)
	}
	if others {
		return nil
	}
	tp := TopicPartition{r.Topic, r.Partition}
	if _, data := d.w.cfg.Data.topic(r.Topic); !data {
		return nil
	}
	for _, f := range r.Fences {
		if rg := (offRange{f.From, f.To}); !slices.Contains(d.declared[tp], rg) {
			d.declared[tp] = append(d.declared[tp], rg)
			d.w.cov.Inc("check:declared-lost")
		}
	}
	return nil
}

// sameView reports whether two views of one node's replica show the same state.
func sameView(a, b *ReplicaView) bool {
	return a.Partition == b.Partition && a.TopicID == b.TopicID && a.Leader == b.Leader && a.Follower == b.Follower &&
		a.LeaderEpoch == b.LeaderEpoch && a.HW == b.HW && a.LEO == b.LEO && a.Durable == b.Durable && a.Start == b.Start &&
		a.ReadReady == b.ReadReady && a.Loading == b.Loading && a.Closed == b.Closed &&
		a.Resigning == b.Resigning && a.Repairs == b.Repairs && slices.Equal(a.Fences, b.Fences) &&
		a.PartitionEpoch == b.PartitionEpoch && slices.Equal(a.ISR, b.ISR) && slices.Equal(a.Epochs, b.Epochs)
}

// leftISR reports whether member, replica id, knows a later committed partition state
// than leader does, in which id is not in the ISR.
func leftISR(member *ReplicaView, id int32, leader *ReplicaView) bool {
	return member.PartitionEpoch > leader.PartitionEpoch && !slices.Contains(member.ISR, id)
}

// epochsBelow returns the epoch cache entries that start below hw.
func epochsBelow(epochs []disk.EpochEntry, hw int64) []disk.EpochEntry {
	i := 0
	for i < len(epochs) && epochs[i].StartOffset < hw {
		i++
	}
	return epochs[:i]
}

// findReplica finds the replica of a partition in a node's list.
func findReplica(reps []ReplicaView, pk partKey) *ReplicaView {
	for i := range reps {
		if reps[i].Partition == pk.partition && reps[i].TopicID == pk.topicID {
			return &reps[i]
		}
	}
	return nil
}

// checkGroups checks the node's coordinators: no partition with two owners in one
// generation of a group, across every coordinator seen.
func (d *dataInvariants) checkGroups(n *simNode) error {
	for _, cv := range d.w.opts.Inspect.Groups(n.m) {
		if !cv.Serving {
			continue
		}
		for _, g := range cv.Groups {
			if err := d.checkGroup(n.spec.ID, cv.Partition, g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *dataInvariants) checkGroup(node, part int32, g GroupView) error {
	k := genKey{g.ID, g.Generation}
	owners := d.owners[k]
	for _, m := range g.Members {
		if m.Assignment == nil {
			continue
		}
		tps, err := decodeAssignment(m.Assignment)
		if err != nil {
			continue // not a consumer assignment: nothing to check
		}
		owner := m.ID
		if m.InstanceID != "" {
			owner = "instance " + m.InstanceID
		}
		if owners == nil {
			owners = map[TopicPartition]string{}
			d.owners[k] = owners
		}
		for _, tp := range tps {
			if prev, ok := owners[tp]; ok && prev != owner {
				return groupViolation{fmt.Errorf("group %s generation %d (coordinator on node %d, offsets partition %d): partition %s is owned by %s and by %s",
					g.ID, g.Generation, node, part, tp, prev, owner)}
			}
			owners[tp] = owner
		}
	}
	return nil
}

// checkReplicasAgree reads every up replica of every data partition from its node's
// disk at the end of the run and compares what it holds below its high watermark with
// the final read.
func (c *checkers) checkReplicasAgree() bool {
	w := c.w
	ins := w.opts.Inspect
	if ins.Replicas == nil || w.data == nil {
		return true
	}
	final := map[string]map[int64]string{}
	for _, tp := range w.data.finalPartitions() {
		m := map[int64]string{}
		for _, r := range w.data.finalReads[tp] {
			if !r.Fenced {
				m[r.Offset] = r.Value
			}
		}
		final[tp.String()] = m
	}
	for _, n := range w.nodes {
		if !n.up || !n.spec.Broker {
			continue
		}
		for _, r := range ins.Replicas(n.m, nil) {
			tp := TopicPartition{r.Topic, r.Partition}
			want, ok := final[tp.String()]
			if !ok || r.Closed || r.Loading || r.HW <= r.Start {
				continue
			}
			if !c.compareReplica(n, r, tp, want) || !c.checkTopicSegments(n, tp) || !c.checkAbortedIndex(n, r, tp) {
				return false
			}
			w.cov.Inc("check:replica-compared")
		}
	}
	return true
}

// compareReplica reads a replica's log below its high watermark from its node's disk and
// compares every record with the final read. Fenced ranges are skipped; so is what lies
// beyond damage the replica has not met yet (a fault damaged it and nothing read it
// since: nothing tells where its batches resume without mending the log).
func (c *checkers) compareReplica(n *simNode, r ReplicaView, tp TopicPartition, want map[int64]string) bool {
	w := c.w
	for at := r.Start; at < r.HW; {
		done := n.exec.DoAll([]disk.Op{{Kind: disk.Read, Log: disk.PartitionLog(r.Topic, r.Partition), Offset: at, MaxOffset: r.HW, MaxBytes: 64 << 20}})[0]
		switch {
		case done.Err != nil && len(done.Fences) > 0 && done.Fences[0].To > at:
			at = done.Fences[0].To
			continue
		case done.Err != nil && done.Corrupt && w.faults.partDamage.overlaps(n.spec.ID, disk.PartitionLog(r.Topic, r.Partition), offRange{at, r.HW}):
			w.cov.Inc("check:replica-damage-unread")
			return true
		case done.Err != nil:
			w.fail("replicas", n.spec.ID, "reading %s [%d, %d) back from node %d's disk: %v", tp, at, r.HW, n.spec.ID, done.Err)
			return false
		}
		recs, next, err := w.decodeRecords(done.Data, at)
		if err != nil {
			w.fail("replicas", n.spec.ID, "node %d's copy of %s: %v", n.spec.ID, tp, err)
			return false
		}
		if next <= at {
			return true
		}
		for _, rec := range recs {
			if rec.Offset >= r.HW {
				return true
			}
			if v, ok := want[rec.Offset]; ok && v != rec.Value {
				w.fail("replicas", n.spec.ID, "node %d holds %q at %s offset %d, below its HW %d; the final read has %q", n.spec.ID, rec.Value, tp, rec.Offset, r.HW, v)
				return false
			}
		}
		at = next
	}
	return true
}
