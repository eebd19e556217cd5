package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The transaction commands and flags refuse bad arguments before reaching for a cluster.
func TestTxnUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"txn"}, {"txn", "bogus"}, {"txn", "list", "extra"},
		{"txn", "list", "--state", "Committed"}, {"txn", "list", "--state", "Ongoing,Bogus"},
		{"txn", "list", "--producer-id", "x"}, {"txn", "list", "--producer-id", "-1"},
		{"txn", "list", "--duration-ms", "-2"}, {"txn", "list", "--duration-ms", "soon"},
		{"txn", "describe"}, {"txn", "describe", "--bogus", "t1"},
		{"produce", "t", "--abort"}, {"produce", "t", "--transactional-id", "t1", "--acks", "1"},
		{"produce", "t", "--transactional-id", "t1", "--acks", "0", "--abort"},
		{"consume", "t", "--isolation", "committed"}, {"consume", "t", "--isolation", ""},
	} {
		if code := dispatch(args); code != exitUsage {
			t.Errorf("seedlog %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
	for _, args := range [][]string{{"txn", "-h"}, {"txn", "list", "-h"}, {"txn", "describe", "--help"}} {
		if code := dispatch(args); code != exitOK {
			t.Errorf("seedlog %s: exit %d, want 0", strings.Join(args, " "), code)
		}
	}
}

func TestParseTxnStates(t *testing.T) {
	got, err := parseTxnStates([]string{"ongoing", "CompleteAbort", "PREPAREEPOCHFENCE", "Ongoing"})
	if want := []string{"Ongoing", "CompleteAbort", "PrepareEpochFence"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q (%v), want %q: case folded to the broker's spelling, once each", got, err, want)
	}
	_, err = parseTxnStates([]string{"Empty", "Committed"})
	if err == nil {
		t.Fatal("an unknown state was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, `"Committed"`) || strings.Contains(msg, "\n") {
		t.Errorf("error %q does not name the state in one line", msg)
	}
	for _, s := range []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not list the valid state %s", msg, s)
		}
	}
	if got, err := parseTxnStates(nil); err != nil || got != nil {
		t.Errorf("no filter: %q, %v", got, err)
	}
}

func TestParseProducerIDs(t *testing.T) {
	got, err := parseProducerIDs([]string{"0", "1000", "9223372036854775807"})
	if err != nil || !slices.Equal(got, []int64{0, 1000, 9223372036854775807}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"-1", "x", "1.5", "9223372036854775808", ""} {
		if _, err := parseProducerIDs([]string{bad}); err == nil {
			t.Errorf("producer id %q accepted", bad)
		}
	}
}

// The flags reach the ListTransactions request: --state and --producer-id as filters,
// no --duration-ms as -1 (any duration).
func TestTxnListRequest(t *testing.T) {
	req := txnListRequest([]string{"Ongoing"}, []int64{7, 9}, -1)
	if !slices.Equal(req.StateFilters, []string{"Ongoing"}) || !slices.Equal(req.ProducerIDFilters, []int64{7, 9}) || req.DurationFilterMillis != -1 {
		t.Errorf("request %+v", req)
	}
	if req := txnListRequest(nil, nil, 60000); len(req.StateFilters) != 0 || len(req.ProducerIDFilters) != 0 || req.DurationFilterMillis != 60000 {
		t.Errorf("request %+v", req)
	}
}

func TestDescribedTxnRow(t *testing.T) {
	d := kadm.DescribedTransaction{
		Coordinator: 2, TxnID: "t1", State: "Ongoing", TimeoutMillis: 60000,
		StartTimestamp: 1796601600123, ProducerID: 1000, ProducerEpoch: 3,
	}
	d.Topics.Add("orders", 2, 0)
	d.Topics.Add("audit", 1)
	want := "t1\tOngoing\t2\t1000\t3\t60000\t2026-12-07T00:00:00.123Z\taudit/1,orders/0,orders/2"
	if got := describedTxnRow(d); got != want {
		t.Errorf("row\n%q, want\n%q", got, want)
	}
	done := kadm.DescribedTransaction{Coordinator: 1, TxnID: "t2", State: "CompleteCommit", TimeoutMillis: 40000, StartTimestamp: -1, ProducerID: 5}
	if got, want := describedTxnRow(done), "t2\tCompleteCommit\t1\t5\t0\t40000\t-\t-"; got != want {
		t.Errorf("row of a finished transaction\n%q, want\n%q", got, want)
	}
}

func TestIsolationLevel(t *testing.T) {
	if l, err := isolationLevel("read_committed"); err != nil || l != kgo.ReadCommitted() {
		t.Errorf("read_committed: %v %v", l, err)
	}
	if l, err := isolationLevel("read_uncommitted"); err != nil || l != kgo.ReadUncommitted() {
		t.Errorf("read_uncommitted: %v %v", l, err)
	}
	if _, err := isolationLevel("READ_COMMITTED"); err == nil {
		t.Error("an isolation level Kafka does not spell so was accepted")
	}
}
