package sim

import (
	"slices"
	"strings"
	"testing"
)

var (
	ctpIn0  = TopicPartition{"ci", 0}
	ctpIn1  = TopicPartition{"ci", 1}
	ctpOut0 = TopicPartition{"co", 0}
)

// ctpFixture is a small clean history: the input holds a b on ci/0 and c on ci/1
// (read_committed); transaction 1 transformed ci/0 [0, 2) and committed, transaction 2
// transformed ci/1 [0, 1) and aborted, transaction 3 did it again and committed. The
// group committed ci/0 at 2 and ci/1 at 1; the output has another producer's record too.
type ctpFixture struct {
	h *CTPHistory
}

func ctpEnd(id, txn int, commit bool, outcome Outcome) *Op {
	return &Op{ID: id, Client: 1, Kind: OpEndTxn, TxnID: "ctp-0", Txn: txn, Commit: commit, Producer: 5, Outcome: outcome}
}

func newCTPFixture() *ctpFixture {
	ops := []*Op{ctpEnd(1, 1, true, OK), ctpEnd(2, 2, false, OK), ctpEnd(3, 3, true, OK)}
	return &ctpFixture{h: &CTPHistory{
		Ops:   ops,
		Input: "ci", Output: "co",
		Committed: map[TopicPartition][]LogRecord{
			ctpIn0:  {data(0, "a"), data(1, "b")},
			ctpIn1:  {data(1, "c")}, // offset 0 holds an aborted input transaction's record
			ctpOut0: {data(0, "x1/ci/0/0:a"), data(1, "x1/ci/0/1:b"), data(4, "p1-7"), data(5, "x3/ci/1/1:c")},
		},
		Start:   map[TopicPartition]int64{},
		Fenced:  map[TopicPartition]map[int64]bool{},
		Unread:  map[TopicPartition]bool{},
		Offsets: map[TopicPartition]int64{ctpIn0: 2, ctpIn1: 2},
	}}
}

func (f *ctpFixture) kinds() []string {
	var out []string
	for _, v := range CheckCTP(f.h) {
		out = append(out, v.Kind)
	}
	return out
}

func TestCTPCleanHistory(t *testing.T) {
	if vs := CheckCTP(newCTPFixture().h); len(vs) != 0 {
		t.Fatalf("clean history reported %v", vs)
	}
}

func TestCTPCheckerCatches(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(h *CTPHistory)
		want   string
	}{
		{"an input record skipped", func(h *CTPHistory) {
			h.Committed[ctpOut0] = h.Committed[ctpOut0][1:]
		}, "ctp-lost"},
		{"an input record transformed twice", func(h *CTPHistory) {
			h.Committed[ctpOut0] = append(h.Committed[ctpOut0], data(7, "x4/ci/0/1:b"))
			h.Ops = append(h.Ops, ctpEnd(4, 4, true, OK))
		}, "ctp-duplicate"},
		{"output of an aborted input record", func(h *CTPHistory) {
			h.Committed[ctpOut0] = append(h.Committed[ctpOut0], data(7, "x3/ci/1/0:z"))
		}, "ctp-phantom"},
		{"output naming a different value", func(h *CTPHistory) {
			h.Committed[ctpOut0][1] = data(1, "x1/ci/0/1:q")
		}, "ctp-phantom"},
		{"output of an acknowledged abort", func(h *CTPHistory) {
			h.Committed[ctpOut0] = append(h.Committed[ctpOut0], data(7, "x2/ci/1/5:c"))
		}, "ctp-aborted"},
		{"output of a transaction never committed", func(h *CTPHistory) {
			h.Ops = h.Ops[1:]
		}, "ctp-aborted"},
		{"output beyond the committed offsets", func(h *CTPHistory) {
			h.Offsets[ctpIn0] = 1
		}, "ctp-ahead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newCTPFixture()
			tc.mutate(f.h)
			if got := f.kinds(); !strings.Contains(strings.Join(got, " "), tc.want) {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// Where the reads cannot tell, the checker holds nothing against the history: an
// output partition that lost a range, an input offset declared lost, an input
// partition no final read reached.
func TestCTPCheckerUnjudged(t *testing.T) {
	f := newCTPFixture()
	f.h.Committed[ctpOut0] = f.h.Committed[ctpOut0][1:]
	f.h.Fenced[ctpOut0] = map[int64]bool{0: true}
	if vs := CheckCTP(f.h); len(vs) != 0 {
		t.Fatalf("an output range declared lost: %v", vs)
	}
	f = newCTPFixture()
	f.h.Committed[ctpIn0] = f.h.Committed[ctpIn0][1:]
	f.h.Fenced[ctpIn0] = map[int64]bool{0: true}
	if vs := CheckCTP(f.h); len(vs) != 0 {
		t.Fatalf("an input offset declared lost: %v", vs)
	}
	f = newCTPFixture()
	f.h.Committed[ctpOut0] = append(f.h.Committed[ctpOut0], data(7, "x2/ci/1/1:c"))
	f.h.Fenced[ctpOut0] = map[int64]bool{8: true}
	if vs := CheckCTP(f.h); len(vs) != 0 {
		t.Fatalf("an aborted transaction's output before a lost range (its marker's): %v", vs)
	}
	f.h.Fenced[ctpOut0] = map[int64]bool{6: true}
	if got := f.kinds(); !slices.Contains(got, "ctp-aborted") {
		t.Fatalf("an aborted transaction's output after the only lost range: got %v, want ctp-aborted", got)
	}
	f = newCTPFixture()
	delete(f.h.Committed, ctpIn1)
	f.h.Unread[ctpIn1] = true
	if vs := CheckCTP(f.h); len(vs) != 0 {
		t.Fatalf("an input partition unread: %v", vs)
	}
}

func TestParseCTPValue(t *testing.T) {
	ref, ok := parseCTPValue("x12/ci/3/45:c4-88")
	if !ok || ref.txn != 12 || ref.in != (TopicPartition{"ci", 3}) || ref.offset != 45 || ref.value != "c4-88" {
		t.Fatalf("got %+v %v", ref, ok)
	}
	for _, v := range []string{"c4-88", "x1/ci/0:a", "xa/ci/0/1:a", "x1/ci/0/1", "probe-3", "t5-6"} {
		if _, ok := parseCTPValue(v); ok {
			t.Errorf("%q parsed", v)
		}
	}
}
