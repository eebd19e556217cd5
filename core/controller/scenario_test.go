package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// world models brokers around one controller: brokers that heartbeat on schedule, pause
// (and keep their lease), resume, shut down, and leaders that shrink and grow ISRs.
// It checks the rules after every step, above all that no leadership moves off a broker
// while a lease it was granted may still be running.
type world struct {
	*harness
	rt        *rapid.T
	paused    map[int32]bool
	shutdown  map[int32]bool
	lastSent  map[int32]int64
	leaseEnd  map[int32]int64
	heartbeat map[uint64]hbSent
}

type hbSent struct {
	broker int32
	at     int64
}

func TestControllerScenarios(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarnessConfig(t, testConfig(rapid.Uint64().Draw(rt, "seed")))
		w := &world{harness: h, rt: rt, paused: map[int32]bool{}, shutdown: map[int32]bool{},
			lastSent: map[int32]int64{}, leaseEnd: map[int32]int64{}, heartbeat: map[uint64]hbSent{}}
		n := rapid.IntRange(2, 5).Draw(rt, "brokers")
		h.cluster(n)
		for i := 1; i <= n; i++ {
			w.lastSent[int32(i)] = h.now
		}
		h.createTopic("t", int32(rapid.IntRange(1, 6).Draw(rt, "partitions")), int16(rapid.IntRange(1, n).Draw(rt, "rf")))
		h.manual = true
		steps := rapid.IntRange(10, 120).Draw(rt, "steps")
		for range steps {
			w.step()
			w.check()
		}
		// Quiesce: commit everything; every request is answered.
		w.commit()
		if st := h.c.Status(); st.Waiting != 0 {
			rt.Fatalf("%d requests never answered", st.Waiting)
		}
	})
}

func (w *world) step() {
	ids := w.committed.BrokerIDs()
	pick := func() int32 { return rapid.SampledFrom(ids).Draw(w.rt, "broker") }
	switch rapid.IntRange(0, 9).Draw(w.rt, "action") {
	case 0, 1, 2:
		w.advance(time.Duration(rapid.IntRange(1, 4000).Draw(w.rt, "ms")) * time.Millisecond)
	case 3:
		w.commit()
	case 4:
		id := pick()
		w.paused[id] = !w.paused[id]
	case 5:
		w.alterISR()
	case 6:
		if id := pick(); rapid.IntRange(0, 3).Draw(w.rt, "rare") == 0 && !w.shutdown[id] {
			w.shutdown[id] = true // from now on it never leads again
			w.sendHeartbeat(id)
		}
	case 7:
		if rapid.IntRange(0, 3).Draw(w.rt, "rare") == 0 {
			w.failover()
		}
	case 8:
		name := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(w.rt, "topic")
		w.send(-1, createReq(name, int32(rapid.IntRange(1, 3).Draw(w.rt, "n")), -1))
		w.observe()
	default:
		w.sendHeartbeat(pick())
	}
}

// advance moves time in steps, with every running broker heartbeating on schedule.
func (w *world) advance(d time.Duration) {
	for d > 0 {
		step := min(d, 250*time.Millisecond)
		d -= step
		w.harness.advance(step)
		w.observe()
		for _, id := range w.committed.BrokerIDs() {
			if !w.paused[id] && w.now-w.lastSent[id] >= int64(w.cfg.HeartbeatInterval) {
				w.sendHeartbeat(id)
			}
		}
	}
}

func (w *world) sendHeartbeat(id int32) {
	b, _ := w.c.pending.Broker(id)
	m := heartbeatReq(id, b.Epoch, w.committed.Offset())
	m.WantShutdown = w.shutdown[id]
	w.lastSent[id] = w.now
	reqID := w.send(id, m)
	w.heartbeat[reqID] = hbSent{broker: id, at: w.now}
	w.observe()
}

func (w *world) alterISR() {
	tid := w.topicT()
	parts := w.committed.Partitions(tid)
	ps := parts[rapid.IntRange(0, len(parts)-1).Draw(w.rt, "partition")]
	if ps.Leader == metadata.NoLeader || w.paused[ps.Leader] || w.shutdown[ps.Leader] {
		return
	}
	others := slices.DeleteFunc(slices.Clone(ps.Replicas), func(id int32) bool { return id == ps.Leader })
	isr := []int32{ps.Leader}
	for _, id := range others {
		if rapid.Bool().Draw(w.rt, "inISR") {
			isr = append(isr, id)
		}
	}
	b, _ := w.committed.Broker(ps.Leader)
	m := kmsg.NewPtrAlterPartitionRequest()
	m.Version, m.BrokerID, m.BrokerEpoch = 2, ps.Leader, b.Epoch
	m.Topics = []kmsg.AlterPartitionRequestTopic{{TopicID: tid, Partitions: []kmsg.AlterPartitionRequestTopicPartition{
		{Partition: ps.Partition, LeaderEpoch: ps.LeaderEpoch, PartitionEpoch: ps.PartitionEpoch, NewISR: isr}}}}
	w.send(ps.Leader, m)
	w.observe()
}

// failover: the quorum elects this node again after dropping uncommitted records.
func (w *world) failover() {
	w.c.Deactivate()
	w.observe()
	w.q.entries = w.q.entries[:w.applied]
	w.q.next = w.committed.Offset() + 1
	w.q.gap = 1
	w.c.Activate(w.now, w.committed)
	w.observe()
}

// commit applies everything proposed and checks that leadership only left brokers
// whose leases had run out (or that asked to stop).
func (w *world) commit() {
	before := w.committed
	w.harness.commit()
	w.observe()
	tid := w.topicT()
	for _, ps := range before.Partitions(tid) {
		now, _ := w.committed.Partition(tid, ps.Partition)
		if ps.Leader == metadata.NoLeader || now.Leader == ps.Leader || w.shutdown[ps.Leader] {
			continue
		}
		if w.now <= w.leaseEnd[ps.Leader] {
			w.rt.Fatalf("t-%d moved off broker %d at %d, its lease runs to %d", ps.Partition, ps.Leader, w.now, w.leaseEnd[ps.Leader])
		}
	}
}

// observe records the leases granted by newly released heartbeat responses.
func (w *world) observe() {
	w.collect()
	for id, sent := range w.heartbeat {
		r, ok := w.responses[id]
		if !ok {
			continue
		}
		delete(w.heartbeat, id)
		hb := r.(*kmsg.BrokerHeartbeatResponse)
		if hb.ErrorCode == 0 && !hb.IsFenced && !w.shutdown[sent.broker] {
			w.leaseEnd[sent.broker] = max(w.leaseEnd[sent.broker], sent.at+int64(w.cfg.LeaseDuration))
		}
	}
}

func (w *world) check() {
	for _, t := range w.committed.Topics() {
		for _, ps := range w.committed.Partitions(t.ID) {
			if ps.Leader != metadata.NoLeader && !slices.Contains(ps.ISR, ps.Leader) {
				w.rt.Fatalf("leader outside ISR: %+v", ps)
			}
		}
	}
	// With nothing in flight and no work left, the rules hold everywhere.
	if !w.c.reconcile && w.committed.Offset() >= w.c.proposedOffset {
		if left := w.c.planChanges(1); len(left) != 0 {
			w.rt.Fatalf("idle controller leaves work: %+v", left[0])
		}
	}
}

func (w *world) topicT() [16]byte {
	info, _ := w.committed.Topic("t")
	return info.ID
}

// The same seed and inputs give the same proposals, byte for byte.
func TestDeterministic(t *testing.T) {
	run := func(seed uint64) [][]byte {
		h := newHarnessConfig(t, testConfig(seed))
		h.cluster(5, "a", "b")
		for _, name := range []string{"x", "y", "z"} {
			h.createTopic(name, 7, 3)
		}
		h.silence(2, h.cfg.SessionTimeout)
		h.call(-1, incReq(2, "x", incOp{"retention.ms", 0, strp("5")}))
		var out [][]byte
		for _, e := range h.q.entries {
			out = append(out, metadata.Encode(e.Record))
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	if !slices.EqualFunc(a, b, slices.Equal[[]byte]) {
		t.Fatal("same seed, different proposals")
	}
	if slices.EqualFunc(a, c, slices.Equal[[]byte]) {
		t.Fatal("different seeds gave identical topic ids and placements")
	}
}
