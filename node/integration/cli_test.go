package integration

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClientCommands drives the topic, produce, consume and group commands against a
// dev cluster they find without an address flag.
func TestClientCommands(t *testing.T) {
	d := startDev(t, 3)

	out := d.must("", "topic", "create", "cli", "--partitions", "3", "--replication-factor", "3", "--config", "retention.ms=3600000")
	if !strings.Contains(out, "created topic cli (3 partitions, replication factor 3)") {
		t.Fatalf("topic create said %q", out)
	}
	if r := d.seedlog("", "topic", "create", "cli"); r.code != 1 || !strings.Contains(r.stderr, "TOPIC_ALREADY_EXISTS") {
		t.Errorf("creating an existing topic: exit %d, %q", r.code, r.stderr)
	}
	if out := d.must("", "topic", "list"); !slices.Contains(strings.Fields(out), "cli") {
		t.Errorf("topic list: %q", out)
	}
	waitFor(t, "a leader and full ISR for every partition of cli", func() bool {
		out := d.must("", "topic", "describe", "cli")
		return strings.Contains(out, "PartitionCount: 3") && strings.Count(out, "Isr: ") == 3 &&
			!strings.Contains(out, "Leader: -1") && strings.Count(out, ",") >= 12
	})

	var in strings.Builder
	var want []string
	for i := range 100 {
		fmt.Fprintf(&in, "key-%d:value-%d\n", i, i)
		want = append(want, fmt.Sprintf("key-%d\tvalue-%d", i, i))
	}
	d.must(in.String(), "produce", "cli", "--key-separator", ":")
	got := strings.Split(strings.TrimSpace(d.must("", "consume", "cli", "--from-beginning", "--max-messages", "100", "--print-key")), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %d records, want the 100 produced; first: %q", len(got), got[:min(3, len(got))])
	}

	d.must("", "consume", "cli", "--group", "cg", "--from-beginning", "--max-messages", "100")
	if out := d.must("", "group", "list"); !strings.Contains(out, "cg") {
		t.Errorf("group list: %q", out)
	}
	if cur, lag := groupTotals(t, d.must("", "group", "describe", "cg")); cur != 100 || lag != 0 {
		t.Errorf("after consuming everything: committed %d, lag %d; want 100 and 0", cur, lag)
	}
	dry := d.must("", "group", "reset-offsets", "cg", "--topic", "cli", "--to-earliest")
	if !strings.Contains(dry, "dry run") {
		t.Errorf("reset-offsets without --execute: %q", dry)
	}
	if cur, _ := groupTotals(t, d.must("", "group", "describe", "cg")); cur != 100 {
		t.Errorf("a dry run changed the offsets: committed %d", cur)
	}
	d.must("", "group", "reset-offsets", "cg", "--topic", "cli", "--to-earliest", "--execute")
	if cur, lag := groupTotals(t, d.must("", "group", "describe", "cg")); cur != 0 || lag != 100 {
		t.Errorf("after reset to earliest: committed %d, lag %d; want 0 and 100", cur, lag)
	}

	if out := d.must("", "group", "delete-offsets", "cg", "--topic", "cli", "--partition", "0"); !strings.Contains(out, "deleted the committed offsets of group cg for cli/0") {
		t.Errorf("delete-offsets said %q", out)
	}
	var shown []string
	for _, line := range strings.Split(d.must("", "group", "describe", "cg"), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "cli" {
			shown = append(shown, f[1])
		}
	}
	if !slices.Equal(shown, []string{"1", "2"}) {
		t.Errorf("describe after deleting partition 0's offset shows partitions %v, want 1 and 2", shown)
	}
	if r := d.seedlog("", "group", "delete-offsets", "nobody", "--topic", "cli"); r.code != 1 || !strings.Contains(r.stderr, "GROUP_ID_NOT_FOUND") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("delete-offsets of an unknown group: exit %d, %q", r.code, r.stderr)
	}

	d.must("", "topic", "delete", "cli")
	waitFor(t, "cli gone from the topic list", func() bool {
		return !slices.Contains(strings.Fields(d.must("", "topic", "list")), "cli")
	})

	for _, args := range [][]string{
		{"topic"}, {"topic", "create"}, {"topic", "create", "a", "b"}, {"topic", "bogus"},
		{"produce"}, {"produce", "t", "--acks", "2"}, {"consume"}, {"group", "describe"},
		{"group", "reset-offsets", "g", "--topic", "t"}, {"group", "delete-offsets", "g"}, {"group", "delete-offsets", "g", "--topic", "t", "--partition", "-2"},
		{"dev", "--brokers", "0"},
		{"broker", "--node.id", "x"}, {"bench", "--acks", "7"},
	} {
		if r := d.seedlog("", args...); r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
			t.Errorf("seedlog %s: exit %d (want 2), stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}

	// A dev cluster on a port already taken fails with one line naming the port and the
	// flag to change. The port is low enough for dev's layout (peers at port+10000,
	// metrics at port+20000), which the first cluster's kernel-chosen ports need not be.
	var ln net.Listener
	for p := 20000; ln == nil && p < 45000; p += 7 {
		ln, _ = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	}
	if ln == nil {
		t.Fatal("no free port below 45000")
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	r := d.seedlog("", "dev", "--port", port)
	if r.code != 3 || !strings.Contains(r.stderr, port) || !strings.Contains(r.stderr, "--port") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("dev on a taken port: exit %d, %q", r.code, r.stderr)
	}
}

// groupTotals sums the CURRENT-OFFSET and LAG columns of `group describe`.
func groupTotals(t *testing.T, out string) (committed, lag int64) {
	t.Helper()
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "TOPIC" || f[0] == "Group" {
			continue
		}
		c, err1 := strconv.ParseInt(f[2], 10, 64)
		l, err2 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("group describe row %q", line)
		}
		committed, lag, rows = committed+c, lag+l, rows+1
	}
	if rows == 0 {
		t.Fatalf("group describe shows no partitions:\n%s", out)
	}
	return committed, lag
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 60s: %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDevWithPeerTLS runs the dev cluster with mutual TLS between its brokers (a
// throwaway CA in its data directory) and moves records through a replicated topic.
func TestDevWithPeerTLS(t *testing.T) {
	d := startDev(t, 3, "--peer-tls")
	d.must("", "topic", "create", "tls", "--partitions", "2", "--replication-factor", "3")
	waitFor(t, "full ISRs of tls", func() bool {
		out := d.must("", "topic", "describe", "tls")
		return strings.Count(out, "Isr: ") == 2 && !strings.Contains(out, "Leader: -1") && strings.Count(out, ",") >= 8
	})
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "v-%d\n", i)
	}
	d.must(in.String(), "produce", "tls")
	got := strings.Fields(d.must("", "consume", "tls", "--from-beginning", "--max-messages", "50"))
	if len(got) != 50 {
		t.Fatalf("consumed %d records over a TLS-replicated topic, want 50", len(got))
	}
}

// The command line's rough edges: every command ends within its --timeout and says why
// it failed, with an exit code from seedlog help (1: refused, 3: no cluster).
func TestCommandsEndAndSayWhy(t *testing.T) {
	d := startDev(t, 3)
	if r := d.seedlog("", "help"); r.code != 0 || !strings.Contains(r.stderr, "3  could not run") {
		t.Errorf("seedlog help: exit %d, does not list the exit codes:\n%s", r.code, r.stderr)
	}

	// The dev cluster asks for min.insync.replicas=2: a topic of one replica can never
	// take an acks=all write. Creating it warns; producing to it ends with why.
	r := d.seedlog("", "topic", "create", "single", "--replication-factor", "1")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: topic single: replication factor 1 is below its min.insync.replicas=2") {
		t.Fatalf("topic create --replication-factor 1: exit %d, stderr %q", r.code, r.stderr)
	}
	start := time.Now()
	r = d.seedlog("one\n", "produce", "single", "--timeout", "5s")
	if took := time.Since(start); r.code != 1 || took > 20*time.Second ||
		!strings.Contains(r.stderr, "below its min.insync.replicas=2") || !strings.Contains(r.stderr, "seedlog topic alter-config single --set min.insync.replicas=1") {
		t.Fatalf("produce to a topic below min.insync.replicas: exit %d after %v, stderr %q", r.code, took, r.stderr)
	}
	d.must("", "topic", "alter-config", "single", "--set", "min.insync.replicas=1")
	d.must("one\n", "produce", "single", "--timeout", "10s")
	if r := d.seedlog("", "topic", "alter-config", "single", "--set", "no.such.key=1"); r.code != 1 || !strings.Contains(r.stderr, "INVALID_CONFIG") {
		t.Errorf("alter-config of an unknown key: exit %d, stderr %q", r.code, r.stderr)
	}

	// A dead address: the records time out and the command says to check the cluster.
	start = time.Now()
	r = d.seedlog("one\n", "produce", "single", "-b", "127.0.0.1:1", "--timeout", "2s")
	if took := time.Since(start); r.code != 3 || took > 15*time.Second || !strings.Contains(r.stderr, "is the cluster up") {
		t.Errorf("produce to a dead address: exit %d after %v, stderr %q", r.code, took, r.stderr)
	}
	r = d.seedlog("", "consume", "nosuch", "--timeout", "5s")
	if r.code != 1 || !strings.Contains(r.stderr, "topic nosuch does not exist") {
		t.Errorf("consume of an unknown topic: exit %d, stderr %q", r.code, r.stderr)
	}
	r = d.seedlog("", "group", "describe", "nobody")
	if r.code != 1 || !strings.Contains(r.stderr, "group nobody does not exist") {
		t.Errorf("group describe of an unknown group: exit %d, stderr %q", r.code, r.stderr)
	}

	// reset-offsets --to-offset past the end is clamped to it: the lag never goes
	// negative.
	d.must("a\nb\nc\n", "produce", "single")
	out := d.must("", "group", "reset-offsets", "idle", "--topic", "single", "--to-offset", "1000", "--execute")
	if !strings.Contains(out, "1000 is past the log end: clamped") {
		t.Errorf("reset-offsets past the end said %q", out)
	}
	if cur, lag := groupTotals(t, d.must("", "group", "describe", "idle")); cur != 4 || lag != 0 {
		t.Errorf("after a reset past the end: committed %d, lag %d; want 4 and 0", cur, lag)
	}
}

// The admin commands: topic describe --configs, add-partitions, delete-records; consume
// of one partition from an offset with everything printed; produce with headers;
// reset-offsets across all of a group's topics by shift and by time; group delete;
// cluster describe.
func TestAdminCommands(t *testing.T) {
	t.Parallel()
	d := startDev(t, 3)
	d.must("", "topic", "create", "adm", "--partitions", "2", "--replication-factor", "3", "--config", "retention.ms=3600000")
	out := d.must("", "topic", "describe", "adm", "--configs")
	for _, want := range []string{"retention.ms  3600000  dynamic_topic_config", "min.insync.replicas  2  static_broker_config", "cleanup.policy  delete  default_config"} {
		if !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("topic describe --configs lacks %q:\n%s", want, out)
		}
	}
	if out := d.must("", "topic", "add-partitions", "adm", "--partitions", "4"); !strings.Contains(out, "topic adm now has 4 partitions") {
		t.Errorf("add-partitions said %q", out)
	}
	if r := d.seedlog("", "topic", "add-partitions", "adm", "--partitions", "3"); r.code != 1 || !strings.Contains(r.stderr, "INVALID_PARTITIONS") {
		t.Errorf("add-partitions to fewer: exit %d, %q", r.code, r.stderr)
	}
	waitFor(t, "leaders for the 4 partitions of adm", func() bool {
		out := d.must("", "topic", "describe", "adm")
		return strings.Contains(out, "PartitionCount: 4") && !strings.Contains(out, "Leader: -1")
	})

	d.must("k0:v0\nk1:v1\nk2:v2\nk3:v3\nk4:v4\n", "produce", "adm", "--partition", "0", "--key-separator", ":", "--header", "src=cli", "--header", "n=1")
	lines := strings.Split(strings.TrimSpace(d.must("", "consume", "adm", "--partition", "0", "--offset", "2", "--max-messages", "3",
		"--print-offset", "--print-timestamp", "--print-headers", "--print-key")), "\n")
	if len(lines) != 3 {
		t.Fatalf("consume --partition 0 --offset 2 --max-messages 3 printed %q", lines)
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 5 || f[0] != fmt.Sprintf("0:%d", i+2) || f[2] != "src=cli,n=1" || f[3] != fmt.Sprintf("k%d", i+2) || f[4] != fmt.Sprintf("v%d", i+2) {
			t.Errorf("record %d printed as %q", i, l)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", f[1]); len(f) > 1 && err != nil {
			t.Errorf("record %d: timestamp %q: %v", i, f[1], err)
		}
	}
	d.must("", "topic", "create", "idem", "--partitions", "1")
	d.must("p0\np1\n", "produce", "idem")
	if out := d.must("", "topic", "producers", "idem"); !strings.Contains(out, "PRODUCER-ID") || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("topic producers after one idempotent produce printed %q", out)
	}
	formatted := d.must("", "consume", "adm", "--partition", "0", "--offset", "2", "--max-messages", "2", "--format", `%t/%p@%o %k=%v %h{%k:%v;}\n`)
	if want := "adm/0@2 k2=v2 src:cli;n:1;\nadm/0@3 k3=v3 src:cli;n:1;\n"; formatted != want {
		t.Errorf("consume --format printed %q, want %q", formatted, want)
	}
	if r := d.seedlog("", "consume", "adm", "--partition", "9"); r.code != 1 || !strings.Contains(r.stderr, "no partition 9") {
		t.Errorf("consume of a partition the topic lacks: exit %d, %q", r.code, r.stderr)
	}
	if out := d.must("", "topic", "delete-records", "adm", "--partition", "0", "--before", "2"); !strings.Contains(strings.Join(strings.Fields(out), " "), "adm 0 2") {
		t.Errorf("delete-records said %q", out)
	}
	if first := strings.SplitN(d.must("", "consume", "adm", "--partition", "0", "--from-beginning", "--max-messages", "1", "--print-offset"), "\t", 2)[0]; first != "0:2" {
		t.Errorf("after delete-records --before 2 the first record is at %q", first)
	}

	d.must("", "consume", "adm", "--group", "g2", "--from-beginning", "--max-messages", "3")
	if cur, _ := groupTotals(t, d.must("", "group", "describe", "g2")); cur != 3+2 {
		t.Fatalf("group g2 committed %d in all, want 5 (offsets 2 to 4 of partition 0 read)", cur)
	}
	out = d.must("", "group", "reset-offsets", "g2", "--all-topics", "--shift-by", "-4", "--execute")
	if cur, _ := groupTotals(t, d.must("", "group", "describe", "g2")); cur != 2 || !strings.Contains(out, "1 is below the log start: clamped") {
		t.Errorf("after --shift-by -4 over all topics: committed %d (want 2: the log start), said %q", cur, out)
	}
	d.must("", "group", "reset-offsets", "g2", "--topic", "adm", "--to-datetime", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--execute")
	if cur, lag := groupTotals(t, d.must("", "group", "describe", "g2")); cur != 5 || lag != 0 {
		t.Errorf("after --to-datetime an hour ahead: committed %d, lag %d; want 5 and 0", cur, lag)
	}
	if out := d.must("", "group", "delete", "g2"); !strings.Contains(out, "deleted group g2") {
		t.Errorf("group delete said %q", out)
	}
	if r := d.seedlog("", "group", "describe", "g2"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("describe of a deleted group: exit %d, %q", r.code, r.stderr)
	}
	if r := d.seedlog("", "group", "delete", "g2"); r.code != 1 || !strings.Contains(r.stderr, "GROUP_ID_NOT_FOUND") {
		t.Errorf("deleting it again: exit %d, %q", r.code, r.stderr)
	}
	d.must("", "quota", "alter", "--user", "alice", "--producer-byte-rate", "1048576", "--request-percentage", "50")
	d.must("", "quota", "alter", "--default-client-id", "--consumer-byte-rate", "2048")
	d.must("", "quota", "alter", "--user", "alice", "--remove", "request_percentage")
	if out := strings.Join(strings.Fields(d.must("", "quota", "describe")), " "); !strings.Contains(out, "{client-id=<default>} consumer_byte_rate 2048") ||
		!strings.Contains(out, "{user=alice} producer_byte_rate 1048576") || strings.Contains(out, "request_percentage") {
		t.Errorf("quota describe said %q", out)
	}
	if out := d.must("", "quota", "describe", "--user", "alice", "--strict"); strings.Contains(out, "client-id") {
		t.Errorf("quota describe --user alice --strict said %q", out)
	}
	if r := d.seedlog("", "quota", "alter", "--user", "alice", "--remove", "io_thread_percentage"); r.code != 1 || !strings.Contains(r.stderr, "INVALID_REQUEST") {
		t.Errorf("removing an unknown quota key: exit %d, %q", r.code, r.stderr)
	}
	if out := d.must("", "cluster", "describe"); !strings.Contains(out, "Brokers: 3") || strings.Contains(out, "Controller: -1") || strings.Count(out, "127.0.0.1:") != 3 ||
		!strings.Contains(out, "Quorum leader: ") || strings.Count(out, " voter ")+strings.Count(out, " leader ") != 3 {
		t.Errorf("cluster describe said %q", out)
	}
	// adm has 4 partitions of 3 replicas: one line each, on every broker.
	if out := d.must("", "cluster", "log-dirs", "--topic", "adm"); strings.Count(out, " adm ") != 12 {
		t.Errorf("cluster log-dirs --topic adm said %q", out)
	}
	if r := d.seedlog("", "cluster", "log-dirs", "--topic", "nope"); r.code != 1 || !strings.Contains(r.stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("log-dirs of an unknown topic: exit %d, %q", r.code, r.stderr)
	}
}
