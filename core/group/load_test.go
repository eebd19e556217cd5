package group

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestLoadInProgress(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 3}))
	h.c.Close()
	h.log.manualLoad = true
	h.c = NewCoordinator(h.now, h.cfg, h.log)
	wantCode(t, "join while loading", h.join(joinReq("g", "")).get().ErrorCode, codeCoordinatorLoadInProgress)
	wantCode(t, "commit while loading", commitCodes(h.commit(commitReq("g", "", -1, map[int32]int64{0: 1})).get())[0], codeCoordinatorLoadInProgress)
	fc := &call[kmsg.OffsetFetchResponseGroup]{t: t}
	h.c.OffsetFetch(h.now, "g", nil, false, fc.reply)
	wantCode(t, "fetch while loading", fc.get().ErrorCode, codeCoordinatorLoadInProgress)
	wantCode(t, "describe while loading", h.c.DescribeGroup(h.now, "g").ErrorCode, codeCoordinatorLoadInProgress)
	if h.c.ListGroups(h.now, nil) != nil || h.c.Availability() != codeCoordinatorLoadInProgress {
		t.Error("listed groups while loading")
	}
	if h.c.Deadline() != int64(^uint64(0)>>1) {
		t.Error("deadline while loading")
	}
	h.log.finishLoad()
	if got := h.fetch("g", 0, false).Offset; got != 3 {
		t.Errorf("offset %d after loading, want 3", got)
	}
}

// buildHistory drives h through a history that leaves groups in every durable shape:
// Stable with dynamic and static members, Empty after members left, offsets only,
// deleted, and overwritten commits.
func buildHistory(t *testing.T, h *harness) {
	ids, gen := h.stableGroup("dyn", 3)
	h.commit(commitReq("dyn", ids[0], gen, map[int32]int64{0: 10, 1: 11}))
	h.commit(commitReq("dyn", ids[1], gen, map[int32]int64{0: 12}))
	h.join(joinReq("dyn", ids[0])) // rebalance to a later generation without ids[2]
	h.join(joinReq("dyn", ids[1]))
	h.leave("dyn", ids[2])
	g2 := h.group("dyn").Generation
	h.sync(syncReq("dyn", ids[0], g2, map[string]string{ids[0]: "x", ids[1]: "y"}))

	sids, sgen := h.staticGroup("static", "i1", "i2")
	h.join(staticJoinReq("static", "", "i1")) // replaced without a rebalance
	h.commit(commitReq("static", sids[1], sgen, map[int32]int64{4: 40}))

	eids, _ := h.stableGroup("emptied", 2)
	h.commit(commitReq("emptied", eids[0], h.group("emptied").Generation, map[int32]int64{0: 5}))
	h.leave("emptied", eids...)

	h.commit(commitReq("simple", "", -1, map[int32]int64{0: 100, 2: 102}))
	h.commit(commitReq("simple", "", -1, map[int32]int64{2: 202}))

	h.commit(commitReq("gone", "", -1, map[int32]int64{0: 1}))
	dc := &call[int16]{t: t}
	h.c.DeleteGroup(h.now, "gone", dc.reply)
	wantCode(t, "delete", dc.get(), codeNone)
	for _, id := range []string{"dyn", "static"} {
		if st := h.group(id); st.State != "Stable" {
			t.Fatalf("group %s is %s before failover", id, st.State)
		}
	}
}

func TestLoadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chunk int
		codec record.Codec
	}{
		{"one batch per chunk", 1, record.CodecNone},
		{"many batches per chunk", 5, record.CodecNone},
		{"zstd", 3, record.CodecZstd},
		{"gzip", 2, record.CodecGzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.session = 20 * time.Minute // no session expires while the history is built
			h.log.chunk, h.log.codec = tc.chunk, tc.codec
			buildHistory(t, h)
			before := h.c.Status()
			h.now += int64(time.Minute)
			h.failover(h.cfg)
			after := h.c.Status()
			if after.Phase != "serving" {
				t.Fatalf("phase %s after failover: %s", after.Phase, after.LoadErr)
			}
			if !reflect.DeepEqual(before.Groups, after.Groups) {
				t.Errorf("groups differ after a replay:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
			}
			if len(after.Groups) != 4 {
				t.Errorf("%d groups loaded, want dyn, emptied, simple and static", len(after.Groups))
			}
		})
	}
}

func TestLoadedMembersKeepServing(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 2)
	h.now += int64(time.Hour) // the partition moved long after the last heartbeat
	h.failover(h.cfg)
	// Sessions restart at load: both members are still there until their session runs
	// out from now.
	h.run(testSession - time.Second)
	wantCode(t, "heartbeat after failover", h.heartbeat("g", ids[0], gen), codeNone)
	wantCode(t, "commit after failover", commitCodes(h.commit(commitReq("g", ids[1], gen, map[int32]int64{0: 7})).get())[0], codeNone)
	if got := string(h.sync(syncReq("g", ids[1], gen, nil)).get().MemberAssignment); got != "p1" {
		t.Errorf("assignment after failover %q", got)
	}
	wantCode(t, "stale generation after failover", h.heartbeat("g", ids[0], gen-1), codeIllegalGeneration)
}

func TestLoadedSessionsStartWhenServing(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	h.c.Close()
	h.log.manualLoad = true
	h.c = NewCoordinator(h.now, h.cfg, h.log)
	h.now += int64(time.Minute) // loading takes a minute
	h.log.finishLoad()          // done arrives outside any input: no time known
	if d := h.c.Deadline(); d > h.now {
		t.Errorf("deadline %d after loading, want a prompt tick to start the sessions", d)
	}
	h.run(testSession - time.Millisecond)
	wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), codeNone)
}

func TestGenerationContinuesAfterFailover(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	for range 3 { // a few rebalances: the lone leader rejoining completes at once
		jc := h.join(joinReq("g", ids[0]))
		gen = jc.get().Generation
		h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "p0"}))
	}
	h.failover(h.cfg)
	// A new member joins the loaded group; the old member never rejoins.
	newID, jc := h.joinNew("g")
	h.runUntil(jc.answered)
	resp := jc.get()
	if resp.Generation <= gen {
		t.Fatalf("new coordinator handed out generation %d, at most the recorded %d", resp.Generation, gen)
	}
	if resp.LeaderID != newID || len(resp.Members) != 1 {
		t.Errorf("join after failover: %+v", resp)
	}
	wantCode(t, "old member", h.heartbeat("g", ids[0], gen), codeUnknownMemberID)
}

func TestLoadFailsOnCorruptBatch(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1}))
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 2}))
	h.log.batches[1][len(h.log.batches[1])-1] ^= 0xFF
	h.failover(h.cfg)
	st := h.c.Status()
	if st.Phase != "failed" || !strings.Contains(st.LoadErr, "CRC") || h.c.LoadErr() == nil {
		t.Errorf("status after loading a corrupt batch: %+v", st)
	}
	wantCode(t, "join", h.join(joinReq("g", "")).get().ErrorCode, codeCoordinatorNotAvailable)
	h.c.Tick(h.now) // nothing to do, nothing to break
}

func TestLoadFailsOnUndecodableValue(t *testing.T) {
	h := newHarness(t)
	h.log.write([]KV{{Key: offsetKey("g", tp{"t", 0}), Value: []byte{0, 3, 1}}})
	h.failover(h.cfg)
	if st := h.c.Status(); st.Phase != "failed" || !strings.Contains(st.LoadErr, "offset commit value") {
		t.Errorf("status: %+v", st)
	}
}

func TestLoadFailsWhenLogFails(t *testing.T) {
	h := newHarness(t)
	h.c.Close()
	h.log.manualLoad = true
	h.c = NewCoordinator(h.now, h.cfg, h.log)
	h.log.loadDone(errors.New("disk gone"))
	if st := h.c.Status(); st.Phase != "failed" || !strings.Contains(st.LoadErr, "disk gone") {
		t.Errorf("status %+v", st)
	}
}

func TestLoadSkipsForeignRecords(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1}))
	h.log.write([]KV{{Key: []byte{0, 9, 'x'}, Value: []byte("future record kind")}})
	marker, err := record.BuildEndTxn(record.Spec{BaseOffset: h.log.next, ProducerID: 1, ProducerEpoch: 0, BaseSequence: -1}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.log.batches = append(h.log.batches, marker)
	h.log.next++
	h.failover(h.cfg)
	if st := h.c.Status(); st.Phase != "serving" {
		t.Fatalf("status %+v", st)
	}
	if h.fetch("g", 0, false).Offset != 1 {
		t.Error("offset lost")
	}
}

func TestCloseAnswersEverything(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 3)
	sids, _ := h.staticGroup("s", "i1")
	h.commit(commitReq("e", "", -1, map[int32]int64{0: 1}))
	h.log.auto = false

	commit := h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 1}))
	del := &call[int16]{t: t}
	h.c.DeleteGroup(h.now, "e", del.reply)
	static := h.join(staticJoinReq("s", "", "i1")) // waits for its record
	join := h.join(joinReq("g", ids[0]))           // waits for the others
	_ = sids

	h.c.Close()
	wantCode(t, "commit", commitCodes(commit.get())[0], codeNotCoordinator)
	wantCode(t, "delete", del.get(), codeNotCoordinator)
	wantCode(t, "static join", static.get().ErrorCode, codeNotCoordinator)
	wantCode(t, "join", join.get().ErrorCode, codeNotCoordinator)
	// The log answering late changes nothing and answers nobody twice.
	h.log.completeAll()
	wantCode(t, "commit after the late answer", commitCodes(commit.get())[0], codeNotCoordinator)
	wantCode(t, "request after close", h.join(joinReq("g", ids[1])).get().ErrorCode, codeNotCoordinator)
	if h.c.Deadline() != int64(^uint64(0)>>1) {
		t.Error("closed coordinator asks for ticks")
	}
	h.c.Close() // twice is harmless
}

func TestCloseAnswersSync(t *testing.T) {
	h := newHarness(t)
	ids, gen := h.completing("g", 2)
	h.log.auto = false
	follower := h.sync(syncReq("g", ids[1], gen, nil))
	leader := h.sync(syncReq("g", ids[0], gen, map[string]string{ids[1]: "B"}))
	h.c.Close()
	wantCode(t, "follower", follower.get().ErrorCode, codeNotCoordinator)
	wantCode(t, "leader", leader.get().ErrorCode, codeNotCoordinator)
	h.log.completeAll()
}

func TestCloseWhileLoading(t *testing.T) {
	h := newHarness(t)
	h.c.Close()
	h.log.manualLoad = true
	h.c = NewCoordinator(h.now, h.cfg, h.log)
	h.c.Close()
	h.log.finishLoad()
	if st := h.c.Status(); st.Phase != "closed" {
		t.Errorf("phase %s: loading finished after close revived the coordinator", st.Phase)
	}
}

func TestLogAnsweringInsideAppend(t *testing.T) {
	// The harness's log answers inside Append by default; this checks the same flows
	// with answers deferred to outside any input, where no time is known.
	h := newHarness(t)
	ids, gen := h.completing("g", 1)
	h.log.auto = false
	sc := h.sync(syncReq("g", ids[0], gen, map[string]string{ids[0]: "A"}))
	h.now += int64(5 * time.Second)
	h.log.complete(0)
	if got := string(sc.get().MemberAssignment); got != "A" {
		t.Fatalf("assignment %q", got)
	}
	// The session restarted when the answer went out, which is the next input's time.
	h.run(testSession - time.Millisecond)
	if len(h.group("g").Members) != 1 {
		t.Error("member expired: its session was timed from before the answer")
	}
}
