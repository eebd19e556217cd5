package txn

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
)

// TestReloadMidPrepareCommit: the coordinator fails over with a commit's markers
// unanswered; the next one loads the PrepareCommit record, sends the markers again with
// its own coordinator epoch and completes the commit.
func TestReloadMidPrepareCommit(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0, 1)...)
	other, _ := h.begin("other", tps("u", 0)...)
	h.markers.auto = false
	wantCode(t, "EndTxn", h.end("tx", pid, epoch, true).get(), codeNone)
	h.failover(testEpoch + 1)
	if h.c.Phase() != "serving" {
		t.Fatalf("phase %s", h.c.Phase())
	}
	if len(h.markers.pending) != 1 {
		t.Fatalf("%d rounds resumed, want 1", len(h.markers.pending))
	}
	want := MarkerRequest{ProducerID: pid, ProducerEpoch: epoch, Commit: true, CoordinatorEpoch: testEpoch + 1, Partitions: tps("t", 0, 1)}
	if got := h.markers.pending[0].req; !equalMarkers(got, want) {
		t.Fatalf("resumed markers %+v, want %+v", got, want)
	}
	wantCode(t, "commit retried during the resumed markers", h.end("tx", pid, epoch, true).get(), codeConcurrentTransactions)
	h.markers.answerAll()
	wantCode(t, "commit retried after", h.end("tx", pid, epoch, true).get(), codeNone)
	if st := h.status("tx"); st.State != "CompleteCommit" {
		t.Fatalf("state %s", st.State)
	}
	if st := h.status("other"); st.State != "Ongoing" || st.ProducerID != other || !slices.Equal(st.Partitions, tps("u", 0)) {
		t.Fatalf("other transaction after reload %+v", st)
	}
	kinds := h.eventKinds()
	if i := slices.Index(kinds, "txn-coordinator-loaded"); i < 0 || kinds[len(kinds)-1] != "txn-complete-commit" {
		t.Fatalf("events %v", kinds)
	}
	if e := h.events[len(h.events)-1]; e.Partition != testPartition || e.CoordinatorEpoch != testEpoch+1 || e.TxnID != "tx" {
		t.Fatalf("completion event %+v", e)
	}
}

// TestReloadKeepsLastRecord: the last record of each id wins, a tombstone deletes it,
// and a loaded Ongoing transaction still times out from its recorded start.
func TestReloadKeepsLastRecord(t *testing.T) {
	h := newHarness(t)
	h.initOK("gone")
	h.log.write([]KV{{Key: encodeKey("gone")}})
	h.log.write([]KV{{Key: encodeKey("dead"), Value: encodeValue(txnRecord{pid: 9, state: stateDead, startMs: -1})}})
	h.c.InitProducerID(h.now, "short", 5000, -1, -1, func(int64, int16, int16) {})
	h.add("short", 1001, 0, tps("u", 0)...)
	pid, _ := h.initOK("tx")
	h.initOK("tx")
	h.now += int64(4 * time.Second)
	h.failover(testEpoch)
	if l := h.c.List(); len(l) != 2 || l[0].TxnID != "short" || l[1].TxnID != "tx" || l[1].ProducerEpoch != 1 || l[1].ProducerID != pid {
		t.Fatalf("List after reload %+v", l)
	}
	h.run(DefaultAbortCheckInterval)
	if st := h.status("short"); st.State != "CompleteAbort" {
		t.Fatalf("loaded Ongoing transaction past its timeout: %s", st.State)
	}
}

func TestLoadInProgress(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	h.c.Close()
	h.log.manualLoad = true
	h.c = NewCoordinator(h.now, h.cfg, h.log)
	wantCode(t, "Availability", h.c.Availability(), codeCoordinatorLoadInProgress)
	wantCode(t, "init", h.init("tx", testTimeoutMs, -1, -1).get().code, codeCoordinatorLoadInProgress)
	wantCode(t, "add", h.addCode(h.add("tx", pid, epoch, tps("t", 1)...)), codeCoordinatorLoadInProgress)
	wantCode(t, "end", h.end("tx", pid, epoch, true).get(), codeCoordinatorLoadInProgress)
	if st := h.status("tx"); st.ErrorCode != codeCoordinatorLoadInProgress {
		t.Fatalf("Describe while loading %+v", st)
	}
	if h.c.List() != nil {
		t.Fatal("List while loading")
	}
	h.log.finishLoad()
	wantCode(t, "Availability", h.c.Availability(), codeNone)
	wantCode(t, "end", h.end("tx", pid, epoch, true).get(), codeNone)
}

func TestLoadFailure(t *testing.T) {
	cases := map[string]func(l *fakeLog){
		"log error": func(l *fakeLog) { l.loadErr = errTimeout },
		"damaged batch": func(l *fakeLog) {
			l.batches[0] = append([]byte(nil), l.batches[0]...)
			l.batches[0][len(l.batches[0])-1] ^= 1
		},
		"bad value": func(l *fakeLog) { l.write([]KV{{Key: encodeKey("x"), Value: []byte{0, 0, 1}}}) },
		"fence state": func(l *fakeLog) {
			l.write([]KV{{Key: encodeKey("x"), Value: encodeValue(txnRecord{state: statePrepareEpochFence})}})
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.initOK("tx")
			damage(h.log)
			h.failover(testEpoch)
			if h.c.Phase() != "failed" || h.c.LoadErr() == nil {
				t.Fatalf("phase %s, error %v", h.c.Phase(), h.c.LoadErr())
			}
			wantCode(t, "Availability", h.c.Availability(), codeNotCoordinator)
			wantCode(t, "init", h.init("tx", testTimeoutMs, -1, -1).get().code, codeNotCoordinator)
		})
	}
}

// TestLoadSkipsOtherBatches: control and transactional batches, and keys of versions
// seedlog does not write, are skipped.
func TestLoadSkipsOtherBatches(t *testing.T) {
	h := newHarness(t)
	h.initOK("tx")
	b, err := record.BuildEndTxn(record.Spec{BaseOffset: h.log.next, ProducerID: 4, ProducerEpoch: 0, BaseSequence: -1}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.log.batches = append(h.log.batches, b)
	h.log.next++
	h.log.write([]KV{{Key: []byte{0, 1, 0, 1, 'x'}, Value: []byte("whatever")}})
	h.failover(testEpoch)
	if h.c.Phase() != "serving" || len(h.c.List()) != 1 {
		t.Fatalf("phase %s (%v), %d ids", h.c.Phase(), h.c.LoadErr(), len(h.c.List()))
	}
}

// TestCloseAnswersNotCoordinator: every request waiting on the log or on a producer id
// gets NOT_COORDINATOR at Close, once; later answers are ignored, later requests refused.
func TestCloseAnswersNotCoordinator(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("a", tps("t", 0)...)
	pidB, epochB := h.initOK("b")
	h.initOK("c")
	h.log.auto, h.pids.manual = false, true
	ec := h.end("a", pid, epoch, true)
	ac := h.add("b", pidB, epochB, tps("t", 0)...)
	ic := h.init("c", testTimeoutMs, -1, -1)
	nc := h.init("new", testTimeoutMs, -1, -1)
	if ec.answered() || ac.answered() || ic.answered() || nc.answered() {
		t.Fatal("answered before durable")
	}
	h.c.Close()
	wantCode(t, "EndTxn", ec.get(), codeNotCoordinator)
	wantCode(t, "AddPartitions", h.addCode(ac), codeNotCoordinator)
	wantCode(t, "InitProducerID", ic.get().code, codeNotCoordinator)
	wantCode(t, "new InitProducerID", nc.get().code, codeNotCoordinator)
	h.log.completeAll()
	h.pids.answerAll()
	if ec.count != 1 || ac.count != 1 || ic.count != 1 || nc.count != 1 {
		t.Fatal("answered again after Close")
	}
	wantCode(t, "Availability", h.c.Availability(), codeNotCoordinator)
	wantCode(t, "later EndTxn", h.end("a", pid, epoch, true).get(), codeNotCoordinator)
	if d := h.c.Deadline(); d != int64(^uint64(0)>>1) {
		t.Fatalf("Deadline %d after Close", d)
	}
	h.c.Close() // twice is fine
}

// TestCloseStopsMarkers: a round answered after Close neither writes nor sends more.
func TestCloseStopsMarkers(t *testing.T) {
	h := newHarness(t)
	pid, epoch := h.begin("a", tps("t", 0)...)
	h.markers.auto = false
	h.end("a", pid, epoch, false)
	p := h.markers.pending[0]
	h.c.Close()
	appends := h.log.appends
	p.done([]int16{0})
	if h.log.appends != appends {
		t.Fatal("completion written after Close")
	}
}
