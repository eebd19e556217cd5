package group

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCommitVisibleOnlyWhenDurable(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	h.log.auto = false
	cc := h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 42}))
	if cc.answered() {
		t.Fatal("commit acknowledged before it was durable")
	}
	if got := h.fetch("g", 0, false); got.Offset != -1 || got.ErrorCode != codeNone {
		t.Errorf("fetch before durable: offset %d code %d, want -1", got.Offset, got.ErrorCode)
	}
	wantCode(t, "stable fetch before durable", h.fetch("g", 0, true).ErrorCode, codeUnstableOffsetCommit)
	wantCode(t, "stable fetch of another partition", h.fetch("g", 1, true).ErrorCode, codeNone)
	h.log.complete(0)
	if codes := commitCodes(cc.get()); len(codes) != 1 || codes[0] != codeNone {
		t.Fatalf("commit codes %v", codes)
	}
	got := h.fetch("g", 0, true)
	if got.ErrorCode != codeNone || got.Offset != 42 || got.LeaderEpoch != 5 || *got.Metadata != "m" {
		t.Errorf("fetch after durable: %+v", got)
	}
	// The record in the log is Kafka's format.
	recs := h.log.records()
	last := recs[len(recs)-1]
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(last.Key); err != nil || k.Version != 1 || k.Group != "g" || k.Topic != "t" || k.Partition != 0 {
		t.Errorf("offset key %+v, %v", k, err)
	}
	v := kmsg.NewOffsetCommitValue()
	if err := v.ReadFrom(last.Value); err != nil || v.Version != 3 || v.Offset != 42 || v.LeaderEpoch != 5 || v.Metadata != "m" ||
		v.CommitTimestamp != h.now/1e6 {
		t.Errorf("offset value %+v, %v", v, err)
	}
}

func TestCommitRules(t *testing.T) {
	type step func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest
	cases := []struct {
		name  string
		state string // group state before the commit: Stable, Preparing, Completing, Empty
		req   step
		want  int16
	}{
		{"member of the generation", "Stable", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", ids[0], gen, map[int32]int64{0: 1})
		}, codeNone},
		{"stale generation", "Stable", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", ids[0], gen-1, map[int32]int64{0: 1})
		}, codeIllegalGeneration},
		{"future generation", "Stable", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", ids[0], gen+1, map[int32]int64{0: 1})
		}, codeIllegalGeneration},
		{"unknown member", "Stable", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", "who", gen, map[int32]int64{0: 1})
		}, codeUnknownMemberID},
		{"anonymous while members exist", "Stable", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", "", -1, map[int32]int64{0: 1})
		}, codeUnknownMemberID},
		{"current generation during the join phase", "Preparing", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", ids[1], gen, map[int32]int64{0: 1})
		}, codeNone},
		{"waiting for the assignment", "Completing", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", ids[1], gen, map[int32]int64{0: 1})
		}, codeRebalanceInProgress},
		{"previous generation while waiting for the assignment", "Completing", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", ids[1], gen-1, map[int32]int64{0: 1})
		}, codeIllegalGeneration},
		{"anonymous to an empty group", "Empty", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("g", "", -1, map[int32]int64{0: 1})
		}, codeNone},
		{"anonymous to a new group", "Empty", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("fresh", "", -1, map[int32]int64{0: 1})
		}, codeNone},
		{"generation to a new group", "Empty", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("fresh", "m", 3, map[int32]int64{0: 1})
		}, codeIllegalGeneration},
		{"member id to a new group", "Empty", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("fresh", "m", -1, map[int32]int64{0: 1})
		}, codeUnknownMemberID},
		{"empty group id (allowed, as in Kafka)", "Empty", func(h *harness, ids []string, gen int32) *kmsg.OffsetCommitRequest {
			return commitReq("", "", -1, map[int32]int64{0: 1})
		}, codeNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ids, gen := h.stableGroup("g", 2)
			switch tc.state {
			case "Preparing":
				h.join(joinReq("g", ids[0]))
			case "Completing":
				h.join(joinReq("g", ids[0]))
				h.join(joinReq("g", ids[1]))
				gen++
			case "Empty":
				h.leave("g", ids...)
				gen++
			}
			if st := h.group("g"); !strings.HasPrefix(st.State, tc.state) {
				t.Fatalf("group %s, want %s", st.State, tc.state)
			}
			codes := commitCodes(h.commit(tc.req(h, ids, gen)).get())
			wantCode(t, "commit", codes[0], tc.want)
			req := tc.req(h, ids, gen)
			got := h.fetch(req.Group, 0, false).Offset
			if want := map[bool]int64{true: 1, false: -1}[tc.want == codeNone]; got != want {
				t.Errorf("fetched offset %d after the commit, want %d", got, want)
			}
		})
	}
}

func TestCommitPartialErrors(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetMetadataMax = 3
	h := newHarnessConfig(t, cfg)
	req := commitReq("g", "", -1, map[int32]int64{0: 10, 1: 11})
	long := "long"
	req.Topics[0].Partitions[1].Metadata = &long
	codes := commitCodes(h.commit(req).get())
	wantCode(t, "short metadata", codes[0], codeNone)
	wantCode(t, "long metadata", codes[1], codeOffsetMetadataTooLarge)
	if h.fetch("g", 0, false).Offset != 10 || h.fetch("g", 1, false).Offset != -1 {
		t.Error("wrong partitions stored")
	}
}

func TestCommitAppendFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{fmt.Errorf("moved: %w", ErrNotLeader), codeNotCoordinator},
		{fmt.Errorf("big: %w", ErrTooLarge), codeInvalidCommitOffsetSize},
		{errTimeout, codeCoordinatorNotAvailable},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			h := newHarness(t)
			h.commit(commitReq("g", "", -1, map[int32]int64{0: 5}))
			h.log.auto = false
			cc := h.commit(commitReq("g", "", -1, map[int32]int64{0: 6}))
			h.log.fail(0, tc.err)
			wantCode(t, "commit", commitCodes(cc.get())[0], tc.want)
			if got := h.fetch("g", 0, true); got.Offset != 5 || got.ErrorCode != codeNone {
				t.Errorf("fetch after a failed commit: %+v, want the earlier offset 5", got)
			}
		})
	}
}

func TestFailedFirstCommitLeavesNoGroup(t *testing.T) {
	h := newHarness(t)
	h.log.auto = false
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 5}))
	h.log.fail(0, errTimeout)
	if h.hasGroup("g") {
		t.Error("group kept after its only commit failed")
	}
}

func TestLaterRecordWins(t *testing.T) {
	h := newHarness(t)
	h.log.auto = false
	first := h.commit(commitReq("g", "", -1, map[int32]int64{0: 1}))
	second := h.commit(commitReq("g", "", -1, map[int32]int64{0: 2}))
	// The log makes both durable in order, but the answers arrive the other way round.
	a, b := h.log.take(0), h.log.take(0)
	baseA := h.log.write(a.recs)
	baseB := h.log.write(b.recs)
	b.done(baseB, nil)
	a.done(baseA, nil)
	if !first.answered() || !second.answered() {
		t.Fatal("commits not answered")
	}
	if got := h.fetch("g", 0, true).Offset; got != 2 {
		t.Errorf("offset %d, want 2 from the later record, as a replay would give", got)
	}
}

func TestCommitsInFlightBound(t *testing.T) {
	cfg := testConfig()
	cfg.CommitsInFlightMax = 2
	h := newHarnessConfig(t, cfg)
	h.log.auto = false
	var calls []*commitCall
	for i := range 3 {
		calls = append(calls, h.commit(commitReq("g", "", -1, map[int32]int64{int32(i): 1})))
	}
	wantCode(t, "third commit", commitCodes(calls[2].get())[0], codeCoordinatorNotAvailable)
	h.log.auto = true
	h.log.completeAll()
	for i := range 2 {
		wantCode(t, "bounded commit", commitCodes(calls[i].get())[0], codeNone)
	}
	wantCode(t, "after draining", commitCodes(h.commit(commitReq("g", "", -1, map[int32]int64{2: 1})).get())[0], codeNone)
}

func TestFetchAll(t *testing.T) {
	h := newHarness(t)
	req := commitReq("g", "", -1, map[int32]int64{3: 30, 1: 10})
	req.Topics = append(req.Topics, kmsg.OffsetCommitRequestTopic{Topic: "a", Partitions: []kmsg.OffsetCommitRequestTopicPartition{
		{Partition: 0, Offset: 7, LeaderEpoch: -1}}})
	h.commit(req)
	fc := &call[kmsg.OffsetFetchResponseGroup]{t: t}
	h.c.OffsetFetch(h.now, "g", nil, false, fc.reply)
	var got []string
	for _, tp := range fc.get().Topics {
		for _, p := range tp.Partitions {
			got = append(got, fmt.Sprintf("%s/%d=%d", tp.Topic, p.Partition, p.Offset))
		}
	}
	if want := "a/0=7 t/1=10 t/3=30"; strings.Join(got, " ") != want {
		t.Errorf("all offsets %v, want %s", got, want)
	}
	fc = &call[kmsg.OffsetFetchResponseGroup]{t: t}
	h.c.OffsetFetch(h.now, "nope", nil, false, fc.reply)
	if r := fc.get(); r.ErrorCode != codeNone || len(r.Topics) != 0 {
		t.Errorf("unknown group: %+v", r)
	}
	if got := h.fetch("nope", 0, true); got.Offset != -1 || got.LeaderEpoch != -1 || got.ErrorCode != codeNone {
		t.Errorf("unknown group partition: %+v", got)
	}
}

func TestCommitKeepsSessionAlive(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	for range 4 {
		h.run(testSession / 2)
		wantCode(t, "commit", commitCodes(h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 1})).get())[0], codeNone)
	}
	if len(h.group("g").Members) != 1 {
		t.Error("a member committing regularly lost its session")
	}
}
