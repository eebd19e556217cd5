package group

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testEpoch int16 = 3

// txnReq is producer pid's TxnOffsetCommit of offsets for topic "t" (metadata "m",
// leader epoch 5), from memberID in generation gen.
func txnReq(group, memberID string, gen int32, pid int64, offsets map[int32]int64) TxnCommit {
	req := TxnCommit{Group: group, TransactionalID: fmt.Sprintf("txn-%d", pid), ProducerID: pid, ProducerEpoch: testEpoch,
		Generation: gen, MemberID: memberID}
	t := TxnCommitTopic{Topic: "t"}
	for _, p := range sortedKeys(offsets) {
		md := "m"
		t.Partitions = append(t.Partitions, TxnCommitPartition{Partition: p, Offset: offsets[p], LeaderEpoch: 5, Metadata: &md})
	}
	req.Topics = []TxnCommitTopic{t}
	return req
}

type txnCall = call[[][]int16]

func (h *harness) txnCommit(req TxnCommit) *txnCall {
	tc := &txnCall{t: h.t}
	h.c.TxnOffsetCommit(h.now, req, tc.reply)
	return tc
}

// txnOK commits offsets anonymously for producer pid and checks every partition succeeded.
func (h *harness) txnOK(group string, pid int64, offsets map[int32]int64) {
	h.t.Helper()
	for _, cs := range h.txnCommit(txnReq(group, "", -1, pid, offsets)).get() {
		for _, code := range cs {
			wantCode(h.t, "transactional commit", code, codeNone)
		}
	}
}

// endTxn writes producer pid's marker to the log and tells the coordinator, as the node
// does once the marker is durable.
func (h *harness) endTxn(pid int64, commit bool) {
	h.t.Helper()
	h.log.marker(pid, testEpoch, commit)
	h.c.CompleteTxn(h.now, pid, commit)
}

func (h *harness) txnPending() int { return h.c.Status().TxnOffsetsPending() }

func TestTxnOffsetsVisibleOnlyAfterCommitMarker(t *testing.T) {
	h := newHarness(t)
	h.log.auto = false
	tc := h.txnCommit(txnReq("g", "", -1, 7, map[int32]int64{0: 42, 1: 43}))
	if tc.answered() {
		t.Fatal("answered before the batch was durable")
	}
	wantCode(t, "stable fetch while the batch is on its way", h.fetch("g", 0, true).ErrorCode, codeUnstableOffsetCommit)
	p := h.log.pending[0]
	if p.pid != 7 || p.epoch != testEpoch || len(p.recs) != 2 {
		t.Fatalf("append of producer %d epoch %d with %d records, want one transactional batch of producer 7", p.pid, p.epoch, len(p.recs))
	}
	h.log.complete(0)
	h.log.auto = true
	if codes := tc.get(); fmt.Sprint(codes) != "[[0 0]]" {
		t.Fatalf("codes %v", codes)
	}
	if got := h.fetch("g", 0, false); got.Offset != -1 || got.ErrorCode != codeNone {
		t.Errorf("fetch before the marker: %+v, want no offset", got)
	}
	wantCode(t, "stable fetch before the marker", h.fetch("g", 0, true).ErrorCode, codeUnstableOffsetCommit)
	wantCode(t, "stable fetch of a partition the transaction left alone", h.fetch("g", 2, true).ErrorCode, codeNone)
	if n := h.txnPending(); n != 2 {
		t.Errorf("%d pending offsets in the status, want 2", n)
	}
	if st := h.group("g"); len(st.TxnOffsets) != 2 || st.TxnOffsets[0].ProducerID != 7 || st.TxnOffsets[0].Offset != 42 {
		t.Errorf("status %+v", st.TxnOffsets)
	}
	h.c.CompleteTxn(h.now, 8, true) // another producer's marker changes nothing here
	wantCode(t, "after another producer's marker", h.fetch("g", 0, true).ErrorCode, codeUnstableOffsetCommit)

	h.endTxn(7, true)
	got := h.fetch("g", 0, true)
	if got.ErrorCode != codeNone || got.Offset != 42 || got.LeaderEpoch != 5 || *got.Metadata != "m" {
		t.Errorf("fetch after the commit marker: %+v", got)
	}
	if h.fetch("g", 1, true).Offset != 43 || h.txnPending() != 0 {
		t.Error("the transaction's other offset is not committed")
	}
	// A second marker (a retry) finds nothing open.
	h.c.CompleteTxn(h.now, 7, false)
	if h.fetch("g", 0, true).Offset != 42 {
		t.Error("a repeated marker undid the commit")
	}
}

func TestTxnAbortDropsOffsets(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 5}))
	h.txnOK("g", 7, map[int32]int64{0: 10, 1: 11})
	if got := h.fetch("g", 0, false).Offset; got != 5 {
		t.Errorf("offset %d while the transaction is open, want the committed 5", got)
	}
	h.endTxn(7, false)
	if got := h.fetch("g", 0, true); got.Offset != 5 || got.ErrorCode != codeNone {
		t.Errorf("after the abort: %+v, want 5", got)
	}
	if got := h.fetch("g", 1, true); got.Offset != -1 || got.ErrorCode != codeNone {
		t.Errorf("after the abort: %+v, want none", got)
	}
	if h.txnPending() != 0 {
		t.Error("offsets still pending after the abort")
	}
	h.c.CompleteTxn(h.now, 7, true) // a late commit for the same producer: nothing is open
	if got := h.fetch("g", 1, true).Offset; got != -1 {
		t.Errorf("offset %d after a marker with nothing open", got)
	}
}

func TestTxnAbortedOnlyGroupIsForgotten(t *testing.T) {
	h := newHarness(t)
	h.txnOK("g", 7, map[int32]int64{0: 10})
	if !h.hasGroup("g") {
		t.Fatal("no group for the open transaction")
	}
	h.endTxn(7, false)
	if h.hasGroup("g") {
		t.Error("a group that only held aborted offsets is kept (a replay would not have it)")
	}
}

func TestTxnLaterCommitsReplaceEarlier(t *testing.T) {
	h := newHarness(t)
	h.txnOK("g", 7, map[int32]int64{0: 10, 1: 11})
	h.txnOK("g", 7, map[int32]int64{0: 20})
	h.txnOK("g", 8, map[int32]int64{0: 30}) // another producer's transaction
	if st := h.group("g"); len(st.TxnOffsets) != 3 {
		t.Fatalf("pending %+v, want producer 7's p0 and p1 and producer 8's p0", st.TxnOffsets)
	}
	h.endTxn(7, true)
	if h.fetch("g", 0, false).Offset != 20 || h.fetch("g", 1, false).Offset != 11 {
		t.Error("the transaction's later offset of p0 did not win, or p1 is lost")
	}
	wantCode(t, "p0 with producer 8 still open", h.fetch("g", 0, true).ErrorCode, codeUnstableOffsetCommit)
	h.endTxn(8, false)
	if got := h.fetch("g", 0, true); got.Offset != 20 || got.ErrorCode != codeNone {
		t.Errorf("after producer 8 aborted: %+v", got)
	}
}

// The transaction's offset applies at its marker only where no commit whose record lies
// later in the log is already committed: Kafka's rule, which a replay follows too.
func TestTxnCommitAgainstPlainCommits(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1, 1: 1}))
	h.txnOK("g", 7, map[int32]int64{0: 10, 1: 10})
	h.commit(commitReq("g", "", -1, map[int32]int64{1: 2})) // after the transaction's record
	h.endTxn(7, true)
	if got := h.fetch("g", 0, true).Offset; got != 10 {
		t.Errorf("p0 %d, want the transaction's 10 over the earlier commit", got)
	}
	if got := h.fetch("g", 1, true).Offset; got != 2 {
		t.Errorf("p1 %d, want the later plain commit's 2", got)
	}
	before := h.c.Status()
	h.failover(h.cfg)
	if after := h.c.Status(); !reflect.DeepEqual(before.Groups, after.Groups) {
		t.Errorf("replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
	}
}

func TestTxnCommitRules(t *testing.T) {
	cases := []struct {
		name  string
		state string // Stable, Completing, Static, New
		req   func(ids []string, gen int32) TxnCommit
		want  int16
	}{
		{"member of the generation", "Stable", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", ids[0], gen, 7, map[int32]int64{0: 1})
		}, codeNone},
		{"stale generation", "Stable", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", ids[0], gen-1, 7, map[int32]int64{0: 1})
		}, codeIllegalGeneration},
		{"unknown member", "Stable", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", "who", gen, 7, map[int32]int64{0: 1})
		}, codeUnknownMemberID},
		{"anonymous while members exist", "Stable", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", "", -1, 7, map[int32]int64{0: 1})
		}, codeNone},
		{"waiting for the assignment", "Completing", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", ids[1], gen, 7, map[int32]int64{0: 1})
		}, codeNone},
		{"fenced static member", "Static", func(ids []string, gen int32) TxnCommit {
			req := txnReq("g", "old-id", gen, 7, map[int32]int64{0: 1})
			req.InstanceID = &[]string{"i1"}[0]
			return req
		}, codeFencedInstanceID},
		{"current static member", "Static", func(ids []string, gen int32) TxnCommit {
			req := txnReq("g", ids[0], gen, 7, map[int32]int64{0: 1})
			req.InstanceID = &[]string{"i1"}[0]
			return req
		}, codeNone},
		{"generation to a new group", "New", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", "m", 3, 7, map[int32]int64{0: 1})
		}, codeIllegalGeneration},
		{"no producer id", "New", func(ids []string, gen int32) TxnCommit {
			return txnReq("g", "", -1, -1, map[int32]int64{0: 1})
		}, codeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var ids []string
			var gen int32
			switch tc.state {
			case "Stable":
				ids, gen = h.stableGroup("g", 2)
			case "Completing":
				ids, gen = h.completing("g", 2)
			case "Static":
				ids, gen = h.staticGroup("g", "i1")
			}
			codes := h.txnCommit(tc.req(ids, gen)).get()
			wantCode(t, "transactional commit", codes[0][0], tc.want)
			pending := h.txnPending()
			if want := map[bool]int{true: 1, false: 0}[tc.want == codeNone]; pending != want {
				t.Errorf("%d pending offsets, want %d", pending, want)
			}
			if tc.want != codeNone && tc.state == "New" && h.hasGroup("g") {
				t.Error("a refused commit left a group behind")
			}
		})
	}
}

func TestTxnCommitPartialErrors(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetMetadataMax = 3
	h := newHarnessConfig(t, cfg)
	req := txnReq("g", "", -1, 7, map[int32]int64{0: 10, 1: 11})
	long := "long"
	req.Topics[0].Partitions[1].Metadata = &long
	codes := h.txnCommit(req).get()
	wantCode(t, "short metadata", codes[0][0], codeNone)
	wantCode(t, "long metadata", codes[0][1], codeOffsetMetadataTooLarge)
	h.endTxn(7, true)
	if h.fetch("g", 0, false).Offset != 10 || h.fetch("g", 1, false).Offset != -1 {
		t.Error("wrong partitions committed")
	}
}

func TestTxnAppendFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{fmt.Errorf("fenced: %w", ErrInvalidProducerEpoch), codeInvalidProducerEpoch},
		{fmt.Errorf("moved: %w", ErrNotLeader), codeNotCoordinator},
		{fmt.Errorf("big: %w", ErrTooLarge), codeInvalidCommitOffsetSize},
		{errTimeout, codeCoordinatorNotAvailable},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			h := newHarness(t)
			h.txnOK("g", 7, map[int32]int64{0: 5})
			h.log.auto = false
			tc2 := h.txnCommit(txnReq("g", "", -1, 7, map[int32]int64{0: 6, 1: 6}))
			h.log.fail(0, tc.err)
			wantCode(t, "transactional commit", tc2.get()[0][0], tc.want)
			if st := h.group("g"); len(st.TxnOffsets) != 1 || st.TxnOffsets[0].Offset != 5 {
				t.Errorf("pending after a failed append: %+v, want the earlier 5 alone", st.TxnOffsets)
			}
			wantCode(t, "stable fetch of p1", h.fetch("g", 1, true).ErrorCode, codeNone)
			h.log.auto = true
			h.endTxn(7, true)
			if h.fetch("g", 0, true).Offset != 5 {
				t.Error("the earlier offset was not committed")
			}
		})
	}
	t.Run("first commit", func(t *testing.T) {
		h := newHarness(t)
		h.log.auto = false
		h.txnCommit(txnReq("g", "", -1, 7, map[int32]int64{0: 5}))
		h.log.fail(0, errTimeout)
		if h.hasGroup("g") {
			t.Error("group kept after its only transactional commit failed")
		}
	})
}

// A marker can come while an append of the transaction is on its way (the transaction
// timed out and was aborted, say). The append's record lies before the marker in the
// log, so it takes the marker's outcome when it is done, as a replay gives.
func TestTxnMarkerBeforeAppendDone(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprint("commit=", commit), func(t *testing.T) {
			h := newHarness(t)
			h.log.auto = false
			tc := h.txnCommit(txnReq("g", "", -1, 7, map[int32]int64{0: 5}))
			h.c.CompleteTxn(h.now, 7, commit)
			wantCode(t, "stable fetch with the append on its way", h.fetch("g", 0, true).ErrorCode, codeUnstableOffsetCommit)
			h.log.complete(0)
			h.log.marker(7, testEpoch, commit)
			wantCode(t, "commit", tc.get()[0][0], codeNone)
			want := map[bool]int64{true: 5, false: -1}[commit]
			if got := h.fetch("g", 0, true); got.Offset != want || got.ErrorCode != codeNone {
				t.Errorf("after the append: %+v, want offset %d", got, want)
			}
			if h.txnPending() != 0 {
				t.Error("offsets left pending")
			}
			before := h.c.Status()
			h.log.auto = true
			h.failover(h.cfg)
			if after := h.c.Status(); !reflect.DeepEqual(before.Groups, after.Groups) {
				t.Errorf("replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
			}
		})
	}
}

func TestTxnPendingKeepsGroupFromDeletion(t *testing.T) {
	h := newHarness(t)
	h.txnOK("g", 7, map[int32]int64{0: 5})
	dc := &call[int16]{t: t}
	h.c.DeleteGroup(h.now, "g", dc.reply)
	wantCode(t, "delete with an open transaction", dc.get(), codeNonEmptyGroup)
	h.endTxn(7, true)
	dc = &call[int16]{t: t}
	h.c.DeleteGroup(h.now, "g", dc.reply)
	wantCode(t, "delete after the marker", dc.get(), codeNone)
	if h.hasGroup("g") {
		t.Error("group not deleted")
	}
}

func TestTxnPendingKeepsOffsetsFromExpiry(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1, 1: 1}))
	h.txnOK("g", 7, map[int32]int64{0: 2, 2: 2})
	h.run(3 * testRetention)
	if got := h.fetch("g", 0, false).Offset; got != 1 {
		t.Errorf("p0 %d: expired while a transaction holds an offset of it", got)
	}
	if got := h.fetch("g", 1, false).Offset; got != -1 {
		t.Errorf("p1 %d: not expired", got)
	}
	if st := h.group("g"); len(st.TxnOffsets) != 2 {
		t.Fatalf("pending offsets %+v, want both kept", st.TxnOffsets)
	}
	h.endTxn(7, true)
	if h.fetch("g", 0, true).Offset != 2 || h.fetch("g", 2, true).Offset != 2 {
		t.Fatal("the transaction's offsets were not committed")
	}
	// Committed now, they expire like others, and the group with them.
	h.run(3 * testRetention)
	if h.hasGroup("g") {
		t.Error("group not removed once its offsets expired")
	}
}

// OffsetDelete deletes the offsets an open transaction holds for the partitions named,
// as Kafka does: the tombstone follows their record, so the marker finds nothing there.
func TestTxnOffsetDelete(t *testing.T) {
	h := newHarness(t)
	h.txnOK("g", 7, map[int32]int64{0: 5, 1: 6})
	wantCode(t, "offset delete", deleteCodes(h.offsetDelete("g", "t", 0).get())[0], codeNone)
	if st := h.group("g"); len(st.TxnOffsets) != 1 || st.TxnOffsets[0].Partition != 1 {
		t.Errorf("pending after OffsetDelete of p0: %+v, want p1 alone", st.TxnOffsets)
	}
	h.txnOK("g", 7, map[int32]int64{0: 7}) // after the tombstone: it stands
	h.endTxn(7, true)
	if h.fetch("g", 0, true).Offset != 7 || h.fetch("g", 1, true).Offset != 6 {
		t.Error("wrong offsets committed")
	}
	before := h.c.Status()
	h.failover(h.cfg)
	if after := h.c.Status(); !reflect.DeepEqual(before.Groups, after.Groups) {
		t.Errorf("replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
	}
}

// A tombstone made durable while a transactional append of its partition is on its way
// ahead of it in the log deletes that append's offset when the append is done.
func TestTxnTombstoneOvertakesAppend(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("g", "", -1, map[int32]int64{0: 1}))
	h.log.auto = false
	tc := h.txnCommit(txnReq("g", "", -1, 7, map[int32]int64{0: 5}))
	dc := h.offsetDelete("g", "t", 0)
	txnAppend, tombstones := h.log.take(0), h.log.take(0)
	at := h.log.writeTxn(txnAppend.pid, txnAppend.epoch, txnAppend.recs)
	tombstones.done(h.log.write(tombstones.recs), nil)
	txnAppend.done(at, nil)
	wantCode(t, "commit", tc.get()[0][0], codeNone)
	wantCode(t, "offset delete", deleteCodes(dc.get())[0], codeNone)
	h.log.auto = true
	h.endTxn(7, true)
	if got := h.fetch("g", 0, true).Offset; got != -1 {
		t.Errorf("offset %d: the tombstone's deletion was undone", got)
	}
	before := h.c.Status()
	h.failover(h.cfg)
	if after := h.c.Status(); !reflect.DeepEqual(before.Groups, after.Groups) {
		t.Errorf("replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
	}
}

func TestTxnLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chunk int
		codec record.Codec
	}{
		{"one batch per chunk", 1, record.CodecNone},
		{"many batches per chunk", 4, record.CodecNone},
		{"zstd", 3, record.CodecZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.log.chunk, h.log.codec = tc.chunk, tc.codec
			ids, gen := h.stableGroup("members", 1)
			h.commit(commitReq("plain", "", -1, map[int32]int64{0: 1, 1: 1, 2: 1}))
			h.txnOK("plain", 1, map[int32]int64{0: 10})                                         // committed
			h.txnOK("plain", 2, map[int32]int64{1: 20})                                         // aborted
			h.txnOK("plain", 3, map[int32]int64{2: 30})                                         // committed, a later plain commit wins
			h.txnOK("open", 4, map[int32]int64{0: 40})                                          // never ended
			h.txnCommit(txnReq("members", ids[0], gen, 5, map[int32]int64{0: 50, 1: 51})).get() // committed
			h.txnOK("open", 6, map[int32]int64{1: 60, 2: 61})                                   // left open
			h.txnOK("aborted-only", 6, map[int32]int64{0: 62})                                  // same producer, another group
			h.commit(commitReq("plain", "", -1, map[int32]int64{2: 3}))
			h.endTxn(1, true)
			h.endTxn(2, false)
			h.endTxn(3, true)
			h.endTxn(5, true)
			h.endTxn(7, true) // a producer with nothing open
			// Control batches of other types are no business of the offsets partition.
			leader, err := record.Build(record.Spec{BaseOffset: h.log.next, ProducerID: -1, ProducerEpoch: -1,
				BaseSequence: -1, Control: true}, []kmsg.Record{{Key: record.ControlKey{Type: record.ControlLeaderChange}.AppendTo(nil), Value: []byte{0, 0}}})
			if err != nil {
				t.Fatal(err)
			}
			h.log.batches = append(h.log.batches, leader)
			h.log.next++
			before := h.c.Status()
			if before.TxnOffsetsPending() != 4 {
				t.Fatalf("%d pending before failover, want producer 4's and 6's", before.TxnOffsetsPending())
			}
			h.now += int64(time.Minute)
			h.failover(h.cfg)
			after := h.c.Status()
			if after.Phase != "serving" {
				t.Fatalf("phase %s: %s", after.Phase, after.LoadErr)
			}
			if !reflect.DeepEqual(before.Groups, after.Groups) {
				t.Errorf("replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
			}
			for p, want := range map[int32]int64{0: 10, 1: 1, 2: 3} {
				if got := h.fetch("plain", p, true).Offset; got != want {
					t.Errorf("plain p%d: %d, want %d", p, got, want)
				}
			}
			if h.fetch("members", 1, true).Offset != 51 {
				t.Error("members' transactional offset lost")
			}
			wantCode(t, "open transaction after the load", h.fetch("open", 0, true).ErrorCode, codeUnstableOffsetCommit)
			// The loaded transactions end like any.
			h.endTxn(4, true)
			h.endTxn(6, false)
			if h.fetch("open", 0, true).Offset != 40 || h.fetch("open", 1, true).Offset != -1 || h.hasGroup("aborted-only") {
				t.Errorf("loaded transactions did not end as their markers say: %+v", h.c.Status().Groups)
			}
			before = h.c.Status()
			h.failover(h.cfg)
			if after := h.c.Status(); !reflect.DeepEqual(before.Groups, after.Groups) {
				t.Errorf("second replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
			}
		})
	}
}

func TestLoadFailsOnUndecodableMarker(t *testing.T) {
	h := newHarness(t)
	h.txnOK("g", 7, map[int32]int64{0: 5})
	bad, err := record.Build(record.Spec{BaseOffset: h.log.next, ProducerID: 7, ProducerEpoch: testEpoch, BaseSequence: -1,
		Transactional: true, Control: true}, []kmsg.Record{{Key: []byte{0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	h.log.batches = append(h.log.batches, bad)
	h.log.next++
	h.failover(h.cfg)
	if st := h.c.Status(); st.Phase != "failed" || !strings.Contains(st.LoadErr, "control") {
		t.Errorf("status %+v", st)
	}
}

func TestTxnEvents(t *testing.T) {
	var events []Event
	cfg := testConfig()
	cfg.Events = func(e Event) { events = append(events, e) }
	h := newHarnessConfig(t, cfg)
	h.txnOK("a", 7, map[int32]int64{1: 1, 0: 1})
	h.txnOK("b", 7, map[int32]int64{2: 1})
	h.txnOK("a", 8, map[int32]int64{0: 2})
	h.endTxn(7, true)
	h.endTxn(8, false)
	h.endTxn(8, false) // nothing open: no event
	var got []string
	for _, e := range events {
		got = append(got, e.String())
		if e.Partition != cfg.Partition || e.AtMs != h.now/1e6 {
			t.Errorf("event %+v: wrong partition or time", e)
		}
	}
	want := []string{
		`group "a" (offsets partition 7) producer 7: t/0 t/1`,
		`group "b" (offsets partition 7) producer 7: t/2`,
		`group "a" (offsets partition 7) producer 8: t/0`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if len(events) == 3 && (events[0].Kind != TxnOffsetsCommitted || events[2].Kind != TxnOffsetsAborted ||
		events[2].Kind.String() != "group-txn-offsets-aborted") {
		t.Errorf("event kinds %v %v %v", events[0].Kind, events[1].Kind, events[2].Kind)
	}
}
