package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTxnCLI writes one committed and one aborted transaction with seedlog produce,
// reads them back with each isolation level, and follows both through txn list and
// txn describe.
func TestTxnCLI(t *testing.T) {
	d := startDev(t, 3)
	d.must("", "topic", "create", "txns", "--partitions", "3", "--replication-factor", "3")
	waitFor(t, "a leader and full ISR for every partition of txns", func() bool {
		out := d.must("", "topic", "describe", "txns")
		return strings.Count(out, "Isr: ") == 3 && !strings.Contains(out, "Leader: -1") && strings.Count(out, ",") >= 12
	})

	var committed, aborted strings.Builder
	var want []string
	for i := range 10 {
		fmt.Fprintf(&committed, "committed-%d\n", i)
		want = append(want, fmt.Sprintf("committed-%d", i))
	}
	for i := range 5 {
		fmt.Fprintf(&aborted, "aborted-%d\n", i)
	}
	if r := d.seedlog(committed.String(), "produce", "txns", "--transactional-id", "t1"); r.code != 0 || !strings.Contains(r.stderr, "produced 10 records in transaction t1, committed") {
		t.Fatalf("produce --transactional-id t1: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := d.seedlog(aborted.String(), "produce", "txns", "--transactional-id", "t2", "--abort"); r.code != 0 || !strings.Contains(r.stderr, "produced 5 records in transaction t2, aborted") {
		t.Fatalf("produce --transactional-id t2 --abort: exit %d, stderr %q", r.code, r.stderr)
	}

	// read_committed sees exactly the committed transaction; read_uncommitted also the
	// aborted records, which proves they were written and are skipped, not missing.
	got := consumeAll(t, d, "read_committed")
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Errorf("read_committed consumed %d records %q, want the 10 committed", len(got), got)
	}
	all := consumeAll(t, d, "read_uncommitted")
	if n := len(all); n != 15 || slices.ContainsFunc(want, func(v string) bool { return !slices.Contains(all, v) }) {
		t.Errorf("read_uncommitted consumed %d records %q, want all 15 written", n, all)
	}

	// The markers are written after EndTxn is answered: the coordinator reaches the
	// Complete states a moment later.
	var rows map[string][2]string
	waitFor(t, "t1 CompleteCommit and t2 CompleteAbort in txn list", func() bool {
		rows = txnListRows(t, d.must("", "txn", "list"))
		return rows["t1"][0] == "CompleteCommit" && rows["t2"][0] == "CompleteAbort"
	})
	if rows["t1"][1] == rows["t2"][1] {
		t.Errorf("t1 and t2 list the same producer id %s", rows["t1"][1])
	}
	if only := txnListRows(t, d.must("", "txn", "list", "--state", "CompleteAbort")); len(only) != 1 || only["t2"][0] != "CompleteAbort" {
		t.Errorf("txn list --state CompleteAbort lists %v, want t2 alone", only)
	}
	if none := txnListRows(t, d.must("", "txn", "list", "--producer-id", rows["t1"][1], "--state", "Ongoing")); len(none) != 0 {
		t.Errorf("txn list of t1's producer id in state Ongoing lists %v", none)
	}
	if r := d.seedlog("", "txn", "list", "--state", "Committed"); r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, "PrepareEpochFence") {
		t.Errorf("txn list --state Committed: exit %d, stderr %q; want 2 and one line with the valid states", r.code, r.stderr)
	}

	out := d.must("", "txn", "describe", "t1")
	f := describeRow(t, out, "t1")
	// A finished transaction keeps no partitions; its start time (Kafka keeps the last
	// one) is "-" or a time.
	_, terr := time.Parse(time.RFC3339Nano, f[6])
	if f[1] != "CompleteCommit" || f[3] != rows["t1"][1] || f[7] != "-" || (f[6] != "-" && terr != nil) {
		t.Errorf("txn describe t1: state %s, producer id %s (listed %s), start %s, partitions %s; want CompleteCommit and no partitions:\n%s",
			f[1], f[3], rows["t1"][1], f[6], f[7], out)
	}

	r := d.seedlog("", "txn", "describe", "t2", "nosuch")
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "nosuch") || !strings.Contains(r.stderr, "not known") {
		t.Errorf("txn describe t2 nosuch: exit %d, stderr %q; want 1 and one line naming nosuch", r.code, r.stderr)
	}
	if f := describeRow(t, r.stdout, "t2"); f[1] != "CompleteAbort" {
		t.Errorf("txn describe t2 nosuch: t2 is %s, want CompleteAbort:\n%s", f[1], r.stdout)
	}
}

// consumeAll reads topic txns from the start at an isolation level until it is idle.
func consumeAll(t *testing.T, d *devCluster, isolation string) []string {
	t.Helper()
	out := d.must("", "consume", "txns", "--from-beginning", "--isolation", isolation, "--idle-exit", "5s")
	return strings.Fields(out)
}

// txnListRows maps each transactional id of `txn list` to its state and producer id.
func txnListRows(t *testing.T, out string) map[string][2]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !slices.Equal(strings.Fields(lines[0]), []string{"TRANSACTIONAL-ID", "STATE", "PRODUCER-ID"}) {
		t.Fatalf("txn list has no header:\n%s", out)
	}
	rows := map[string][2]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("txn list row %q", l)
		}
		rows[f[0]] = [2]string{f[1], f[2]}
	}
	return rows
}

// describeRow is the row of id in `txn describe`'s table: id, state, coordinator,
// producer id, epoch, timeout, start time, partitions.
func describeRow(t *testing.T, out, id string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 8 && f[0] == id {
			return f
		}
	}
	t.Fatalf("txn describe shows no row for %s:\n%s", id, out)
	return nil
}
