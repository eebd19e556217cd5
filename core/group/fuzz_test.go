package group

import (
	"reflect"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fuzz with, for example,
//
//	go test ./core/group -run '^$' -fuzz '^FuzzLoadRecord$' -fuzztime 1m
//
// Whatever the offsets partition holds, loading it must not panic: it fails cleanly or
// yields groups that serve requests without panicking either.

// FuzzLoadChunk hands arbitrary bytes to the loader as a chunk of batches, and again with
// the CRC repaired so the record decoder is reached.
func FuzzLoadChunk(f *testing.F) {
	for _, kv := range seedRecords() {
		b, err := record.Build(record.Spec{}.NoProducer(), []kmsg.Record{{Key: kv.Key, Value: kv.Value}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range seedTxnBatches(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, record.HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		loadAndServe(t, [][]byte{b})
		if h, err := record.ParseHeader(b); err == nil && h.Size() <= len(b) {
			fixed := append([]byte(nil), b...)
			record.SetCRC(fixed)
			loadAndServe(t, [][]byte{fixed})
		}
	})
}

// FuzzLoadRecord puts arbitrary keys and values in valid batches, after a valid history,
// so the kmsg decoders and the rebuilding of groups see every shape of record.
func FuzzLoadRecord(f *testing.F) {
	for _, kv := range seedRecords() {
		f.Add(kv.Key, kv.Value, kv.Value == nil)
	}
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		var batches [][]byte
		for i, kv := range append(seedRecords(), KV{Key: key, Value: value}) {
			b, err := record.Build(record.Spec{BaseOffset: int64(i)}.NoProducer(), []kmsg.Record{{Key: kv.Key, Value: kv.Value}})
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, b)
		}
		loadAndServe(t, batches)
	})
}

// seedTxnBatches are a transaction's offsets, both markers and a control batch with a
// key too short, as chunks of whole batches.
func seedTxnBatches(f *testing.F) [][]byte {
	txn, err := record.Build(record.Spec{ProducerID: 7, ProducerEpoch: 1, BaseSequence: -1, Transactional: true},
		[]kmsg.Record{{Key: offsetKey("g", tp{"t", 0}), Value: offsetValue(offset{offset: 5, leaderEpoch: 2, metadata: "m"})}})
	if err != nil {
		f.Fatal(err)
	}
	out := [][]byte{txn}
	for _, commit := range []bool{true, false} {
		m, err := record.BuildEndTxn(record.Spec{BaseOffset: 1, ProducerID: 7, ProducerEpoch: 1, BaseSequence: -1}, commit, 3)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, m, append(append([]byte(nil), txn...), m...))
	}
	short, err := record.Build(record.Spec{BaseOffset: 1, ProducerID: 7, ProducerEpoch: 1, BaseSequence: -1, Transactional: true,
		Control: true}, []kmsg.Record{{Key: []byte{0, 0, 1}}})
	if err != nil {
		f.Fatal(err)
	}
	return append(out, append(append([]byte(nil), txn...), short...))
}

// seedRecords are valid records of every kind and version this coordinator reads.
func seedRecords() []KV {
	inst := "i1"
	out := []KV{
		{Key: offsetKey("g", tp{"t", 0}), Value: offsetValue(offset{offset: 5, leaderEpoch: 2, metadata: "m"})},
		{Key: offsetKey("g", tp{"t", 1}), Value: nil},
	}
	for v := int16(0); v <= valueVersionMax; v++ {
		gv := kmsg.NewGroupMetadataValue()
		gv.Version = v
		gv.ProtocolType = "consumer"
		gv.Generation = 4
		gv.Protocol = kmsg.StringPtr("range")
		gv.Leader = kmsg.StringPtr("m1")
		gv.Members = []kmsg.GroupMetadataValueMember{
			{MemberID: "m1", InstanceID: &inst, ClientID: "c", SessionTimeoutMillis: 10000, RebalanceTimeoutMillis: 20000,
				Subscription: []byte("s"), Assignment: []byte("a")},
			{MemberID: "m2", ClientID: "c", SessionTimeoutMillis: 0, RebalanceTimeoutMillis: -1},
		}
		ov := kmsg.NewOffsetCommitValue()
		ov.Version = v
		ov.Offset = 9
		key := groupKey("g")
		if v == 1 {
			key = groupKey("other")
		}
		out = append(out, KV{Key: key, Value: gv.AppendTo(nil)}, KV{Key: offsetKey("g", tp{"t", int32(v)}), Value: ov.AppendTo(nil)})
	}
	k0 := kmsg.OffsetCommitKey{Version: 0, Group: "g0", Topic: "t", Partition: 3}
	return append(out, KV{Key: k0.AppendTo(nil), Value: offsetValue(offset{offset: 1})}, KV{Key: groupKey("other")})
}

// loadAndServe loads batches into a new coordinator and, if it serves, drives every group
// it rebuilt through the requests members and administrators send.
func loadAndServe(t *testing.T, batches [][]byte) {
	log := newFakeLog(t)
	log.batches = batches
	cfg := testConfig()
	// Short enough that the run below expires offsets and removes groups.
	cfg.OffsetsRetention, cfg.OffsetsRetentionCheck = 10*time.Second, time.Second
	now := int64(time.Hour)
	c := NewCoordinator(now, cfg, log)
	st := c.Status()
	switch st.Phase {
	case "failed":
		if st.LoadErr == "" || c.Availability() != codeCoordinatorNotAvailable {
			t.Fatalf("failed load without a reason: %+v", st)
		}
		return
	case "serving":
	default:
		t.Fatalf("phase %s after loading", st.Phase)
	}
	h := &harness{t: t, cfg: cfg, log: log, c: c, now: now}
	for _, g := range st.Groups {
		serveGroup(h, g)
	}
	h.run(time.Minute)
	h.c.Status()
	h.c.ListGroups(h.now, nil)
}

func serveGroup(h *harness, g GroupStatus) {
	ignore := func(*kmsg.JoinGroupResponse) {}
	for _, m := range g.Members {
		h.heartbeat(g.ID, m.ID, g.Generation)
		req := joinReq(g.ID, m.ID, g.Protocol, "range")
		if m.InstanceID != "" {
			req.InstanceID = kmsg.StringPtr(m.InstanceID)
		}
		h.c.JoinGroup(h.now, req, "c", "h", ignore)
		h.sync(syncReq(g.ID, m.ID, g.Generation, map[string]string{m.ID: "x"}))
		h.commit(commitReq(g.ID, m.ID, g.Generation, map[int32]int64{0: 1}))
		if m.InstanceID != "" {
			h.c.JoinGroup(h.now, staticJoinReq(g.ID, "", m.InstanceID, g.Protocol), "c", "h", ignore)
		}
	}
	h.c.JoinGroup(h.now, joinReq(g.ID, "", g.Protocol), "c", "h", ignore)
	h.run(time.Second)
	h.c.DescribeGroup(h.now, g.ID)
	h.offsetDelete(g.ID, "t", 1)
	h.fetch(g.ID, 0, true)
	h.commit(commitReq(g.ID, "", -1, map[int32]int64{0: 1}))
	if len(g.Members) > 0 {
		h.leave(g.ID, g.Members[0].ID)
	}
	h.c.TxnOffsetCommit(h.now, txnReq(g.ID, "", -1, 9, map[int32]int64{0: 1}), func([][]int16) {})
	h.fetch(g.ID, 0, true)
	for _, o := range g.TxnOffsets {
		h.c.CompleteTxn(h.now, o.ProducerID, o.Offset%2 == 0)
	}
	h.c.DeleteGroup(h.now, g.ID, func(int16) {})
	h.c.CompleteTxn(h.now, 9, true)
}

// FuzzTxnReplay drives plain and transactional commits, markers, OffsetDeletes, failed
// appends and appends answered out of order from the fuzzer's bytes, then checks that a coordinator
// replaying the log rebuilds the groups the running one holds.
func FuzzTxnReplay(f *testing.F) {
	f.Add([]byte{1, 7, 2, 0})
	f.Add([]byte{0, 1, 13, 2, 3, 4, 25, 9, 15})
	f.Add([]byte{5, 1, 7, 4, 6, 12, 18, 2})
	f.Add([]byte{5, 0, 1, 4, 13, 6, 2, 6, 5, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			return
		}
		h := newHarness(t)
		groups := []string{"a", "b"}
		next := int64(100)
		settle := func() { // a marker lands after every append handed to the log before it
			for len(h.log.pending) > 0 {
				h.log.complete(0)
			}
		}
		for _, b := range ops {
			arg := int(b / 7)
			g, p, pid := groups[arg%2], int32(arg%3), int64(arg%3+1)
			next++
			switch b % 7 {
			case 0:
				h.c.OffsetCommit(h.now, commitReq(g, "", -1, map[int32]int64{p: next}), func(*kmsg.OffsetCommitResponse) {})
			case 1:
				h.c.TxnOffsetCommit(h.now, txnReq(g, "", -1, pid, map[int32]int64{p: next}), func([][]int16) {})
			case 2, 3:
				settle()
				h.endTxn(pid, b%7 == 2)
			case 4:
				h.offsetDelete(g, "t", p)
			case 5:
				h.log.auto = !h.log.auto
				if h.log.auto {
					settle()
				}
			case 6:
				if n := len(h.log.pending); arg%2 == 1 && n > 0 {
					// A transactional commit refused, never in the log. (A refused removal
					// leaves its group Dead until the expiry check writes it again: not a
					// state a replay rebuilds.)
					if i := arg % n; h.log.pending[i].pid >= 0 {
						h.log.fail(i, errTimeout)
					}
					break
				}
				// The log takes appends in the order they were handed to it, and may
				// answer them in another.
				ps := h.log.pending
				h.log.pending = nil
				bases := make([]int64, len(ps))
				for i, p := range ps {
					bases[i] = h.log.writeTxn(p.pid, p.epoch, p.recs)
				}
				for k := range ps {
					i := (k + arg) % len(ps)
					ps[i].done(bases[i], nil)
				}
			}
		}
		h.log.auto = true
		settle()
		before := h.c.Status()
		h.failover(h.cfg)
		if after := h.c.Status(); !reflect.DeepEqual(before.Groups, after.Groups) {
			t.Fatalf("replay differs:\nbefore %+v\nafter  %+v", before.Groups, after.Groups)
		}
	})
}

// FuzzOffsetDeleteSubscription gives a live member arbitrary protocol metadata, which
// OffsetDelete decodes as a consumer subscription: it must answer, not panic.
func FuzzOffsetDeleteSubscription(f *testing.F) {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{"t", "u"}
	f.Add(md.AppendTo(nil))
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, metadata []byte) {
		h := newHarness(t)
		req := joinReq("g", "")
		req.Protocols[0].Metadata = metadata
		first := h.join(req).get()
		req.MemberID = first.MemberID
		h.join(req)
		h.run(10 * time.Second)
		h.commit(commitReq("g", first.MemberID, 1, map[int32]int64{0: 1}))
		if resp := h.offsetDelete("g", "t", 0, 1).get(); resp.ErrorCode != codeNone && resp.ErrorCode != codeNonEmptyGroup {
			t.Fatalf("OffsetDelete answered %d", resp.ErrorCode)
		}
	})
}
