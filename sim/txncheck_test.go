package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	txP0 = TopicPartition{"d0", 0}
	txP1 = TopicPartition{"d0", 1}
)

// txnFixture is a small clean history: transaction 1 of tx0 (producer 5, epoch 0)
// commits a1 a2 on d0/0 and b1 on d0/1; transaction 2 aborts a3 on d0/0; a
// read_committed reader reads d0/0 whole and drops a3.
type txnFixture struct {
	ops       []*Op
	final     map[TopicPartition][]LogRecord
	committed map[TopicPartition][]LogRecord
	read      *Op
}

func commitMarker(pid int64, epoch int16) string {
	return markerValue(record.ControlCommit, pid, epoch)
}
func abortMarker(pid int64, epoch int16) string { return markerValue(record.ControlAbort, pid, epoch) }

func data(off int64, v string) LogRecord { return LogRecord{Offset: off, Value: v} }
func marker(off int64, v string) LogRecord {
	return LogRecord{Offset: off, Value: v, Control: true}
}

func txnProduce(id, txn int, tp TopicPartition, pid int64, epoch int16, call, ret, offset int64, values ...string) *Op {
	return &Op{ID: id, Client: 1, Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Values: values, Acks: -1,
		Producer: pid, Epoch: epoch, Call: call, Return: ret, Outcome: OK, Offset: offset, TxnID: "tx0", Txn: txn}
}

func endTxn(id, txn int, commit bool, call, ret int64, outcome Outcome) *Op {
	return &Op{ID: id, Client: 1, Kind: OpEndTxn, TxnID: "tx0", Txn: txn, Commit: commit, Producer: 5, Call: call, Return: ret, Outcome: outcome}
}

func newTxnFixture() *txnFixture {
	f := &txnFixture{}
	f.ops = []*Op{
		{ID: 1, Client: 1, Kind: OpInitProducerID, TxnID: "tx0", Producer: 5, Epoch: 0, Call: 0, Return: 5, Outcome: OK},
		txnProduce(2, 1, txP0, 5, 0, 10, 20, 0, "a1", "a2"),
		txnProduce(3, 1, txP1, 5, 0, 10, 20, 0, "b1"),
		endTxn(4, 1, true, 30, 40, OK),
		txnProduce(5, 2, txP0, 5, 0, 50, 60, 3, "a3"),
		endTxn(6, 2, false, 70, 80, OK),
	}
	f.final = map[TopicPartition][]LogRecord{
		txP0: {data(0, "a1"), data(1, "a2"), marker(2, commitMarker(5, 0)), data(3, "a3"), marker(4, abortMarker(5, 0))},
		txP1: {data(0, "b1"), marker(1, commitMarker(5, 0))},
	}
	f.committed = map[TopicPartition][]LogRecord{txP0: {data(0, "a1"), data(1, "a2")}, txP1: {data(0, "b1")}}
	f.read = &Op{ID: 7, Client: 2, Kind: OpFetch, Topic: "d0", Partition: 0, Offset: 0, Isolation: 1, Call: 90, Return: 95, Outcome: OK,
		HW: 5, LSO: 5, Records: slices.Clone(f.final[txP0]), Hidden: []int64{3}}
	f.ops = append(f.ops, f.read)
	return f
}

func (f *txnFixture) check() []TxnViolation {
	return CheckTxns(&TxnHistory{Ops: f.ops, Final: f.final, Committed: f.committed})
}

func TestCheckTxnsClean(t *testing.T) {
	if vs := newTxnFixture().check(); len(vs) != 0 {
		t.Fatalf("a clean history: %v", vs)
	}
	// A record lost with its marker to damage every in-sync copy had: allowed.
	f := newTxnFixture()
	f.final[txP1] = []LogRecord{{Offset: 0, Fenced: true}, {Offset: 1, Fenced: true}}
	f.committed[txP1] = nil
	if vs := f.check(); len(vs) != 0 {
		t.Fatalf("records and marker declared lost: %v", vs)
	}
	// Only the commit marker lost, and a later transaction's abort marker after it.
	f = newTxnFixture()
	f.final[txP1] = []LogRecord{data(0, "b1"), {Offset: 1, Fenced: true}, marker(2, abortMarker(5, 0))}
	f.committed[txP1] = []LogRecord{data(0, "b1")}
	if vs := f.check(); len(vs) != 0 {
		t.Fatalf("a commit marker declared lost: %v", vs)
	}
	// The final read_committed read met damage the final read did not (the intact copy
	// was out of the ISR by then): the offset it found declared lost is not missing.
	f = newTxnFixture()
	f.committed[txP0] = []LogRecord{data(1, "a2")}
	h := &TxnHistory{Ops: f.ops, Final: f.final, Committed: f.committed,
		CommittedFenced: map[TopicPartition]map[int64]bool{txP0: {0: true}}}
	if vs := CheckTxns(h); len(vs) != 0 {
		t.Fatalf("a committed record at an offset the final read_committed read found declared lost: %v", vs)
	}
	// Another offset declared lost excuses nothing.
	h.CommittedFenced[txP0] = map[int64]bool{1: true}
	if vs := CheckTxns(h); len(vs) != 1 || vs[0].Kind != "final-visible" || !strings.Contains(vs[0].Message, "lacks offset 0") {
		t.Fatalf("a committed record missing beside an offset declared lost: %v", vs)
	}
}

// Each anomaly, planted in the clean history, is reported with its kind.
func TestCheckTxnsAnomalies(t *testing.T) {
	cases := []struct {
		name, kind string
		plant      func(f *txnFixture)
	}{
		{"aborted read", "aborted-read", func(f *txnFixture) { f.read.Hidden = nil }},
		{"dirty read before the commit marker", "dirty-read", func(f *txnFixture) {
			f.read.Records, f.read.Hidden, f.read.HW = []LogRecord{data(0, "a1"), data(1, "a2")}, nil, 2
		}},
		{"dirty read of a transaction never ended", "unresolved", func(f *txnFixture) {
			f.final[txP0] = f.final[txP0][:4] // no abort marker after a3
			f.read.Records, f.read.Hidden = slices.Clone(f.final[txP0]), nil
		}},
		{"lost write", "lost-write", func(f *txnFixture) { f.final[txP1] = nil }},
		{"lost write beside a range declared lost", "lost-write", func(f *txnFixture) {
			f.final[txP1] = []LogRecord{{Offset: 0, Fenced: true}}
			f.ops[2].Offset = 1 // acknowledged at 1, not in the lost range
		}},
		{"commit acknowledged, aborted in the log", "lost-write", func(f *txnFixture) {
			f.final[txP0][2] = marker(2, abortMarker(5, 1))
			f.final[txP1][1] = marker(1, abortMarker(5, 1))
			f.read.Records, f.read.Hidden = slices.Clone(f.final[txP0]), []int64{0, 1, 3}
			f.committed = nil
		}},
		{"mixed outcome", "mixed", func(f *txnFixture) { f.final[txP1][1] = marker(1, abortMarker(5, 1)) }},
		{"duplicate", "duplicate", func(f *txnFixture) {
			f.final[txP1] = []LogRecord{data(0, "b1"), data(1, "b1"), marker(2, commitMarker(5, 0))}
		}},
		{"fractured read", "fractured-read", func(f *txnFixture) { f.read.Hidden = []int64{1, 3} }},
		{"committed record dropped", "committed-dropped", func(f *txnFixture) { f.read.Hidden = []int64{0, 1, 3} }},
		{"aborted visible at the end", "final-visible", func(f *txnFixture) {
			f.committed[txP0] = append(f.committed[txP0], data(3, "a3"))
		}},
		{"committed missing at the end", "final-visible", func(f *txnFixture) { f.committed[txP1] = nil }},
		{"phantom commit", "phantom-commit", func(f *txnFixture) { f.final[txP0][4] = marker(4, commitMarker(5, 0)) }},
		{"zombie write after the abort marker", "late-write", func(f *txnFixture) {
			f.ops = append(f.ops, txnProduce(8, 2, txP0, 5, 0, 85, 86, 5, "a4"))
			f.final[txP0] = append(f.final[txP0], data(5, "a4"), marker(6, commitMarker(5, 1)))
		}},
		{"fenced epoch accepted", "fenced-write", func(f *txnFixture) {
			// Transaction 3 of a new instance (epoch 1) aborted on d0/1, then a batch of
			// epoch 0 came in after it.
			f.ops = append(f.ops, txnProduce(8, 3, txP1, 5, 1, 81, 82, 2, "b2"), txnProduce(9, 2, txP1, 5, 0, 85, 86, 4, "b3"))
			f.final[txP1] = append(f.final[txP1], data(2, "b2"), marker(3, abortMarker(5, 1)), data(4, "b3"), marker(5, abortMarker(5, 1)))
		}},
		{"same id overlapping", "overlap", func(f *txnFixture) {
			f.final[txP0] = []LogRecord{data(0, "a1"), data(1, "a3"), data(2, "a2"), marker(3, commitMarker(5, 0)), marker(4, abortMarker(5, 0))}
			f.read.Records, f.read.Hidden = slices.Clone(f.final[txP0]), nil
		}},
		{"offsets visible before commit", "offsets", func(f *txnFixture) {
			f.ops = append(f.ops, &Op{ID: 8, Client: 1, Kind: OpTxnOffsetCommit, TxnID: "tx0", Txn: 2, Group: "txg-tx0", Call: 55, Return: 56, Outcome: OK,
				Offsets: []PartitionOffset{{txP0, 2}}},
				&Op{ID: 9, Client: 1, Kind: OpTxnOffsetFetch, TxnID: "tx0", Txn: 2, Group: "txg-tx0", Call: 65, Return: 66, Outcome: OK,
					Offsets: []PartitionOffset{{txP0, 2}}})
		}},
		{"aborted offsets visible", "offsets", func(f *txnFixture) {
			f.ops = append(f.ops, &Op{ID: 8, Client: 1, Kind: OpTxnOffsetCommit, TxnID: "tx0", Txn: 2, Group: "txg-tx0", Call: 55, Return: 56, Outcome: OK,
				Offsets: []PartitionOffset{{txP0, 2}}},
				&Op{ID: 9, Client: 1, Kind: OpTxnOffsetFetch, TxnID: "tx0", Group: "txg-tx0", Call: 85, Return: 86, Outcome: OK,
					Offsets: []PartitionOffset{{txP0, 2}}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTxnFixture()
			tc.plant(f)
			vs := f.check()
			if !slices.ContainsFunc(vs, func(v TxnViolation) bool { return v.Kind == tc.kind }) {
				t.Fatalf("want a %s violation, got %v", tc.kind, vs)
			}
		})
	}
}

// Two committed transactions of two ids, each ended on one partition before the other
// began there, in opposite orders on two partitions: a cycle. Interleaved on one of
// them instead, they are not ordered there, and there is none.
func TestCheckTxnsCycle(t *testing.T) {
	ops := []*Op{
		txnProduce(1, 1, txP0, 6, 0, 10, 20, 0, "x1"),
		txnProduce(2, 1, txP1, 6, 0, 10, 20, 2, "x2"),
		endTxn(3, 1, true, 30, 40, OK),
		txnProduce(4, 2, txP0, 7, 0, 10, 20, 2, "y1"),
		txnProduce(5, 2, txP1, 7, 0, 10, 20, 0, "y2"),
		endTxn(6, 2, true, 30, 40, OK),
	}
	ops[3].TxnID, ops[4].TxnID, ops[5].TxnID = "tx1", "tx1", "tx1"
	final := map[TopicPartition][]LogRecord{
		txP0: {data(0, "x1"), marker(1, commitMarker(6, 0)), data(2, "y1"), marker(3, commitMarker(7, 0))},
		txP1: {data(0, "y2"), marker(1, commitMarker(7, 0)), data(2, "x2"), marker(3, commitMarker(6, 0))},
	}
	vs := CheckTxns(&TxnHistory{Ops: ops, Final: final})
	if len(vs) != 1 || vs[0].Kind != "cycle" || !strings.Contains(vs[0].Message, "d0/1") {
		t.Fatalf("want one cycle through d0/0 and d0/1, got %v", vs)
	}
	final[txP1] = []LogRecord{data(0, "y2"), data(1, "x2"), marker(2, commitMarker(7, 0)), marker(3, commitMarker(6, 0))}
	if vs := CheckTxns(&TxnHistory{Ops: ops, Final: final}); len(vs) != 0 {
		t.Fatalf("interleaved transactions are not a cycle: %v", vs)
	}
}

// A read_committed consumer drops an aborted producer's batches from the aborted
// transaction's first offset to its abort marker, and only those.
func TestAbortedOffsets(t *testing.T) {
	w := &World{}
	var b []byte
	add := func(spec record.Spec, values ...string) {
		batch, err := record.Build(spec, valuesOf(values))
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, batch...)
	}
	txn := func(base int64, pid int64, values ...string) {
		add(record.Spec{BaseOffset: base, ProducerID: pid, ProducerEpoch: 0, BaseSequence: 0, Transactional: true}, values...)
	}
	end := func(base, pid int64, commit bool) {
		batch, err := record.BuildEndTxn(record.Spec{BaseOffset: base, ProducerID: pid, ProducerEpoch: 0, BaseSequence: -1}, commit, 0)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, batch...)
	}
	txn(0, 5, "a1", "a2")                                 // 0-1: aborted
	txn(2, 6, "b1")                                       // 2: committed
	end(3, 5, false)                                      // 3
	add(record.Spec{BaseOffset: 4}.NoProducer(), "plain") // 4
	end(5, 6, true)                                       // 5
	txn(6, 5, "a3")                                       // 6: committed, same producer
	end(7, 5, true)                                       // 7
	recs, batches, next, err := w.decodeBatches(b, 0, true)
	if err != nil || next != 8 || len(recs) != 8 {
		t.Fatalf("decoded %v next %d err %v", recs, next, err)
	}
	if !recs[3].Control || recs[3].Value != abortMarker(5, 0) || recs[7].Value != commitMarker(5, 0) {
		t.Fatalf("markers decoded as %v and %v", recs[3], recs[7])
	}
	aborted := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 5, FirstOffset: 0}}
	if got := abortedOffsets(recs, batches, aborted); !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("dropped %v, want [0 1]", got)
	}
	if got := abortedOffsets(recs, batches, nil); len(got) != 0 {
		t.Fatalf("nothing listed aborted, yet dropped %v", got)
	}
}

// A coordinator's Prepare that lists a partition the producer's current transaction
// never added says an earlier end was lost; one within it passes.
func TestCheckPrepared(t *testing.T) {
	w := &World{}
	w.data = &dataWorkload{w: w}
	w.cov = Coverage{}
	d := w.data
	d.txnBegun = []txnBegin{{num: 1, id: "tx0", at: 10, parts: []TopicPartition{txP0, txP1}}, {num: 2, id: "tx0", at: 50, parts: []TopicPartition{txP0}}}
	w.now = 40
	w.noteTxnPrepare(`txn-prepare-commit: "tx0" producer 5 epoch 0 at 1767225600640 ms d0/0 d0/1`)
	w.now = 60
	w.noteTxnPrepare(`txn-prepare-abort: "tx0" producer 5 epoch 0 at 1767225600700 ms d0/0 __consumer_offsets/3`)
	if len(d.txnPrepared) != 2 || !d.txnPrepared[0].commit || d.txnPrepared[1].commit || len(d.txnPrepared[1].parts) != 2 {
		t.Fatalf("parsed %+v", d.txnPrepared)
	}
	if msg := d.checkPrepared(); msg != "" {
		t.Fatalf("ends within their transactions: %s", msg)
	}
	w.now = 70
	w.noteTxnPrepare(`txn-prepare-commit: "tx0" producer 5 epoch 0 at 1767225600800 ms d0/0 d0/1`)
	if msg := d.checkPrepared(); !strings.HasPrefix(msg, "coordinator-lost-end") {
		t.Fatalf("transaction 2 never added d0/1: got %q", msg)
	}
}

// An EndTxn that a prepare note answered updated its id, so an expiry less than the
// expiration after its call is early; one that no note answered repeated an end already
// complete and wrote nothing, so it says nothing of when the id may expire.
func TestExpiryAfterEndTxn(t *testing.T) {
	const exp = time.Second
	check := func(prepared bool) bool {
		w := &World{cov: Coverage{}}
		w.cfg.Data.TxnIDExpiration = exp
		w.data = &dataWorkload{w: w}
		d := w.data
		end := &Op{ID: 1, Kind: OpEndTxn, TxnID: "tx0", Outcome: OK, Call: 100, Return: 200, Local: 100}
		if prepared {
			w.now = 150
			w.noteTxnPrepare(`txn-prepare-abort: "tx0" producer 5 epoch 0 at 1767225600700 ms d0/0`)
		}
		// The coordinator's record says it was last updated long before: only the
		// EndTxn's write, if it made one, makes the expiry early.
		d.txnExpired = []txnExpiry{{at: 300, node: 1, local: 300, id: "tx0", updateMs: 0, atMs: 5000}}
		_, bad := d.checkExpired([]*Op{end})
		return bad
	}
	if !check(true) {
		t.Fatal("an expiry 200ns after an EndTxn that wrote the id's record passed")
	}
	if check(false) {
		t.Fatal("an EndTxn that wrote nothing made a later expiry early")
	}
}
