package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/traces"
)

// A partition history: two produces committed in order, reads seeing each step.
func partitionHistory() ([]*Op, map[TopicPartition][]LogRecord) {
	ops := []*Op{
		{ID: 1, Client: 1, Kind: OpProduce, Topic: "d", Values: []string{"a", "b"}, Acks: -1, Call: 10, Return: 20, Outcome: OK, Offset: 0},
		{ID: 2, Client: 2, Kind: OpFetch, Topic: "d", Call: 21, Return: 22, Outcome: OK, HW: 2},
		{ID: 3, Client: 1, Kind: OpProduce, Topic: "d", Values: []string{"c"}, Acks: 1, Call: 30, Return: 31, Outcome: OK, Offset: 2},
		{ID: 4, Client: 2, Kind: OpListOffsets, Topic: "d", ListAt: -1, Call: 40, Return: 41, Outcome: OK, Offset: 3},
		{ID: 5, Client: 3, Kind: OpProduce, Topic: "d", Values: []string{"x"}, Acks: -1, Call: 42, Return: Never, Outcome: Indeterminate},
		{ID: 6, Client: 2, Kind: OpFetch, Topic: "d", Call: 50, Return: 51, Outcome: OK, HW: 3},
	}
	final := map[TopicPartition][]LogRecord{{"d", 0}: {{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}, {Offset: 2, Value: "c"}}}
	return ops, final
}

func TestPartitionModelAcceptsLinearizableHistory(t *testing.T) {
	ops, final := partitionHistory()
	res := CheckPartitions(ops, final, time.Second)
	if res.Illegal != "" || res.Checked != 1 || len(res.Unknown) != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestPartitionModelRejectsStaleAndEarlyReads(t *testing.T) {
	cases := map[string]func(ops []*Op){
		// a read that began after the acknowledgement of [0,2) sees less
		"stale read": func(ops []*Op) { ops[1].HW = 1 },
		// a read sees a high watermark that was never the committed length
		"mid-batch": func(ops []*Op) { ops[5].HW = 1 },
		// a read sees a batch committed before it was even produced
		"read from the future": func(ops []*Op) { ops[1].HW = 3 },
		// the high watermark goes back between two reads of different clients
		"backwards": func(ops []*Op) { ops[5].Client, ops[5].HW = 4, 2 },
	}
	for name, mutate := range cases {
		ops, final := partitionHistory()
		mutate(ops)
		if res := CheckPartitions(ops, final, time.Second); res.Illegal == "" {
			t.Errorf("%s: not caught", name)
		}
	}
}

func TestOffsetsModel(t *testing.T) {
	tp := TopicPartition{"d", 0}
	commit := func(id int, call, ret int64, outcome Outcome, off int64) *Op {
		return &Op{ID: id, Client: 1, Kind: OpCommit, Group: "g", Call: call, Return: ret, Outcome: outcome, Offsets: []PartitionOffset{{tp, off}}}
	}
	fetch := func(id int, call, ret int64, off int64) *Op {
		return &Op{ID: id, Client: 2, Kind: OpOffsetFetch, Group: "g", Call: call, Return: ret, Outcome: OK, Offsets: []PartitionOffset{{tp, off}}}
	}
	good := []*Op{fetch(1, 0, 1, -1), commit(2, 2, 3, OK, 5), fetch(3, 4, 5, 5), commit(4, 6, Never, Indeterminate, 9), fetch(5, 7, 8, 5), fetch(6, 9, 10, 9)}
	if res := CheckOffsets(good, nil, time.Second); res.Illegal != "" || res.Checked != 1 {
		t.Fatalf("good history: %+v", res)
	}
	// A commit acknowledged and then lost: a later fetch reads the older value.
	lost := []*Op{commit(1, 0, 1, OK, 5), commit(2, 2, 3, OK, 7), fetch(3, 4, 5, 5)}
	if res := CheckOffsets(lost, nil, time.Second); res.Illegal == "" {
		t.Fatal("a lost commit was not caught")
	}
	// A refused commit writes nothing.
	refused := []*Op{commit(1, 0, 1, Failed, 5), fetch(2, 2, 3, 5)}
	if res := CheckOffsets(refused, nil, time.Second); res.Illegal == "" {
		t.Fatal("a refused commit that took effect was not caught")
	}
	del := func(id int, call, ret int64, outcome Outcome, code int16) *Op {
		return &Op{ID: id, Client: 3, Kind: OpOffsetDelete, Group: "g", Call: call, Return: ret, Outcome: outcome,
			Offsets: []PartitionOffset{{tp, -1}}, Codes: []int16{code}}
	}
	// A deletion answered NONE writes -1: the offset must not come back.
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), del(2, 2, 3, OK, errNone), fetch(3, 4, 5, -1)}, nil, time.Second); res.Illegal != "" {
		t.Fatalf("a deletion read as deleted: %+v", res)
	}
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), del(2, 2, 3, OK, errNone), fetch(3, 4, 5, 5)}, nil, time.Second); res.Illegal == "" {
		t.Fatal("an offset back after its acknowledged deletion was not caught")
	}
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), del(2, 2, 3, OK, errGroupSubscribedToTopic), fetch(3, 4, 5, -1)}, nil, time.Second); res.Illegal == "" {
		t.Fatal("a refused deletion that took effect was not caught")
	}
	// An expiry writes -1 between its decision and its tombstones being durable.
	expired := func(at, done int64) []*OffsetExpiry {
		return []*OffsetExpiry{{Group: "g", Offsets: []TopicPartition{tp}, At: at, Done: done}}
	}
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), fetch(2, 4, 5, -1)}, expired(2, 3), time.Second); res.Illegal != "" {
		t.Fatalf("an expired offset read as gone: %+v", res)
	}
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), fetch(2, 4, 5, 5)}, expired(2, 3), time.Second); res.Illegal == "" {
		t.Fatal("an offset back after its durable expiry was not caught")
	}
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), fetch(2, 2, 3, -1)}, expired(4, Never), time.Second); res.Illegal == "" {
		t.Fatal("an offset gone before any expiry was decided was not caught")
	}
	if res := CheckOffsets([]*Op{commit(1, 0, 1, OK, 5), fetch(2, 4, 5, 5), fetch(3, 8, 9, -1)}, expired(2, Never), time.Second); res.Illegal != "" {
		t.Fatalf("an expiry of unknown outcome taking effect late: %+v", res)
	}
}

func TestCheckLogFindsNewKinds(t *testing.T) {
	base := func() *LogHistory {
		return &LogHistory{
			Produces: []LogProduce{
				{Client: 1, Partition: "t/0", Value: "a", Call: 1, Return: 2, Outcome: OK, Offset: 0, Batch: 7, Index: 0},
				{Client: 1, Partition: "t/0", Value: "b", Call: 1, Return: 2, Outcome: OK, Offset: 1, Batch: 7, Index: 1},
				{Client: 2, Partition: "t/0", Value: "c", Call: 3, Return: 4, Outcome: OK, Offset: 2, Weak: true},
			},
			Fetches:  []LogFetch{{Client: 3, Partition: "t/0", Call: 5, Return: 6, Records: []LogRecord{{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}}, HW: 2}},
			Earliest: []LogEarliest{{Client: 3, Partition: "t/0", Call: 7, Offset: 0}},
			Final:    map[string][]LogRecord{"t/0": {{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}, {Offset: 2, Value: "c"}}},
			FinalHW:  map[string]int64{"t/0": 3},
		}
	}
	if vs := CheckLog(base()); len(vs) != 0 {
		t.Fatalf("clean history flagged:\n%s", FormatLogViolations(vs))
	}
	cases := []struct {
		kind   string
		mutate func(h *LogHistory)
	}{
		{"gap", func(h *LogHistory) {
			h.Final["t/0"] = []LogRecord{{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}, {Offset: 3, Value: "c"}}
		}},
		{"gap", func(h *LogHistory) { h.FinalHW["t/0"] = 4 }},
		{"torn", func(h *LogHistory) {
			h.Final["t/0"] = []LogRecord{{Offset: 0, Value: "a"}, {Offset: 1, Value: "c"}, {Offset: 2, Value: "b"}}
			h.Fetches = nil
			h.Produces[1].Offset, h.Produces[2].Offset = -1, -1
		}},
		{"torn", func(h *LogHistory) {
			h.Final["t/0"] = []LogRecord{{Offset: 0, Value: "a"}}
			h.FinalHW["t/0"] = 1
			h.Fetches = nil
			h.Produces[1].Outcome = Indeterminate
			h.Produces[2].Outcome = Indeterminate
		}},
		{"above-hw", func(h *LogHistory) { h.Fetches[0].HW = 1 }},
		{"lost-read", func(h *LogHistory) {
			h.Fetches = append(h.Fetches, LogFetch{Client: 3, Partition: "t/0", Call: 8, Return: 9, Records: []LogRecord{{Offset: 3, Value: "d"}}, HW: 4})
			h.Produces = append(h.Produces, LogProduce{Client: 2, Partition: "t/0", Value: "d", Call: 7, Return: Never, Outcome: Indeterminate})
		}},
		{"backwards", func(h *LogHistory) {
			h.Fetches = append(h.Fetches, LogFetch{Client: 4, Partition: "t/0", Call: 8, Return: 9, HW: 5})
		}},
		{"phantom", func(h *LogHistory) { h.Produces[2].Outcome = Failed }},
		{"earliest", func(h *LogHistory) { h.Earliest[0].Offset = 1 }},
	}
	for _, tc := range cases {
		h := base()
		tc.mutate(h)
		found := false
		for _, v := range CheckLog(h) {
			found = found || v.Kind == tc.kind
		}
		if !found {
			t.Errorf("%s not found; got:\n%s", tc.kind, FormatLogViolations(CheckLog(h)))
		}
	}
	// A weak acknowledgement may be lost; a strong one may not.
	h := base()
	h.Final["t/0"], h.FinalHW["t/0"] = h.Final["t/0"][:2], 2
	for _, v := range CheckLog(h) {
		t.Errorf("an acks=1 record's loss was flagged: %v", v)
	}
	h.Produces[1].Outcome, h.Final["t/0"], h.FinalHW["t/0"] = OK, h.Final["t/0"][:1], 1
	h.Fetches = nil
	lost := false
	for _, v := range CheckLog(h) {
		lost = lost || v.Kind == "lost"
	}
	if !lost {
		t.Error("an acks=all record's loss was not flagged")
	}
}

// testWorld is the least of a world the group and partition checks need.
func testWorld() *World {
	return &World{rec: traces.NewRecorder(false), cov: Coverage{}, opts: Options{Inspect: &Inspect{}}}
}

func TestGroupChecksCatchOverlapsAndStaleCommits(t *testing.T) {
	w := testWorld()
	g := &groupRun{w: w, spec: GroupSpec{Name: "g"}, views: map[int32]map[string][]TopicPartition{}, processed: map[TopicPartition][]span{}}
	g.synced(nil, &Op{ID: 1, Member: "m1", Generation: 1, Assigned: tps("t0/0", "t0/1"), Return: 10})
	w.now = 10
	g.synced(nil, &Op{ID: 2, Member: "m2", Generation: 1, Assigned: tps("t0/2"), Return: 11})
	if w.failure != nil {
		t.Fatalf("disjoint assignments flagged: %v", w.failure)
	}
	g.committed(&Op{ID: 3, Generation: 1, Call: 12})
	if w.failure != nil {
		t.Fatalf("a current commit flagged: %v", w.failure)
	}
	w.now = 20
	g.synced(nil, &Op{ID: 4, Member: "m1", Generation: 2, Assigned: tps("t0/0"), Return: 20})
	g.committed(&Op{ID: 5, Generation: 1, Call: 19})
	if w.failure != nil {
		t.Fatalf("a commit that began before the new generation flagged: %v", w.failure)
	}
	g.committed(&Op{ID: 6, Generation: 1, Call: 21})
	if w.failure == nil || w.failure.Checker != "groups" || !strings.Contains(w.failure.Message, "generation 1") {
		t.Fatalf("stale commit: %v", w.failure)
	}

	w = testWorld()
	g = &groupRun{w: w, spec: GroupSpec{Name: "g"}, views: map[int32]map[string][]TopicPartition{}}
	g.synced(nil, &Op{ID: 1, Member: "m1", Generation: 3, Assigned: tps("t0/0")})
	g.synced(nil, &Op{ID: 2, Member: "m2", Generation: 3, Assigned: tps("t0/0")})
	if w.failure == nil || !strings.Contains(w.failure.Message, "assigned to m1 and to m2") {
		t.Fatalf("overlap: %v", w.failure)
	}
	// A static member that restarts keeps its assignment under a new member id.
	w = testWorld()
	g = &groupRun{w: w, spec: GroupSpec{Name: "g"}, views: map[int32]map[string][]TopicPartition{}}
	g.synced(nil, &Op{ID: 1, Member: "m1", Instance: "i0", Generation: 3, Assigned: tps("t0/0")})
	g.synced(nil, &Op{ID: 2, Member: "m9", Instance: "i0", Generation: 3, Assigned: tps("t0/0")})
	if w.failure != nil {
		t.Fatalf("a static member's new id flagged: %v", w.failure)
	}
}

// fakeData is a machine whose replicas and lease a test sets directly.
type fakeData struct {
	Machine
	reps  []ReplicaView
	lease bool
}

// dataFixtureInPlace makes dataFixture offer Inspect.ReplicaViews, so that the checks
// run on the path that compares replicas in place.
var dataFixtureInPlace bool

func dataFixture(async bool) (*dataInvariants, []*simNode, []*fakeData) {
	w := testWorld()
	w.opts.Inspect = &Inspect{
		Replicas:   func(m Machine, dst []ReplicaView) []ReplicaView { return append(dst[:0], m.(*fakeData).reps...) },
		LeaseValid: func(m Machine, now int64) bool { return m.(*fakeData).lease },
	}
	if dataFixtureInPlace {
		w.opts.Inspect.ReplicaViews = func(m Machine, dst []ReplicaView) []ReplicaView {
			return append(dst[:0], m.(*fakeData).reps...)
		}
	}
	w.cfg.Data.FlushAsync = async
	var nodes []*simNode
	var ms []*fakeData
	for id := int32(1); id <= 3; id++ {
		m := &fakeData{}
		n := &simNode{w: w, spec: NodeSpec{ID: id, Broker: true}, m: m, up: true}
		w.nodes = append(w.nodes, n)
		nodes, ms = append(nodes, n), append(ms, m)
	}
	return newDataInvariants(w, newDurableTruth()), nodes, ms
}

// stepCheck runs the invariants as after n took an input: the fixtures change a node's
// replicas directly, not through an input.
func stepCheck(d *dataInvariants, n *simNode) error {
	n.unchecked = true
	return d.check(n)
}

func replica(leader bool, epoch int32, hw, leo, durable int64, isr ...int32) ReplicaView {
	return ReplicaView{Topic: "d", TopicID: [16]byte{1}, Leader: leader, Follower: !leader, LeaderEpoch: epoch,
		HW: hw, LEO: leo, Durable: durable, ISR: isr, Epochs: []disk.EpochEntry{{Epoch: 0, StartOffset: 0}}}
}

// The invariants catch the same violations whether the replicas are compared whole or
// in place.
func TestDataInvariants(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		dataFixtureInPlace = inPlace
		t.Run(map[bool]string{false: "whole", true: "in-place"}[inPlace], testDataInvariants)
	}
	dataFixtureInPlace = false
}

func testDataInvariants(t *testing.T) {
	d, nodes, ms := dataFixture(false)
	ms[0].reps = []ReplicaView{replica(true, 1, 5, 6, 6, 1, 2)}
	ms[1].reps = []ReplicaView{replica(false, 1, 4, 6, 6, 1, 2)}
	ms[0].lease = true
	for _, n := range nodes[:2] {
		if err := stepCheck(d, n); err != nil {
			t.Fatalf("healthy replicas flagged: %v", err)
		}
	}
	// The follower holds less than the leader's HW durably while in its ISR.
	ms[1].reps = []ReplicaView{replica(false, 1, 4, 6, 3, 1, 2)}
	if err := stepCheck(d, nodes[1]); err == nil || !strings.Contains(err.Error(), "durably holds only up to 3") {
		t.Fatalf("ISR member behind the HW: %v", err)
	}
	// Unless the leader's lease ended: its ISR speaks for nobody until it hears from
	// the controller again.
	ms[0].lease = false
	if err := stepCheck(d, nodes[1]); err != nil {
		t.Fatalf("an ISR member behind a leader whose lease ended: %v", err)
	}
	// Or the member knows a later partition state without it in the ISR: it was
	// removed (and added back, empty) while the leader did not hear of it.
	d, nodes, ms = dataFixture(false)
	ms[0].reps = []ReplicaView{replica(true, 1, 5, 6, 6, 1, 2)}
	ms[0].lease = true
	gone := replica(false, 1, 0, 0, 0, 1)
	gone.PartitionEpoch = 1
	ms[1].reps = []ReplicaView{gone}
	_ = stepCheck(d, nodes[0])
	if err := stepCheck(d, nodes[1]); err != nil {
		t.Fatalf("a member a later partition state took out of the ISR, against the leader's stale ISR: %v", err)
	}
	gone.PartitionEpoch, gone.ISR = 0, []int32{1}
	ms[1].reps = []ReplicaView{gone}
	if err := stepCheck(d, nodes[1]); err == nil || !strings.Contains(err.Error(), "durably holds only up to 0") {
		t.Fatalf("a member out of the ISR at the same partition epoch as the leader: %v", err)
	}

	d, nodes, ms = dataFixture(false)
	ms[0].reps = []ReplicaView{replica(true, 2, 5, 6, 6, 1)}
	ms[1].reps = []ReplicaView{replica(true, 2, 5, 6, 6, 2)}
	_ = stepCheck(d, nodes[0])
	if err := stepCheck(d, nodes[1]); err == nil || !strings.Contains(err.Error(), "two leaders in leader epoch 2") {
		t.Fatalf("two leaders: %v", err)
	}

	d, nodes, ms = dataFixture(false)
	ms[0].reps = []ReplicaView{replica(true, 2, 5, 6, 6, 1)}
	ms[1].reps = []ReplicaView{replica(true, 3, 0, 6, 6, 2)}
	ms[0].lease, ms[1].lease = true, true
	_ = stepCheck(d, nodes[0])
	if err := stepCheck(d, nodes[1]); err == nil || !strings.Contains(err.Error(), "valid leases") {
		t.Fatalf("overlapping leases: %v", err)
	}

	d, nodes, ms = dataFixture(false)
	ms[0].reps = []ReplicaView{replica(true, 2, 5, 6, 6, 1)}
	_ = stepCheck(d, nodes[0])
	ms[0].reps = []ReplicaView{replica(true, 2, 4, 6, 6, 1)}
	if err := stepCheck(d, nodes[0]); err == nil || !strings.Contains(err.Error(), "went back from 5 to 4") {
		t.Fatalf("HW back: %v", err)
	}

	d, nodes, ms = dataFixture(false)
	a, b := replica(false, 3, 8, 8, 8), replica(false, 3, 6, 8, 8)
	a.Epochs = []disk.EpochEntry{{Epoch: 0, StartOffset: 0}, {Epoch: 2, StartOffset: 4}}
	b.Epochs = []disk.EpochEntry{{Epoch: 0, StartOffset: 0}, {Epoch: 1, StartOffset: 4}}
	ms[0].reps, ms[1].reps = []ReplicaView{a}, []ReplicaView{b}
	_ = stepCheck(d, nodes[0])
	if err := stepCheck(d, nodes[1]); err == nil || !strings.Contains(err.Error(), "disagree below offset 6") {
		t.Fatalf("diverging logs: %v", err)
	}
	// Above the smaller HW they may differ.
	b.Epochs = []disk.EpochEntry{{Epoch: 0, StartOffset: 0}, {Epoch: 1, StartOffset: 7}}
	b.HW = 4
	d, nodes, ms = dataFixture(false)
	ms[0].reps, ms[1].reps = []ReplicaView{a}, []ReplicaView{b}
	_ = stepCheck(d, nodes[0])
	if err := stepCheck(d, nodes[1]); err != nil {
		t.Fatalf("logs diverging above the smaller HW flagged: %v", err)
	}

	// log.flush=async allows followers behind the HW after a power loss.
	d, nodes, ms = dataFixture(true)
	ms[0].reps = []ReplicaView{replica(true, 1, 5, 6, 6, 1, 2)}
	ms[1].reps = []ReplicaView{replica(false, 1, 3, 3, 3, 1, 2)}
	for _, n := range nodes[:2] {
		if err := stepCheck(d, n); err != nil {
			t.Fatalf("async mode: %v", err)
		}
	}
}

// A node that took no input since its last check (it drained) is not read again: what
// the check would find is what the last one found. A lease that became valid again
// without an input (the node's clock jumped back) still has its leaders checked.
func TestDataInvariantsSkipANodeWithoutInput(t *testing.T) {
	d, nodes, ms := dataFixture(false)
	ms[0].reps = []ReplicaView{replica(true, 2, 5, 6, 6, 1)}
	ms[1].reps = []ReplicaView{replica(true, 3, 0, 6, 6, 2)}
	ms[1].lease = true
	if err := stepCheck(d, nodes[0]); err != nil {
		t.Fatalf("first check: %v", err)
	}
	if err := stepCheck(d, nodes[1]); err != nil {
		t.Fatalf("first check: %v", err)
	}
	// Without an input the replicas are not read: a change made behind the check's back
	// goes unseen.
	ms[0].reps = []ReplicaView{replica(true, 3, 5, 6, 6, 1)}
	if err := d.check(nodes[0]); err != nil {
		t.Fatalf("a node without input was read again: %v", err)
	}
	// A lease valid again makes the leaders overlap with node 2's: checked.
	ms[0].reps = []ReplicaView{replica(true, 2, 5, 6, 6, 1)}
	ms[0].lease = true
	if err := d.check(nodes[0]); err == nil || !strings.Contains(err.Error(), "valid leases") {
		t.Fatalf("renewed lease without input: %v", err)
	}
}

func TestDataInvariantsCheckCoordinators(t *testing.T) {
	d, nodes, _ := dataFixture(false)
	views := []CoordinatorView{{Partition: 0, Serving: true, Groups: []GroupView{{ID: "g", Generation: 4, Members: []GroupMemberView{
		{ID: "a", Assignment: encodeAssignment(tps("t0/0"))}, {ID: "b", Assignment: encodeAssignment(tps("t0/1"))}}}}}}
	d.w.opts.Inspect.Groups = func(Machine) []CoordinatorView { return views }
	d.groupsDue[0] = true
	if err := stepCheck(d, nodes[0]); err != nil {
		t.Fatalf("healthy coordinator flagged: %v", err)
	}
	// Another coordinator (after a failover) hands generation 4 out again, differently.
	views = []CoordinatorView{{Partition: 0, Serving: true, Groups: []GroupView{{ID: "g", Generation: 4, Members: []GroupMemberView{
		{ID: "c", Assignment: encodeAssignment(tps("t0/0", "t0/1"))}}}}}}
	d.groupsDue[1] = true
	if err := stepCheck(d, nodes[1]); err == nil || !strings.Contains(err.Error(), "owned by a and by c") {
		t.Fatalf("generation reused: %v", err)
	}
}

// A view copied in place shares no slice with the node's replica: coreReplicas later
// reuses a view's slices for other replicas, and would write into the node's state.
func TestSetViewCopiesEverySlice(t *testing.T) {
	src := replica(true, 1, 5, 6, 6, 1, 2)
	src.Fences = []disk.Fence{{From: 16, To: 20, Kind: disk.FenceDamaged}}
	var dst ReplicaView
	setView(&dst, &src)
	dst.ISR[0], dst.Epochs[0].Epoch, dst.Fences[0].From = 9, 9, 0
	if src.ISR[0] != 1 || src.Epochs[0].Epoch != 0 || src.Fences[0].From != 16 {
		t.Fatalf("the copy writes into its source: %+v", src)
	}
}

// An acks=all answer is judged when its leader's high watermark passed its offsets
// (checkAdvance), not again when it leaves: answers wait behind earlier ones of their
// connection, and a follower may have cut its log to repair damage meanwhile.
func TestAnswerJudgedWhenItsHighWatermarkPassed(t *testing.T) {
	d, nodes, ms := dataFixture(false)
	lead := replica(true, 1, 5, 6, 6, 1, 2)
	ms[0].reps = []ReplicaView{lead}
	if err := stepCheck(d, nodes[0]); err != nil {
		t.Fatal(err)
	}
	rv := &ms[0].reps[0]
	if !d.checkedThrough(nodes[0], rv, 5) {
		t.Fatal("an answer up to the checked high watermark is judged again")
	}
	if d.checkedThrough(nodes[0], rv, 6) {
		t.Fatal("an answer past the checked high watermark is not judged")
	}
	later := lead
	later.LeaderEpoch = 2
	if d.checkedThrough(nodes[0], &later, 5) {
		t.Fatal("a high watermark checked in an earlier leader epoch excuses an answer")
	}
}
