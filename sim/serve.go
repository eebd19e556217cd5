package sim

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// serveWatch checks what a node decides about client requests against its state when
// the request reached it (the gate a leader applies at arrival):
//
//   - a produce, fetch or ListOffsets that reached a node whose controller lease was not
//     valid (on its own clock) must not be answered with success for any partition: a
//     broker without a lease must not act as a leader (DESIGN.md 4.3);
//   - a fetch or a ListOffsets for the latest offset that reached a leader whose high
//     watermark did not yet cover its log end at election must not be answered with
//     success for that partition: a new leader serves no reads before then, so no
//     client sees a high watermark below one an earlier leader showed.
//
// And it checks what a successful answer promises is committed (invariant:durable, see
// truth.go): the offsets an acks=all produce acknowledged, and the group records an
// OffsetCommit, SyncGroup or OffsetDelete wrote, which must also lie below its offsets
// partition's high watermark on the answering node.
//
// It also counts idempotent produces answered without an append: the duplicates of
// batches a retry sent again. A request that a client quota's mute holds is not watched:
// the node decides on it when the mute ends, not at its arrival (quotacheck.go).
type serveWatch struct {
	w       *World
	pending map[serveKey]*serveMark
	// syncRecords is the group record written for each generation's assignment.
	syncRecords map[genKey]groupRecord
	// fresh is the answering node's replicas, read when an answer leaves (aliasing
	// its state: valid until its next input).
	fresh []ReplicaView
	// last is the request the node being stepped is taking, to compare its replicas
	// after the step.
	last *serveMark
	// ok is answered's scratch list of the partitions an answer served.
	ok []TopicPartition
	// free holds marks nothing refers to any more, for arrived to reuse.
	free []*serveMark
}

type serveKey struct {
	node int32
	conn core.ConnID
	corr int32
}

type serveMark struct {
	key      serveKey
	noLease  bool
	notReady []TopicPartition
	// idempotent produce: the partition and its log end before the request.
	idem      bool
	idemTP    TopicPartition
	leoBefore int64
	noAppend  bool
	// acks=all produce: the records each partition's batches carry, to find where the
	// acknowledged offsets end.
	acksAll []producedCount
	// OffsetCommit, SyncGroup and OffsetDelete: the group and generation (-1 for
	// OffsetDelete), the log ends of the offsets partitions the node led before the
	// request, and the group record it appended (found once the node took the request;
	// see groupRecord).
	groupKey   genKey
	syncGroup  bool
	offsetsLEO []partLEO
	record     *groupRecord
	accounted  bool
	// answered says the answer left: the mark is no longer pending.
	answered bool
}

type producedCount struct {
	tp      TopicPartition
	records int64
}

type partLEO struct {
	partition int32
	leo       int64
}

// groupRecord is a record a coordinator appended to its offsets partition for a
// request: answering the request with success promises it is committed, so the
// partition's high watermark on the node must be past end when the answer leaves.
type groupRecord struct {
	node      int32
	partition int32
	end       int64
}

func newServeWatch(w *World) *serveWatch {
	return &serveWatch{w: w, pending: map[serveKey]*serveMark{}, syncRecords: map[genKey]groupRecord{}}
}

// arrived notes a data request reaching node n, before the node takes it.
func (s *serveWatch) arrived(n *simNode, conn core.ConnID, corr int32, req kmsg.Request) {
	s.last = nil
	d := s.w.checks.data
	ins := s.w.opts.Inspect
	if d == nil || ins.LeaseValid == nil || req == nil {
		return
	}
	reps := d.replicas[n.spec.ID-1]
	m := serveMark{key: serveKey{n.spec.ID, conn, corr}}
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		if r.Acks == 0 {
			return
		}
		if r.Acks == -1 {
			m.acksAll = producedCounts(r)
		}
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			p := r.Topics[0].Partitions[0]
			if h, err := record.ParseHeader(p.Records); err == nil && h.ProducerID >= 0 {
				tp := TopicPartition{r.Topics[0].Topic, p.Partition}
				if rv := findReplicaByName(reps, tp); rv != nil && rv.Leader {
					m.idem, m.idemTP, m.leoBefore = true, tp, rv.LEO
				}
			}
		}
	case *kmsg.FetchRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				m.notReady = s.notReady(m.notReady, reps, TopicPartition{t.Topic, p.Partition}, t.TopicID)
			}
		}
	case *kmsg.OffsetCommitRequest:
		m.groupKey, m.offsetsLEO = genKey{r.Group, r.Generation}, offsetsLEOs(reps)
	case *kmsg.SyncGroupRequest:
		m.groupKey, m.syncGroup, m.offsetsLEO = genKey{r.Group, r.Generation}, true, offsetsLEOs(reps)
	case *kmsg.OffsetDeleteRequest:
		m.groupKey, m.offsetsLEO = genKey{r.Group, -1}, offsetsLEOs(reps)
	case *kmsg.ListOffsetsRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.Timestamp == -1 {
					m.notReady = s.notReady(m.notReady, reps, TopicPartition{t.Topic, p.Partition}, [16]byte{})
				}
			}
		}
	default:
		return
	}
	m.noLease = !ins.LeaseValid(n.m, n.localNow())
	pm := s.newMark()
	*pm = m
	s.pending[m.key] = pm
	s.last = pm
}

// newMark returns a mark to fill, reusing one nothing refers to any more.
func (s *serveWatch) newMark() *serveMark {
	if len(s.free) == 0 {
		return &serveMark{}
	}
	m := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	return m
}

// release makes a mark that left pending reusable once the step taking its request
// is done with it too.
func (s *serveWatch) release(m *serveMark) {
	if m != s.last {
		s.free = append(s.free, m)
	}
}

// notReady appends tp when n leads it without being ready to serve reads.
func (s *serveWatch) notReady(out []TopicPartition, reps []ReplicaView, tp TopicPartition, id [16]byte) []TopicPartition {
	for i := range reps {
		r := &reps[i]
		if r.Partition != tp.Partition || (r.Topic != tp.Topic && r.TopicID != id) {
			continue
		}
		if r.Leader && !r.ReadReady && !r.Closed {
			out = append(out, TopicPartition{r.Topic, r.Partition})
		}
	}
	return out
}

// stepped runs after the node took the request: an idempotent produce that appended
// nothing was answered from the producer state (or refused).
func (s *serveWatch) stepped(n *simNode) {
	m := s.last
	s.last = nil
	if m == nil || s.w.checks.data == nil {
		return
	}
	if m.answered {
		s.release(m)
		return // its answer left within the step, having counted what it found
	}
	s.account(n, m, s.w.checks.data.replicas[n.spec.ID-1])
	if !m.idem {
		return
	}
	if rv := findReplicaByName(s.w.checks.data.replicas[n.spec.ID-1], m.idemTP); rv != nil && rv.LEO == m.leoBefore {
		m.noAppend = true
	}
}

// account finds the group record the node appended for an OffsetCommit or SyncGroup
// it took, from its replicas after the step: one request appends at most one batch,
// to the offsets partition of its group.
func (s *serveWatch) account(n *simNode, m *serveMark, reps []ReplicaView) {
	if m.accounted || m.offsetsLEO == nil && m.groupKey == (genKey{}) {
		return
	}
	m.accounted = true
	for _, after := range offsetsLEOs(reps) {
		i := slices.IndexFunc(m.offsetsLEO, func(b partLEO) bool { return b.partition == after.partition })
		if i >= 0 && after.leo > m.offsetsLEO[i].leo {
			m.record = &groupRecord{node: n.spec.ID, partition: after.partition, end: after.leo}
			if m.syncGroup {
				s.syncRecords[m.groupKey] = *m.record
			}
			return
		}
	}
}

// answered checks a response leaving node n.
func (s *serveWatch) answered(n *simNode, r core.Response) {
	k := serveKey{n.spec.ID, r.Conn, r.Corr}
	m := s.pending[k]
	if m == nil {
		return
	}
	delete(s.pending, k)
	m.answered = true
	defer s.release(m)
	w := s.w
	if m.acksAll != nil || m.groupKey != (genKey{}) {
		// The node's replicas as they are now: its last input, which released this
		// answer, may not have been checked yet (a round's last input is checked after
		// its drain).
		if w.opts.Inspect.ReplicaViews != nil {
			s.fresh = w.opts.Inspect.ReplicaViews(n.m, s.fresh[:0])
		} else {
			s.fresh = w.opts.Inspect.Replicas(n.m, s.fresh[:0])
		}
		if m == s.last {
			// The request's own step ends with this answer: account for it first.
			s.account(n, m, s.fresh)
		}
		if err := s.checkCommitted(n, m, r.Msg, s.fresh); err != nil {
			w.fail("invariant:durable", n.spec.ID, "%v", err)
			return
		}
	}
	s.ok = okPartitions(s.ok[:0], r.Msg, s.w.checks.data.replicas[n.spec.ID-1])
	ok := s.ok
	if m.noLease && len(ok) > 0 {
		w.fail("invariant:lease", n.spec.ID, "node %d answered %s for %v although its lease had expired when the request arrived",
			n.spec.ID, kmsg.NameForKey(r.Msg.Key()), ok)
		return
	}
	for _, tp := range m.notReady {
		if !slices.Contains(ok, tp) {
			continue
		}
		// A fetch reads its partitions one after another, each after the one before
		// it was read from disk: a leader not ready when the request came may be by
		// the time its turn came. Still not ready now, it served a read it may not.
		if w.opts.Inspect.ReplicaViews != nil {
			s.fresh = w.opts.Inspect.ReplicaViews(n.m, s.fresh[:0])
		} else {
			s.fresh = w.opts.Inspect.Replicas(n.m, s.fresh[:0])
		}
		if len(s.notReady(nil, s.fresh, tp, [16]byte{})) == 0 {
			w.cov.Inc("check:read-ready-became-ready")
			continue
		}
		w.fail("invariant:read-ready", n.spec.ID, "node %d served a read of %s as a new leader whose high watermark had not yet covered its log end at election",
			n.spec.ID, tp)
		return
	}
	if m.idem && m.noAppend && len(ok) > 0 {
		w.cov.Inc("producer:duplicate-answered")
	}
}

// checkCommitted checks what a successful answer promises is committed against the
// node's high watermark and the disks' durable images: the offsets an acks=all produce
// acknowledged, and the group record an OffsetCommit or SyncGroup wrote.
func (s *serveWatch) checkCommitted(n *simNode, m *serveMark, resp kmsg.Response, reps []ReplicaView) error {
	d := s.w.checks.data
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				tp := TopicPartition{t.Topic, p.Partition}
				i := slices.IndexFunc(m.acksAll, func(c producedCount) bool { return c.tp == tp })
				if p.ErrorCode != errNone || p.BaseOffset < 0 || i < 0 {
					continue
				}
				rv := findReplicaByName(reps, tp)
				end := p.BaseOffset + m.acksAll[i].records
				if rv == nil || d.checkedThrough(n, rv, end) {
					continue
				}
				if err := d.checkDurable(rv, end, func() string { return "an acks=all produce to " + tp.String() + " was acknowledged" }); err != nil {
					return err
				}
			}
		}
	case *kmsg.OffsetCommitResponse:
		ok := slices.ContainsFunc(r.Topics, func(t kmsg.OffsetCommitResponseTopic) bool {
			return slices.ContainsFunc(t.Partitions, func(p kmsg.OffsetCommitResponseTopicPartition) bool { return p.ErrorCode == errNone })
		})
		if ok && m.record != nil {
			return s.checkGroupRecord(n, *m.record, reps, func() string { return "an OffsetCommit of group " + m.groupKey.group })
		}
	case *kmsg.OffsetDeleteResponse:
		ok := r.ErrorCode == errNone && slices.ContainsFunc(r.Topics, func(t kmsg.OffsetDeleteResponseTopic) bool {
			return slices.ContainsFunc(t.Partitions, func(p kmsg.OffsetDeleteResponseTopicPartition) bool { return p.ErrorCode == errNone })
		})
		if ok && m.record != nil {
			return s.checkGroupRecord(n, *m.record, reps, func() string { return "an OffsetDelete of group " + m.groupKey.group })
		}
	case *kmsg.SyncGroupResponse:
		if rec, ok := s.syncRecords[m.groupKey]; ok && r.ErrorCode == errNone && rec.node == n.spec.ID {
			return s.checkGroupRecord(n, rec, reps, func() string {
				return fmt.Sprintf("a SyncGroup of group %s generation %d", m.groupKey.group, m.groupKey.generation)
			})
		}
	}
	return nil
}

// checkGroupRecord checks that a group record answered as written is below its
// partition's high watermark on the node that answered, and on enough synced disks.
func (s *serveWatch) checkGroupRecord(n *simNode, rec groupRecord, reps []ReplicaView, what func() string) error {
	rv := findReplicaByName(reps, TopicPartition{coreOffsetsTopic, rec.partition})
	if rv == nil || s.w.checks.data.async {
		return nil
	}
	s.w.cov.Inc("check:group-record-committed")
	if rv.HW < rec.end {
		return fmt.Errorf("%s was answered with its record ending at %d of %s/%d, above the high watermark %d (leader epoch %d, ISR %v)",
			what(), rec.end, coreOffsetsTopic, rec.partition, rv.HW, rv.LeaderEpoch, rv.ISR)
	}
	if !rv.Leader {
		return nil
	}
	return s.w.checks.data.checkDurable(rv, rec.end, func() string { return what() + " was answered" })
}

// producedCounts counts the records of each partition of an acks=all produce.
func producedCounts(r *kmsg.ProduceRequest) []producedCount {
	var out []producedCount
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			var n int64
			if _, err := record.Split(p.Records, func(h record.Header, _ []byte) error {
				n += int64(h.LastOffsetDelta) + 1
				return nil
			}); err != nil || n == 0 {
				continue
			}
			out = append(out, producedCount{TopicPartition{t.Topic, p.Partition}, n})
		}
	}
	return out
}

// offsetsLEOs lists the log ends of the offsets partitions the node leads.
func offsetsLEOs(reps []ReplicaView) []partLEO {
	out := []partLEO{}
	for i := range reps {
		if r := &reps[i]; r.Topic == coreOffsetsTopic && r.Leader && !r.Closed {
			out = append(out, partLEO{r.Partition, r.LEO})
		}
	}
	return out
}

// connClosed forgets the requests of a closed connection.
func (s *serveWatch) connClosed(conn core.ConnID) {
	for k := range s.pending {
		if k.conn == conn {
			delete(s.pending, k)
		}
	}
}

// okPartitions appends to out the partitions a data response answered with success;
// reps names the topics a response gives by id.
func okPartitions(out []TopicPartition, resp kmsg.Response, reps []ReplicaView) []TopicPartition {
	name := func(topic string, id [16]byte) string {
		if topic != "" {
			return topic
		}
		for i := range reps {
			if reps[i].TopicID == id {
				return reps[i].Topic
			}
		}
		return fmt.Sprintf("topic-id-%x", id)
	}
	if a, ok := resp.(*kafka.FetchAnswer); ok {
		resp = a.FetchResponse
	}
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errNone {
					out = append(out, TopicPartition{t.Topic, p.Partition})
				}
			}
		}
	case *kmsg.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errNone && r.ErrorCode == errNone {
					out = append(out, TopicPartition{name(t.Topic, t.TopicID), p.Partition})
				}
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errNone {
					out = append(out, TopicPartition{t.Topic, p.Partition})
				}
			}
		}
	}
	return out
}

func findReplicaByName(reps []ReplicaView, tp TopicPartition) *ReplicaView {
	for i := range reps {
		if reps[i].Partition == tp.Partition && reps[i].Topic == tp.Topic && !reps[i].Closed {
			return &reps[i]
		}
	}
	return nil
}
