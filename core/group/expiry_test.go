package group

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	testRetention = 30 * time.Second
	testCheck     = time.Second
)

// expiryConfig is testConfig with a short offsets retention, recording the events.
func expiryConfig(events *[]Event) Config {
	cfg := testConfig()
	cfg.OffsetsRetention, cfg.OffsetsRetentionCheck = testRetention, testCheck
	cfg.Events = func(e Event) { *events = append(*events, e) }
	return cfg
}

// keepAlive runs the clock for d, heartbeating every member of ids each second.
func (h *harness) keepAlive(group string, ids []string, gen int32, d time.Duration) {
	h.t.Helper()
	for end := h.now + int64(d); h.now < end; {
		for _, id := range ids {
			wantCode(h.t, "heartbeat", h.heartbeat(group, id, gen), codeNone)
		}
		h.run(time.Second)
	}
}

func TestExpiryDecision(t *testing.T) {
	const retentionMs = 1000
	withOffsets := func(state state, protocolType string, emptySinceMs int64, commits ...int64) *group {
		g := newGroup("g")
		g.state, g.protocolType, g.emptySinceMs = state, protocolType, emptySinceMs
		for i, ms := range commits {
			g.offsets[tp{"t", int32(i)}] = offset{commitMs: ms}
		}
		return g
	}
	cases := []struct {
		name  string
		g     *group
		nowMs int64
		want  []int32
	}{
		{"members keep every offset", withOffsets(stateStable, "consumer", -1, 0, 0), 1_000_000, nil},
		{"a rebalance keeps every offset", withOffsets(statePreparingRebalance, "consumer", -1, 0), 1_000_000, nil},
		{"a group being removed is left alone", withOffsets(stateDead, "consumer", 0, 0), 1_000_000, nil},
		{"empty: counted from becoming empty", withOffsets(stateEmpty, "consumer", 5000, 0, 100), 5999, nil},
		{"empty: retention elapsed", withOffsets(stateEmpty, "consumer", 5000, 0, 100), 6000, []int32{0, 1}},
		{"empty: a later commit lives its retention", withOffsets(stateEmpty, "consumer", 5000, 0, 5500), 6000, []int32{0}},
		{"empty without a recorded time: from the commit", withOffsets(stateEmpty, "consumer", -1, 0, 500), 1000, []int32{0}},
		{"never had members: from each commit", withOffsets(stateEmpty, "", -1, 0, 10, 20), 1010, []int32{0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int32
			for _, p := range tc.g.expired(tc.nowMs, retentionMs, plant.Set{}) {
				got = append(got, p.partition)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("expired %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("pending work waits", func(t *testing.T) {
		g := withOffsets(stateEmpty, "", -1, 0, 0, 0)
		g.commitsPending[tp{"t", 0}] = 1
		g.removing[tp{"t", 1}] = 1
		if got := g.expired(1_000_000, retentionMs, plant.Set{}); len(got) != 1 || got[0].partition != 2 {
			t.Errorf("expired %v, want only partition 2", got)
		}
	})
}

func TestOffsetsOfGroupWithMembersNeverExpire(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	ids, gen := h.stableGroup("g", 2)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 7}))
	h.keepAlive("g", ids, gen, 10*testRetention)
	if got := h.fetch("g", 0, false).Offset; got != 7 {
		t.Fatalf("offset %d after 10 retentions with members, want 7", got)
	}
	if len(events) != 0 {
		t.Errorf("events %v", events)
	}
}

func TestOffsetsExpireRetentionAfterGroupEmptied(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 7, 1: 8}))
	h.keepAlive("g", ids, gen, 2*testRetention) // the commits are old, the group is not
	h.leave("g", ids[0])
	emptied := h.now
	if st := h.group("g"); st.State != "Empty" {
		t.Fatalf("group %s after its member left", st.State)
	}
	h.run(testRetention - 2*testCheck)
	if got := h.fetch("g", 0, false).Offset; got != 7 {
		t.Fatalf("offset %d expired %v after the group emptied, retention %v", got, time.Duration(h.now-emptied), testRetention)
	}
	h.run(2*testCheck + time.Millisecond)
	if got := h.fetch("g", 0, false).Offset; got != -1 {
		t.Fatalf("offset %d not expired %v after the group emptied", got, time.Duration(h.now-emptied))
	}
	if h.hasGroup("g") {
		t.Errorf("a group Empty without offsets was kept: %+v", h.group("g"))
	}
	if len(events) != 2 || events[0].Kind != ExpiryStarted || !events[0].Remove || len(events[0].Offsets) != 2 ||
		events[1].Kind != ExpiryDone || events[1].ID != events[0].ID || events[0].Partition != 7 {
		t.Errorf("events %+v", events)
	}
	// The tombstones are in the log: a new coordinator agrees, and the name starts over.
	h.failover(h.cfg)
	if h.hasGroup("g") || h.fetch("g", 1, false).Offset != -1 {
		t.Fatalf("expired group back after failover: %+v", h.c.Status().Groups)
	}
	_, jc := h.joinNew("g")
	h.runUntil(jc.answered)
	if g := jc.get().Generation; g != 1 {
		t.Errorf("the group's next incarnation starts at generation %d, want 1", g)
	}
}

func TestExpiryCountsFromTheRecordedEmptyTimeAfterFailover(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 7}))
	h.leave("g", ids[0])
	emptied := h.now
	h.run(testRetention / 2)
	h.failover(h.cfg)
	if st := h.group("g"); st.State != "Empty" || len(st.Offsets) != 1 {
		t.Fatalf("after failover: %+v", st)
	}
	h.runUntil(func() bool { return h.fetch("g", 0, false).Offset == -1 })
	if waited := time.Duration(h.now - emptied); waited < testRetention || waited > testRetention+testCheck {
		t.Errorf("expired %v after the group emptied, want the retention %v plus at most a check", waited, testRetention)
	}
}

func TestSimpleGroupOffsetsExpireFromTheirCommits(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 1}))
	first := h.now
	h.run(testRetention / 2)
	h.commit(commitReq("s", "", -1, map[int32]int64{1: 2}))
	h.runUntil(func() bool { return h.fetch("s", 0, false).Offset == -1 })
	if waited := time.Duration(h.now - first); waited < testRetention || waited > testRetention+testCheck {
		t.Errorf("first offset expired after %v", waited)
	}
	if got := h.fetch("s", 1, false).Offset; got != 2 {
		t.Fatalf("second offset %d expired with the first", got)
	}
	h.runUntil(func() bool { return !h.hasGroup("s") })
	for _, r := range h.log.records() {
		if kind, _, _, _ := decodeKey(r.Key); kind == keyGroup {
			t.Errorf("a group that never had members got a group record")
		}
	}
}

func TestExpiredOffsetVisibleUntilTombstoneDurable(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 1, 1: 2}))
	h.run(testRetention / 2)
	h.commit(commitReq("s", "", -1, map[int32]int64{1: 3}))
	h.log.auto = false
	h.runUntil(func() bool { return len(h.log.pending) > 0 })
	if got := h.fetch("s", 0, false).Offset; got != 1 {
		t.Fatalf("offset %d gone before its tombstone is durable", got)
	}
	h.log.complete(0)
	if got := h.fetch("s", 0, false).Offset; got != -1 {
		t.Fatalf("offset %d after its tombstone is durable", got)
	}
	if got := h.fetch("s", 1, false).Offset; got != 3 {
		t.Fatalf("offset %d of a partition recommitted in time", got)
	}
}

func TestExpiryOfEmptyGroupCarriesItsRecord(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 7}))
	h.leave("g", ids[0])
	h.run(testRetention / 2)
	h.commit(commitReq("g", "", -1, map[int32]int64{1: 8})) // keeps the group past the first expiry
	h.runUntil(func() bool { return h.fetch("g", 0, false).Offset == -1 })
	recs := h.log.records()
	recs = recs[len(recs)-2:]
	if kind, _, p, _ := decodeKey(recs[0].Key); kind != keyOffset || p.partition != 0 || recs[0].Value != nil {
		t.Fatalf("first record of the expiry batch: %+v", recs[0])
	}
	if kind, _, _, _ := decodeKey(recs[1].Key); kind != keyGroup || recs[1].Value == nil {
		t.Fatalf("the expiry batch lacks the group's record")
	}
	v, err := decodeGroupValue(recs[1].Value)
	if err != nil || len(v.Members) != 0 || v.Generation != h.group("g").Generation {
		t.Errorf("group record with the tombstones: %+v %v", v, err)
	}
}

func TestFailedRemovalKeepsGroupDeadAndIsWrittenAgain(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 7}))
	h.leave("g", ids[0])
	h.log.auto = false
	h.runUntil(func() bool { return len(h.log.pending) > 0 })
	h.log.fail(0, errTimeout)
	if st := h.group("g"); st.State != "Dead" || len(st.Offsets) != 1 {
		t.Fatalf("after a failed removal: %+v", st)
	}
	jc := h.join(joinReq("g", ""))
	wantCode(t, "join of a group being removed", jc.get().ErrorCode, codeCoordinatorNotAvailable)
	h.runUntil(func() bool { return len(h.log.pending) > 0 })
	h.log.complete(0)
	if h.hasGroup("g") {
		t.Fatalf("group kept after its removal was written again: %+v", h.group("g"))
	}
	kinds := []EventKind{}
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if want := []EventKind{ExpiryStarted, ExpiryUnknown, ExpiryStarted, ExpiryDone}; !slices.Equal(kinds, want) || !events[2].Retry {
		t.Errorf("events %+v", events)
	}
}

func TestTombstoneBeatsEarlierCommitStillInFlight(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 1}))
	h.log.auto = false
	cc := h.commit(commitReq("s", "", -1, map[int32]int64{0: 2}))
	dc := h.offsetDelete("s", "t", 0)
	// Both are written in the order they were appended, but the log reports the
	// delete's tombstone durable first.
	commit, del := h.log.take(0), h.log.take(0)
	commitAt, delAt := h.log.write(commit.recs), h.log.write(del.recs)
	del.done(delAt, nil)
	wantCode(t, "delete", dc.get().Topics[0].Partitions[0].ErrorCode, codeNone)
	commit.done(commitAt, nil)
	wantCode(t, "commit", commitCodes(cc.get())[0], codeNone)
	if got := h.fetch("s", 0, false).Offset; got != -1 {
		t.Fatalf("offset %d: a commit older than the tombstone came back", got)
	}
	h.log.auto = true
	h.failover(h.cfg)
	if got := h.fetch("s", 0, false).Offset; got != -1 {
		t.Fatalf("replay gives %d", got)
	}
}

// offsetDelete deletes the offsets of partitions of topic in group.
func (h *harness) offsetDelete(group, topic string, partitions ...int32) *call[*kmsg.OffsetDeleteResponse] {
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = group
	t := kmsg.NewOffsetDeleteRequestTopic()
	t.Topic = topic
	for _, p := range partitions {
		t.Partitions = append(t.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
	}
	req.Topics = append(req.Topics, t)
	dc := &call[*kmsg.OffsetDeleteResponse]{t: h.t}
	h.c.OffsetDelete(h.now, req, dc.reply)
	return dc
}

// A coordinator that may no longer be the only one (its broker's lease ended) decides no
// expiry: it may not have seen the commits its successor took. It decides again at the
// first check once it is current.
func TestNoExpiryWhileNotCurrent(t *testing.T) {
	var events []Event
	current := true
	cfg := expiryConfig(&events)
	cfg.Current = func(int64) bool { return current }
	h := newHarnessConfig(t, cfg)
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 1}))
	current = false
	h.run(testRetention + 3*testCheck)
	if got := h.fetch("s", 0, false).Offset; got != 1 || len(events) != 0 {
		t.Fatalf("not current: offset %d, events %v; want the offset kept and no expiry", got, events)
	}
	current = true
	h.runUntil(func() bool { return h.fetch("s", 0, false).Offset == -1 })
	if len(events) == 0 || events[0].Kind != ExpiryStarted {
		t.Fatalf("events %v, want an expiry once current", events)
	}
}
