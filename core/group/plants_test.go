package group

import (
	"fmt"
	"testing"
	"time"
)

// Each plant scenario drives a coordinator configured with cfg through a story in which
// the planted bug breaks one of seedlog's promises, checks the promise the way the
// simulator's checkers do, and returns the violation it saw ("" for none). Without the
// plant every scenario must come out clean; with it (-tags simbugs) each must be caught.
var plantScenarios = map[string]func(t *testing.T, cfg Config) string{
	"stale-generation-commit":            staleGenerationCommitScenario,
	"commit-before-durable":              commitBeforeDurableScenario,
	"double-assign-after-failover":       doubleAssignAfterFailoverScenario,
	"offsets-expire-with-members":        offsetsExpireWithMembersScenario,
	"offsets-expire-early":               offsetsExpireEarlyScenario,
	"offset-delete-not-durable":          offsetDeleteNotDurableScenario,
	"offset-delete-ignores-subscription": offsetDeleteIgnoresSubscriptionScenario,
	"txn-offsets-visible-before-commit":  txnOffsetsVisibleBeforeCommitScenario,
	"txn-offsets-kept-on-abort":          txnOffsetsKeptOnAbortScenario,
}

func TestPlantScenariosCleanWithoutPlants(t *testing.T) {
	for name, scenario := range plantScenarios {
		t.Run(name, func(t *testing.T) {
			if v := scenario(t, testConfig()); v != "" {
				t.Errorf("violation without the plant: %s", v)
			}
		})
	}
}

// staleGenerationCommitScenario: after a rebalance swaps two members' partitions, the
// old owner commits for its old partition with the old generation. Promise 5: a commit
// from a stale generation is rejected.
func staleGenerationCommitScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	ids, gen := h.stableGroup("g", 2) // ids[0] owns p0, ids[1] owns p1
	a := h.join(joinReq("g", ids[0]))
	h.join(joinReq("g", ids[1]))
	next := a.get().Generation
	h.sync(syncReq("g", ids[1], next, nil))
	h.sync(syncReq("g", ids[0], next, map[string]string{ids[0]: "p1", ids[1]: "p0"}))
	code := commitCodes(h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 99})).get())[0]
	if code == codeNone {
		return fmt.Sprintf("commit of generation %d accepted while the group is in generation %d (offset now %d)",
			gen, h.group("g").Generation, h.fetch("g", 0, false).Offset)
	}
	return ""
}

// commitBeforeDurableScenario: a commit whose append never becomes durable (the leader
// of the offsets partition is deposed). Promise 5: a committed offset is durable and
// linearizable, so it is neither acknowledged nor visible before it is durable, and an
// acknowledged one survives failover.
func commitBeforeDurableScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	h.log.auto = false
	cc := h.commit(commitReq("g", "", -1, map[int32]int64{0: 42}))
	visible := h.fetch("g", 0, false).Offset == 42
	acked := cc.answered() && commitCodes(cc.get())[0] == codeNone
	h.log.fail(0, ErrNotLeader)
	h.log.auto = true
	h.failover(cfg)
	survived := h.fetch("g", 0, false).Offset == 42
	switch {
	case acked && !survived:
		return "acknowledged commit lost after failover"
	case visible && !survived:
		return "fetch saw an offset that never became durable"
	}
	return ""
}

// doubleAssignAfterFailoverScenario: a member of generation N keeps its partition while
// the coordinator fails over; a new member joins the new coordinator. Promise 5: within a
// generation no partition is assigned to two members.
func doubleAssignAfterFailoverScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	owners := map[int32]map[string]string{} // generation -> partition -> member
	handOut := func(member string, gen int32, p string) string {
		if owners[gen] == nil {
			owners[gen] = map[string]string{}
		}
		if prev, ok := owners[gen][p]; ok && prev != member {
			return fmt.Sprintf("generation %d assigned %s to both %s and %s", gen, p, prev, member)
		}
		owners[gen][p] = member
		return ""
	}
	ids, gen := h.stableGroup("g", 1) // the old member owns p0 in generation gen
	old := h.sync(syncReq("g", ids[0], gen, nil)).get()
	if v := handOut(ids[0], gen, string(old.MemberAssignment)); v != "" {
		return v
	}
	h.now += int64(time.Second)
	h.failover(cfg)
	id, jc := h.joinNew("g")
	h.runUntil(jc.answered)
	newGen := jc.get().Generation
	if jc.get().LeaderID != id {
		t.Fatalf("new member does not lead: %+v", jc.get())
	}
	resp := h.sync(syncReq("g", id, newGen, map[string]string{id: "p0"})).get()
	return handOut(id, newGen, string(resp.MemberAssignment))
}

// offsetsExpireWithMembersScenario: a member commits and stays, heartbeating, for many
// retentions. Promise 9: committed offsets of a group with members never disappear.
func offsetsExpireWithMembersScenario(t *testing.T, cfg Config) string {
	cfg.OffsetsRetention, cfg.OffsetsRetentionCheck = testRetention, testCheck
	h := newHarnessConfig(t, cfg)
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 7}))
	h.keepAlive("g", ids, gen, 3*testRetention)
	if got := h.fetch("g", 0, false).Offset; got != 7 {
		return fmt.Sprintf("offset committed by a member still in the group reads %d after %v", got, 3*testRetention)
	}
	return ""
}

// offsetsExpireEarlyScenario: a group without members commits, and is read until just
// before the retention has elapsed. KIP-211: an offset lives its whole retention.
func offsetsExpireEarlyScenario(t *testing.T, cfg Config) string {
	cfg.OffsetsRetention, cfg.OffsetsRetentionCheck = testRetention, testCheck
	h := newHarnessConfig(t, cfg)
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 7}))
	committed := h.now
	h.run(testRetention - testCheck/2)
	if got := h.fetch("s", 0, false).Offset; got != 7 {
		return fmt.Sprintf("offset reads %d %v after its commit, before the retention of %v", got, time.Duration(h.now-committed), testRetention)
	}
	return ""
}

// offsetDeleteNotDurableScenario: an OffsetDelete whose tombstones never become durable
// (the leader of the offsets partition is deposed). The deletion is neither answered
// nor visible before it is durable, so no client sees the offset come back.
func offsetDeleteNotDurableScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 5}))
	h.log.auto = false
	dc := h.offsetDelete("s", "t", 0)
	gone := h.fetch("s", 0, false).Offset == -1
	acked := dc.answered() && dc.get().ErrorCode == codeNone
	h.log.fail(0, ErrNotLeader)
	h.log.auto = true
	h.failover(cfg)
	if back := h.fetch("s", 0, false).Offset == 5; back && (acked || gone) {
		return "an offset deleted before its tombstone was durable came back after failover"
	}
	return ""
}

// offsetDeleteIgnoresSubscriptionScenario: an OffsetDelete of a topic the live members
// of a consumer group subscribe to must answer GROUP_SUBSCRIBED_TO_TOPIC and keep it.
func offsetDeleteIgnoresSubscriptionScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	id, gen := h.consumerGroup("g", "t")
	h.commitTopic("g", id, gen, "t", 0, 5)
	code := deleteCodes(h.offsetDelete("g", "t", 0).get())[0]
	if got := h.fetch("g", 0, false).Offset; code == codeNone || got != 5 {
		return fmt.Sprintf("OffsetDelete of a subscribed topic of a live group answered %d, offset now %d", code, got)
	}
	return ""
}

// txnOffsetsVisibleBeforeCommitScenario: a transaction commits an offset and is then
// aborted. Promise 8: a transaction's offset commit becomes visible with the
// transaction's commit, never before it, and never when it aborts.
// txnOffsetsKeptOnAbortScenario: a transaction commits an offset, then aborts. Its
// offset must never become the group's.
func txnOffsetsKeptOnAbortScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 5}))
	h.txnOK("g", 7, map[int32]int64{0: 9})
	h.endTxn(7, false)
	if got := h.fetch("g", 0, false).Offset; got != 5 {
		return fmt.Sprintf("fetch reads %d, committed by an aborted transaction (committed: 5)", got)
	}
	return ""
}

func txnOffsetsVisibleBeforeCommitScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 5}))
	h.txnOK("g", 7, map[int32]int64{0: 9})
	if got := h.fetch("g", 0, false).Offset; got != 5 {
		return fmt.Sprintf("fetch reads %d before the transaction that committed it ended (committed: 5)", got)
	}
	h.endTxn(7, false)
	if got := h.fetch("g", 0, false).Offset; got != 5 {
		return fmt.Sprintf("fetch reads %d, committed by an aborted transaction (committed: 5)", got)
	}
	return ""
}
