package raft

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
)

// restart replaces node id with a member started from rec, its files those of rec.
func (c *tcluster) restart(id int32, voters []int32, rec Restored) *tnode {
	c.t.Helper()
	q := &disk.Queue{}
	r, err := New(testConfig(id, voters, q, uint64(id)+100), rec)
	if err != nil {
		c.t.Fatalf("restarting %d: %v", id, err)
	}
	n := &tnode{t: c.t, id: id, r: r, q: q, files: map[string][]byte{}}
	for name, b := range map[string][]byte{QuorumStateFile: rec.QuorumState, QuorumStateCopyFile: rec.QuorumStateCopy} {
		if b != nil {
			n.files[name] = b
		}
	}
	if rec.Snapshot != nil {
		n.files[SnapshotFile] = EncodeSnapshotFile(*rec.Snapshot)
	}
	c.nodes[id] = n
	return n
}

// damage returns b with one byte changed.
func damage(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)/2] ^= 0x21
	return b
}

func (n *tnode) note(kind string) string {
	for _, note := range n.rd.Notes {
		if note.Kind == kind {
			return note.Text
		}
	}
	return ""
}

func TestQuorumStateCopies(t *testing.T) {
	older := quorumState{epoch: 4, votedFor: 2, hw: 10, acked: 12}
	newer := quorumState{epoch: 5, votedFor: 3, hw: 12, acked: 12}
	later := quorumState{epoch: 5, votedFor: 3, hw: 13, acked: 13}
	o, n, l := encodeQuorumState(older, 7), encodeQuorumState(newer, 8), encodeQuorumState(later, 9)
	cases := []struct {
		name          string
		first, second []byte
		want, durable quorumState
		rewrite       bool
		lost, fresh   bool
	}{
		{name: "both equal", first: n, second: n, want: newer, durable: newer},
		{name: "first damaged", first: damage(n), second: n, want: newer, durable: newer, rewrite: true},
		{name: "second damaged", first: n, second: damage(n), want: newer, durable: newer, rewrite: true},
		{name: "second missing", first: n, want: newer, durable: newer, rewrite: true},
		{name: "interrupted between the copies", first: n, second: o, want: newer, durable: older, rewrite: true},
		{name: "newer in the second", first: o, second: n, want: newer, durable: older, rewrite: true},
		{name: "same epoch, later write", first: n, second: l, want: later, durable: newer, rewrite: true},
		{name: "both damaged", first: damage(n), second: damage(o), lost: true},
		{name: "damaged and missing", second: damage(n), lost: true},
		{name: "none", fresh: true, want: emptyQuorumState(), durable: emptyQuorumState()},
	}
	for _, tc := range cases {
		got := loadQuorumState(tc.first, tc.second)
		if got.lost != tc.lost || got.fresh != tc.fresh {
			t.Errorf("%s: lost %v fresh %v (%s)", tc.name, got.lost, got.fresh, got.why)
			continue
		}
		if !tc.lost && (got.qs != tc.want || got.durable != tc.durable || got.rewrite != tc.rewrite) {
			t.Errorf("%s: state %+v, durable %+v, rewrite %v", tc.name, got.qs, got.durable, got.rewrite)
		}
	}
}

// A state only one copy holds (the write stopped between the copies) is written to both
// before anything depending on it leaves; until then the other copy is what is durable.
func TestStateInOneCopyIsRewrittenBeforeItCounts(t *testing.T) {
	c := newCluster(t, three)
	newer := encodeQuorumState(quorumState{epoch: 5, votedFor: 3}, 8)
	older := encodeQuorumState(quorumState{epoch: 4, votedFor: -1}, 7)
	n := c.restart(2, three, Restored{QuorumState: newer, QuorumStateCopy: older})
	if st := n.r.Status(); st.Epoch != 4 || st.PendingEpoch != 5 || st.VotedFor != -1 || st.Recovering {
		t.Fatalf("status %+v", st)
	}
	n.r.Step(c.now, 3, &VoteRequest{Epoch: 5, CandidateID: 3})
	c.pump()
	if len(c.msgs) != 0 {
		t.Fatalf("the vote left before both copies held it: %+v", c.msgs[0].env.Msg)
	}
	if len(n.ops) != 2 || n.ops[0].Name != QuorumStateFile || n.ops[1].Name != QuorumStateCopyFile {
		t.Fatalf("ops %v, want the state written to both copies", n.ops)
	}
	c.completeDisk(2)
	if resp, ok := msgOf[*VoteResponse](c.msgs[0]); !ok || !resp.Granted || resp.Epoch != 5 {
		t.Fatalf("answer %+v", c.msgs[0].env.Msg)
	}
	for _, name := range []string{QuorumStateFile, QuorumStateCopyFile} {
		if qs, _, err := decodeQuorumState(n.files[name]); err != nil || qs.epoch != 5 || qs.votedFor != 3 {
			t.Fatalf("%s: %+v, %v", name, qs, err)
		}
	}
}

// A follower's fetch offset tells the leader what it holds durably, so the fetch waits
// for the quorum-state write that acknowledges that end.
func TestFollowerFetchesOnlyWhatItAcknowledged(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	c.propose(1, "x")
	c.completeDisk(1)
	c.deliver(nil) // the held fetches complete with the new entry
	f := c.n(2)
	for len(f.ops) > 0 && f.ops[0].Kind != disk.WriteFile {
		op := f.ops[0]
		f.ops = f.ops[1:]
		f.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
		c.pump()
	}
	if f.r.Status().DurableOffset != 2 {
		t.Fatalf("2 did not sync: %+v", f.r.Status())
	}
	for _, m := range c.msgs {
		if _, ok := msgOf[*Fetch](m); ok && m.from == 2 {
			t.Fatalf("2 fetched before acknowledging its end: %+v", m.env.Msg)
		}
	}
	c.completeDisk(2)
	found := false
	for _, m := range c.msgs {
		if fe, ok := msgOf[*Fetch](m); ok && m.from == 2 {
			found = fe.FetchOffset == 2
		}
	}
	qs, _, err := decodeQuorumState(f.files[QuorumStateCopyFile])
	if !found || err != nil || qs.acked != 2 {
		t.Fatalf("fetch at 2 sent %v; acknowledged %+v, %v", found, qs, err)
	}
}

// Every quorum-state write a leader makes acknowledges at least the high watermark it
// records: the leader counts itself only as far as it acknowledges.
func TestLeaderAcknowledgesWhatItCounts(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	l := c.n(1)
	writes := 0
	for i := 0; i < 5; i++ {
		c.propose(1, "v")
		for round := 0; round < 20; round++ {
			c.pump()
			for len(l.ops) > 0 {
				op := l.ops[0]
				l.ops = l.ops[1:]
				if op.Kind == disk.WriteFile && op.Name == QuorumStateFile {
					qs, _, err := decodeQuorumState(op.Data)
					if err != nil || qs.hw > qs.acked {
						t.Fatalf("leader wrote %+v, %v", qs, err)
					}
					writes++
				}
				l.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
				c.pump()
			}
			c.completeDisk(2, 3)
			c.deliver(nil)
		}
	}
	if st := l.r.Status(); st.HW != 6 || writes == 0 {
		t.Fatalf("leader %+v after %d writes", st, writes)
	}
}

// A follower that restarts with a log shorter than the end it acknowledged lost entries
// that may be committed with its help. It recovers: no votes, no candidacy, until it has
// fetched them again from the leader.
func TestLostAcknowledgedEntriesMakeAMemberRecover(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.propose(1, "a", "b")
	c.propose(1, "c")
	c.settle()
	rec := c.n(2).restored()
	last := len(rec.Batches) - len(c.n(2).r.log.batches[len(c.n(2).r.log.batches)-1].data)
	rec.Batches = rec.Batches[:last] // the last batch decayed; recovery cut it
	n := c.restart(2, three, rec)
	c.pump()
	st := n.r.Status()
	if !st.Recovering || st.QuorumStateLost || st.EndOffset != 3 || st.HW != 4 {
		t.Fatalf("restarted: %+v", st)
	}
	if why := n.note("recovering"); !strings.Contains(why, "below the acknowledged end 4") {
		t.Fatalf("recovering note %q", why)
	}
	if got := values(n.takeCommitted()); got != "0:ctl@1 1:a@1 2:b@1" {
		t.Fatalf("re-delivered %q", got)
	}
	c.completeDisk(2)
	qs, _, _ := decodeQuorumState(n.files[QuorumStateCopyFile])
	if !qs.recovering || qs.recoverAcked != 4 || qs.acked != 3 {
		t.Fatalf("persisted %+v", qs)
	}
	// It refuses votes and pre-votes from an up-to-date candidate, and does not stand.
	n.r.Step(c.now, 3, &VoteRequest{Epoch: 2, CandidateID: 3, LastEpoch: 1, EndOffset: 4, PreVote: true})
	n.r.Step(c.now, 3, &VoteRequest{Epoch: 2, CandidateID: 3, LastEpoch: 1, EndOffset: 4})
	c.completeDisk(2)
	for _, m := range c.msgs {
		if resp, ok := msgOf[*VoteResponse](m); ok && resp.Granted {
			t.Fatalf("a recovering member granted %+v", resp)
		}
	}
	c.msgs = nil
	n.r.Tick(n.r.Deadline())
	c.now = max(c.now, n.r.lastNow)
	c.pump()
	queries := 0
	for _, m := range c.msgs {
		switch m.env.Msg.(type) {
		case *VoteRequest:
			t.Fatalf("a recovering member stands: %+v", m.env.Msg)
		case *EpochQuery:
			queries++
		}
	}
	if queries != 2 {
		t.Fatalf("%d epoch queries, want one to each voter: %v", queries, c.msgs)
	}
	// 2 adopted epoch 2 from the request; its queries carry it to 1 and 3, who elect a
	// leader of a later epoch without 2, which then follows it and catches up.
	c.settle()
	for i := 0; i < 40 && n.r.Status().Recovering; i++ {
		c.advance(testElection / 2)
		c.settle()
	}
	st = n.r.Status()
	if st.Recovering || st.EndOffset < 4 || st.HW < 4 || n.note("recovered") == "" {
		t.Fatalf("did not recover: %+v, notes %v", st, n.rd.Notes)
	}
	if got := values(n.takeCommitted()); !strings.HasPrefix(got, "3:c@1") {
		t.Fatalf("delivered after catching up: %q", got)
	}
	qs, _, _ = decodeQuorumState(n.files[QuorumStateCopyFile])
	if qs.recovering || qs.voteFloor < st.PendingEpoch-1 {
		t.Fatalf("persisted after recovery %+v", qs)
	}
}

// A member that restarts while still recovering stays recovering, whatever its log.
func TestRecoveringSurvivesARestart(t *testing.T) {
	state := encodeQuorumState(quorumState{epoch: 3, votedFor: -1, hw: 1, acked: 1, recovering: true, recoverAcked: 9}, 4)
	c := newCluster(t, three)
	b0 := leaderChangeBatch(t, 0, 1, 1, three)
	n := c.restart(2, three, Restored{QuorumState: state, QuorumStateCopy: state, Batches: b0})
	if st := n.r.Status(); !st.Recovering || n.r.rec.ackedOld != 9 {
		t.Fatalf("status %+v, acknowledged end %d", st, n.r.rec.ackedOld)
	}
}

// A member whose quorum state is unreadable knows neither its votes nor what it
// acknowledged. It asks every voter for its epoch and votes only above the highest, and
// catches up with the leader's whole log, not just its high watermark.
func TestLostQuorumStatePollsEveryVoter(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.propose(1, "a")
	c.settle()
	rec := c.n(3).restored()
	rec.QuorumState, rec.QuorumStateCopy = damage(rec.QuorumState), damage(rec.QuorumStateCopy)
	n := c.restart(3, three, rec)
	if st := n.r.Status(); !st.Recovering || !st.QuorumStateLost || st.PendingEpoch != 1 || st.VotedFor != -1 {
		t.Fatalf("status %+v", st)
	}
	// The leader moves on without 3: its end is ahead of its high watermark.
	c.propose(1, "b")
	c.completeDisk(1)
	n.r.Tick(c.now)
	c.completeDisk(3)
	var queries []tmsg
	c.drop(func(m tmsg) bool {
		if _, ok := msgOf[*EpochQuery](m); ok && m.from == 3 {
			queries = append(queries, m)
		}
		return false
	})
	if len(queries) != 2 {
		t.Fatalf("queries %v", queries)
	}
	q, _ := msgOf[*EpochQuery](queries[0])
	// A stale answer (another nonce) counts for nothing; 1's answer is not enough.
	n.r.Step(c.now, 2, &EpochAnswer{Nonce: q.Nonce + 2, Epoch: 1, Leader: 1})
	n.r.Step(c.now, 1, &EpochAnswer{Nonce: q.Nonce, Epoch: 1, Leader: 1})
	if n.r.voteFloor != noVotes {
		t.Fatalf("vote floor %d after one answer", n.r.voteFloor)
	}
	// 2 is in a later epoch (say it stood and lost): the floor is that epoch.
	n.r.Step(c.now, 2, &EpochAnswer{Nonce: q.Nonce, Epoch: 2, Leader: -1})
	c.pump()
	if n.r.voteFloor != 2 || n.r.Status().PendingEpoch != 2 || n.note("vote-floor") == "" {
		t.Fatalf("vote floor %d, status %+v", n.r.voteFloor, n.r.Status())
	}
	// 1 wins epoch 4 (after 2's vote request took it to epoch 3); 3 follows it and must
	// reach 1's log end, past the high watermark 1 reports in its first answer.
	c.drop(func(tmsg) bool { return true })
	l := c.n(1).r
	l.Step(c.now, 2, &VoteRequest{Epoch: 3, CandidateID: 2, LastEpoch: 0, EndOffset: 0}) // 1 adopts epoch 3
	c.completeDisk(1)
	c.drop(func(tmsg) bool { return true })
	l.startPreVote(c.now)
	l.Step(c.now, 2, &VoteResponse{Epoch: 3, Leader: -1, VoteEpoch: 4, PreVote: true, Granted: true})
	c.completeDisk(1)
	l.Step(c.now, 2, &VoteResponse{Epoch: 4, Leader: -1, VoteEpoch: 4, Granted: true})
	if l.Status().Role != Leader {
		t.Fatalf("1 did not win epoch 4: %+v", l.Status())
	}
	c.drop(func(tmsg) bool { return true })
	c.completeDisk(1)
	end := l.Status().EndOffset
	n.r.Step(c.now, 1, &BeginQuorumEpoch{Epoch: 4, LeaderID: 1})
	c.completeDisk(3)
	c.deliver(func(m tmsg) bool { return m.from == 3 && m.env.To == 1 }) // 3's fetch
	c.deliver(func(m tmsg) bool { return m.from == 1 && m.env.To == 3 }) // 1's answer
	if got := n.r.rec.target; got != end || n.r.leaderHW >= end {
		t.Fatalf("target %d, want the leader's end %d, beyond the HW %d it reported", got, end, n.r.leaderHW)
	}
	for i := 0; i < 10 && n.r.Status().Recovering; i++ {
		c.completeDisk(3)
		c.deliver(func(m tmsg) bool { return (m.from == 3 && m.env.To == 1) || (m.from == 1 && m.env.To == 3) })
		c.completeDisk(1)
	}
	if st := n.r.Status(); st.Recovering || st.DurableOffset < end {
		t.Fatalf("did not recover: %+v", st)
	}
	c.completeDisk(3)
	// Restarted from what it wrote since, it refuses a vote in epoch 4, where it may have
	// voted before, and grants one in epoch 5.
	rec = n.restored()
	n = c.restart(3, three, rec)
	if st := n.r.Status(); st.Recovering || st.Epoch != 4 {
		t.Fatalf("restarted: %+v", st)
	}
	n.r.Step(c.now, 2, &VoteRequest{Epoch: 4, CandidateID: 2, LastEpoch: 4, EndOffset: 99})
	n.r.Step(c.now, 2, &VoteRequest{Epoch: 5, CandidateID: 2, LastEpoch: 4, EndOffset: 99})
	c.completeDisk(3)
	var granted []int32
	for _, m := range c.msgs {
		if resp, ok := msgOf[*VoteResponse](m); ok && m.from == 3 && resp.Granted {
			granted = append(granted, resp.VoteEpoch)
		}
	}
	if len(granted) != 1 || granted[0] != 5 {
		t.Fatalf("granted in epochs %v, want only 5", granted)
	}
}

// A snapshot that does not decode takes the log below it along: the member removes the
// file, restarts its log empty at 0 and recovers, taking the leader's snapshot.
func TestLostSnapshotRestartsTheLogFromZero(t *testing.T) {
	c := newClusterWith(t, three, nil, func(cfg *Config) { cfg.SnapshotChunkBytes = 7 })
	c.elect(1)
	c.propose(1, "a", "b")
	c.propose(1, "c")
	c.settle()
	img := Snapshot{EndOffset: 4, Epoch: 1, Data: []byte("image-up-to-4")}
	for _, id := range three {
		c.n(id).r.SnapshotTaken(img)
		c.n(id).files[SnapshotFile] = EncodeSnapshotFile(img)
	}
	c.propose(1, "d")
	c.settle()
	rec := c.n(3).restored()
	rec.Snapshot, rec.SnapshotLost = nil, true
	n := c.restart(3, three, rec)
	ops := n.q.Drain()
	if len(ops) < 2 || ops[0].Kind != disk.RemoveFile || ops[0].Name != SnapshotFile || ops[1].Kind != disk.Reset || ops[1].Offset != 0 {
		t.Fatalf("ops %v, want the snapshot removed and the log reset to 0", ops)
	}
	n.ops = append(n.ops, ops...)
	if st := n.r.Status(); !st.Recovering || !st.SnapshotLost || st.StartOffset != 0 || st.EndOffset != 0 || st.HW != 5 {
		t.Fatalf("status %+v", st)
	}
	n.r.Tick(c.now)
	for i := 0; i < 20 && n.r.Status().Recovering; i++ {
		c.settle()
		c.advance(testMaxWait)
	}
	st := n.r.Status()
	if st.Recovering || st.SnapshotLost || n.rd.Installed == nil || n.rd.Installed.EndOffset != 4 || st.EndOffset != 5 {
		t.Fatalf("after catching up: %+v, installed %+v", st, n.rd.Installed)
	}
	if got := values(n.takeCommitted()); got != "4:d@1" {
		t.Fatalf("committed %q after the snapshot", got)
	}
}

// Whatever the disk lost or damaged, New starts the member (a node that refused to start
// would only restart and refuse again); it recovers when the loss may matter.
func TestRestoreNeverFailsOnDamage(t *testing.T) {
	c := newCluster(t, []int32{1})
	c.elect(1)
	c.propose(1, "a")
	c.propose(1, "b")
	c.completeDisk()
	good := c.n(1).restored()
	b := c.n(1).r.log.batches
	withState := func(qs quorumState) func(Restored) Restored {
		return func(r Restored) Restored {
			r.QuorumState = encodeQuorumState(qs, 1)
			r.QuorumStateCopy = r.QuorumState
			return r
		}
	}
	cases := []struct {
		name       string
		damage     func(Restored) Restored
		recovering bool
		lost       bool
		firstOp    disk.Kind
		firstAt    int64
	}{
		{"intact", func(r Restored) Restored { return r }, false, false, 0, 0},
		{"high watermark beyond the log", withState(quorumState{epoch: 1, votedFor: 1, hw: 99, acked: 3}), true, false, 0, 0},
		{"acknowledged beyond the log", withState(quorumState{epoch: 1, votedFor: 1, hw: 2, acked: 9}), true, false, 0, 0},
		{"log epoch beyond the quorum state", withState(quorumState{epoch: 0, votedFor: -1}), true, true, 0, 0},
		{"quorum state missing beside a log", func(r Restored) Restored {
			r.QuorumState, r.QuorumStateCopy = nil, nil
			return r
		}, true, true, 0, 0},
		{"one copy damaged", func(r Restored) Restored { r.QuorumState = damage(r.QuorumState); return r }, false, false, disk.WriteFile, 0},
		{"both copies damaged", func(r Restored) Restored {
			r.QuorumState, r.QuorumStateCopy = damage(r.QuorumState), damage(r.QuorumStateCopy)
			return r
		}, true, true, 0, 0},
		{"log start without a snapshot", func(r Restored) Restored { r.StartOffset = 1; return r }, true, false, disk.Reset, 0},
		{"snapshot below the log start", func(r Restored) Restored {
			r.Snapshot, r.StartOffset, r.Batches = &Snapshot{EndOffset: 1, Epoch: 1}, 2, r.Batches[len(b[0].data)+len(b[1].data):]
			return r
		}, true, false, disk.Reset, 1},
		{"snapshot lost", func(r Restored) Restored { r.SnapshotLost = true; return r }, true, false, disk.RemoveFile, 0},
		{"torn last batch", func(r Restored) Restored { r.Batches = r.Batches[:len(r.Batches)-1]; return r }, true, false, disk.Truncate, 2},
		{"damaged record in the middle", func(r Restored) Restored {
			r.Batches = bytes.Clone(r.Batches)
			r.Batches[len(b[0].data)+len(b[1].data)-3] ^= 1
			return r
		}, true, false, disk.Truncate, 1},
		{"damaged epoch in a header (outside the CRC)", func(r Restored) Restored {
			r.Batches = bytes.Clone(r.Batches)
			h := r.Batches[len(b[0].data):]
			binary.BigEndian.PutUint32(h[12:], 7) // partition leader epoch
			return r
		}, true, false, disk.Truncate, 1},
	}
	for _, tc := range cases {
		q := &disk.Queue{}
		r, err := New(testConfig(1, three, q, 1), tc.damage(good))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		st := r.Status()
		if st.Recovering != tc.recovering || st.QuorumStateLost != tc.lost {
			t.Errorf("%s: %+v", tc.name, st)
		}
		ops := q.Drain()
		if tc.firstOp != 0 && (len(ops) == 0 || ops[0].Kind != tc.firstOp || ops[0].Offset != tc.firstAt) {
			t.Errorf("%s: ops %v, want %s at %d first", tc.name, ops, tc.firstOp, tc.firstAt)
		}
		if tc.firstOp == 0 && len(ops) > 0 && ops[0].Kind != disk.WriteFile {
			t.Errorf("%s: ops %v, want at most a quorum-state write", tc.name, ops)
		}
	}
}

// A divergent suffix is cut on disk only once the acknowledged end no longer covers it: a
// restart in between must not look like lost data.
func TestTruncationWaitsForTheAcknowledgedEnd(t *testing.T) {
	c := newCluster(t, three)
	c.elect(1)
	c.settle()
	c.propose(1, "lost-1", "lost-2")
	c.completeDisk(1)
	c.deliver(func(m tmsg) bool { return m.env.To == 3 })
	c.completeDisk(3)
	c.drop(func(tmsg) bool { return true })
	// 2 leads epoch 2 without the entries.
	c.n(2).r.startPreVote(c.now)
	c.n(2).r.Step(c.now, 1, &VoteResponse{Leader: -1, VoteEpoch: 2, PreVote: true, Granted: true, Epoch: 1})
	c.completeDisk(2)
	c.n(2).r.Step(c.now, 1, &VoteResponse{Epoch: 2, Leader: -1, VoteEpoch: 2, Granted: true})
	c.drop(func(tmsg) bool { return true })
	c.completeDisk(2)
	f := c.n(3)
	f.r.Step(c.now, 2, &BeginQuorumEpoch{Epoch: 2, LeaderID: 2})
	c.completeDisk(3)
	c.drop(func(m tmsg) bool { return m.env.To != 2 || m.from != 3 })
	c.deliver(nil) // the fetch
	c.deliver(nil) // the divergence answer
	if f.r.Status().EndOffset != 1 {
		t.Fatalf("3 did not truncate in memory: %+v", f.r.Status())
	}
	var kinds []string
	for _, op := range f.ops {
		kinds = append(kinds, op.Kind.String()+" "+op.Name)
	}
	if len(f.ops) != 2 || f.ops[0].Kind != disk.WriteFile || f.ops[1].Kind != disk.WriteFile {
		t.Fatalf("ops %v, want the quorum-state write alone", kinds)
	}
	qs, _, _ := decodeQuorumState(f.ops[0].Data)
	if qs.acked != 1 {
		t.Fatalf("writes acknowledged end %d, want 1", qs.acked)
	}
	for _, op := range f.ops {
		f.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind})
	}
	f.ops = nil
	c.pump()
	if len(f.ops) != 1 || f.ops[0].Kind != disk.Truncate || f.ops[0].Offset != 1 {
		t.Fatalf("ops %v after the write, want the truncation", f.ops)
	}
}
