package sim

import (
	"maps"
	"strings"
	"testing"
)

// fakeQuorum is a machine whose quorum state a test sets directly.
type fakeQuorum struct {
	Machine
	st      QuorumStatus
	entries []QuorumEntry
}

var fakeInspect = &Inspect{
	Quorum: func(m Machine) (QuorumStatus, bool) { return m.(*fakeQuorum).st, true },
	Entries: func(m Machine, from, to int64) []QuorumEntry {
		var out []QuorumEntry
		for _, e := range m.(*fakeQuorum).entries {
			if e.Offset >= from && e.Offset < to {
				out = append(out, e)
			}
		}
		return out
	},
}

func quorumFixture() (*quorumInvariants, []*simNode, []*fakeQuorum) {
	q := &quorumInvariants{inspect: fakeInspect, leaders: map[int32]int32{}, committed: map[int64]entryMark{}, nodes: map[int32]*quorumNode{},
		voters: []int32{1, 2, 3}}
	var nodes []*simNode
	var fakes []*fakeQuorum
	for id := int32(1); id <= 3; id++ {
		f := &fakeQuorum{st: QuorumStatus{LeaderID: -1, VotedFor: -1}}
		fakes = append(fakes, f)
		nodes = append(nodes, &simNode{spec: NodeSpec{ID: id, Voter: true}, m: f, up: true})
	}
	q.machine = func(id int32) Machine {
		if n := nodes[id-1]; n.up {
			return n.m
		}
		return nil
	}
	return q, nodes, fakes
}

func entries(epoch int32, data ...string) []QuorumEntry {
	var out []QuorumEntry
	for i, d := range data {
		out = append(out, QuorumEntry{Offset: int64(i), Epoch: epoch, Data: []byte(d)})
	}
	return out
}

func TestQuorumInvariantsPassAHealthyHistory(t *testing.T) {
	q, nodes, fakes := quorumFixture()
	steps := []func(){
		func() {
			fakes[0].st = QuorumStatus{Leader: true, Epoch: 1, ActingEpoch: 1, LeaderID: 1, HW: 0, EndOffset: 1}
		},
		func() { fakes[0].entries = entries(1, "a", "b"); fakes[0].st.EndOffset, fakes[0].st.HW = 2, 2 },
		func() {
			fakes[1].entries = entries(1, "a", "b")
			fakes[1].st = QuorumStatus{Epoch: 1, ActingEpoch: 1, HW: 1, EndOffset: 2}
		},
		func() { fakes[1].st = QuorumStatus{Leader: true, Epoch: 2, ActingEpoch: 2, HW: 2, EndOffset: 2} },
	}
	for i, step := range steps {
		step()
		for _, n := range nodes {
			if err := q.check(View{}, n, true); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
}

func TestQuorumInvariantsCatchViolations(t *testing.T) {
	cases := map[string]struct {
		setup func(f []*fakeQuorum)
		then  func(f []*fakeQuorum)
		want  string
	}{
		"two leaders": {
			setup: func(f []*fakeQuorum) { f[0].st = QuorumStatus{Leader: true, Epoch: 3, ActingEpoch: 3} },
			then:  func(f []*fakeQuorum) { f[1].st = QuorumStatus{Leader: true, Epoch: 3, ActingEpoch: 3} },
			want:  "two quorum leaders in epoch 3",
		},
		"epoch back": {
			setup: func(f []*fakeQuorum) { f[0].st = QuorumStatus{Epoch: 4, ActingEpoch: 4} },
			then:  func(f []*fakeQuorum) { f[0].st = QuorumStatus{Epoch: 3, ActingEpoch: 3} },
			want:  "epoch went back from 4 to 3",
		},
		"hw back": {
			setup: func(f []*fakeQuorum) {
				f[0].entries = entries(1, "a", "b")
				f[0].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2}
			},
			then: func(f []*fakeQuorum) { f[0].st.HW = 1 },
			want: "high watermark went back from 2 to 1",
		},
		"committed record changed on another node": {
			setup: func(f []*fakeQuorum) {
				f[0].entries = entries(1, "a", "b")
				f[0].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2}
			},
			then: func(f []*fakeQuorum) {
				f[1].entries = entries(1, "a", "X")
				f[1].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2}
			},
			want: "committed metadata record at offset 1 differs",
		},
		"committed record lost": {
			setup: func(f []*fakeQuorum) {
				f[0].entries = entries(1, "a", "b")
				f[0].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2}
			},
			then: func(f []*fakeQuorum) { f[0].st.EndOffset = 1 },
			want: "below its high watermark",
		},
		"committed record missing from a log": {
			setup: func(f []*fakeQuorum) {},
			then: func(f []*fakeQuorum) {
				f[2].entries = entries(1, "a")
				f[2].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2}
			},
			want: "are missing",
		},
	}
	for name, tc := range cases {
		q, nodes, fakes := quorumFixture()
		tc.setup(fakes)
		for _, n := range nodes {
			if err := q.check(View{}, n, true); err != nil {
				t.Fatalf("%s: setup failed: %v", name, err)
			}
		}
		tc.then(fakes)
		var err error
		for _, n := range nodes {
			if err = q.check(View{}, n, true); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
}

// After a restart everything the node holds is compared again.
func TestQuorumInvariantsRecheckAfterRestart(t *testing.T) {
	q, nodes, fakes := quorumFixture()
	fakes[0].entries = entries(1, "a", "b")
	fakes[0].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2}
	if err := q.check(View{}, nodes[0], true); err != nil {
		t.Fatal(err)
	}
	fakes[0].entries = entries(1, "a", "Z")
	if err := q.check(View{}, nodes[0], true); err != nil {
		t.Fatalf("unchanged HW re-checked entries already checked: %v", err)
	}
	q.restarted(1)
	if err := q.check(View{}, nodes[0], true); err == nil {
		t.Fatal("a changed committed record survived a restart unnoticed")
	}
}

// A voter that lacks the newest committed record but has a log at least as up to date
// as a majority's durable logs could be elected and lose the record: caught before it
// happens.
func TestQuorumInvariantsCatchAnElectableLaggard(t *testing.T) {
	setup := func(laggard QuorumStatus, laggardLog []QuorumEntry) error {
		q, nodes, fakes := quorumFixture()
		for i := 0; i < 2; i++ {
			fakes[i].entries = entries(1, "a", "b")
			fakes[i].st = QuorumStatus{Epoch: 1, HW: 2, EndOffset: 2, DurableOffset: 2, LastEpoch: 1}
		}
		fakes[2].entries = laggardLog
		fakes[2].st = laggard
		for _, n := range nodes {
			if err := q.check(View{}, n, true); err != nil {
				return err
			}
		}
		return nil
	}
	// Behind: (epoch 1, end 1) cannot beat (epoch 1, end 2).
	if err := setup(QuorumStatus{Epoch: 1, HW: 1, EndOffset: 1, DurableOffset: 1, LastEpoch: 1}, entries(1, "a")); err != nil {
		t.Fatalf("a lagging follower was flagged: %v", err)
	}
	// A divergent entry of a later epoch at offset 1 wins votes and lacks "b".
	diverged := []QuorumEntry{{Offset: 0, Epoch: 1, Data: []byte("a")}, {Offset: 1, Epoch: 2, Data: []byte("x")}}
	err := setup(QuorumStatus{Epoch: 2, HW: 1, EndOffset: 2, DurableOffset: 2, LastEpoch: 2}, diverged)
	if err == nil || !strings.Contains(err.Error(), "could be elected") {
		t.Fatalf("an electable voter lacking a committed record was not flagged: %v", err)
	}
}

// checkElectable skips voters and records it passed on before: with faults, runs must
// find exactly what they find when it looks every time.
func TestElectableMemoryChangesNothing(t *testing.T) {
	seeds := uint64(16)
	if testing.Short() {
		seeds = 4
	}
	run := func(seed uint64, always bool) Result {
		w, err := newWorld(Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		w.checks.quorum.electableAlways = always
		w.run()
		return w.result()
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		a, b := run(seed, false), run(seed, true)
		if a.Fingerprint != b.Fingerprint || (a.Failure == nil) != (b.Failure == nil) ||
			(a.Failure != nil && a.Failure.Error() != b.Failure.Error()) || !maps.Equal(a.Coverage, b.Coverage) {
			t.Fatalf("seed %d: with memory %016x %v, without %016x %v", seed, a.Fingerprint, a.Failure, b.Fingerprint, b.Failure)
		}
	}
}
