package traces

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleEvents() []Event {
	return []Event{
		{At: 0, Kind: KindPhase, Sub: PhaseSafety, Node: -1, Peer: -1, Text: "safety"},
		{At: 1000, Kind: KindInput, Sub: InStart, Node: 1, Peer: -1, A: 0, Hash: 7, Text: "start"},
		{At: 2000, Kind: KindOutput, Sub: OutOp, Node: 1, Peer: -1, A: 1, B: 1, Topic: "__cluster_metadata", Part: 0, Text: "append"},
		{At: 2500, Kind: KindOutput, Sub: OutOp, Node: 2, Peer: -1, A: 1, B: 1, Topic: "orders", Part: 3, Text: "append orders-3"},
		{At: 3000, Kind: KindOutput, Sub: OutMessage, Node: 2, Peer: 1, A: 12, Hash: 99, Text: "to n1"},
		{At: 3500, Kind: KindInvoke, Sub: 1, Node: -1, Peer: 1, A: 1, Topic: "orders", Part: -1, Text: "op 1 create orders"},
		{At: 4000, Kind: KindFault, Sub: FaultCrash, Node: 2, Peer: -1, A: 0, Text: "node 2 crashes"},
		{At: 4500, Kind: KindComplete, Sub: OpIndeterminate, Node: 2, Peer: 1, A: 1, Topic: "orders", Part: -1, Text: "op 1 -> indeterminate"},
		{At: 5000, Kind: KindFault, Sub: FaultRestart, Node: 2, Peer: -1, A: 1, Text: "node 2 restarts"},
		{At: int64(2 * time.Second), Kind: KindCheck, Sub: CheckViolation, Node: -1, Peer: -1, Text: "boom"},
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, e := range sampleEvents() {
		b := AppendCanonical(nil, &e)
		var got Event
		n, err := decodeCanonical(b, &got)
		if err != nil || n != len(b) {
			t.Fatalf("decode %+v: n=%d len=%d err=%v", e, n, len(b), err)
		}
		got.Text = e.Text
		if got != e {
			t.Fatalf("round trip: got %+v want %+v", got, e)
		}
	}
}

func TestCanonicalRejectsGarbage(t *testing.T) {
	e := sampleEvents()[2]
	b := AppendCanonical(nil, &e)
	for i := 0; i < len(b); i++ {
		var got Event
		if _, err := decodeCanonical(b[:i], &got); err == nil {
			t.Fatalf("decoding %d of %d bytes succeeded", i, len(b))
		}
	}
}

func TestFingerprintIgnoresTextAndCoversFields(t *testing.T) {
	evs := sampleEvents()
	base := Fingerprint(evs)
	r := NewRecorder(false)
	for i := range evs {
		r.Add(&evs[i])
	}
	if r.Fingerprint() != base || r.Count() != int64(len(evs)) || r.Events() != nil {
		t.Fatalf("recorder fingerprint %x count %d, want %x %d and no kept events", r.Fingerprint(), r.Count(), base, len(evs))
	}
	noText := sampleEvents()
	for i := range noText {
		noText[i].Text = ""
	}
	if Fingerprint(noText) != base {
		t.Fatal("text changed the fingerprint")
	}
	changes := []func(*Event){
		func(e *Event) { e.At++ },
		func(e *Event) { e.Sub++ },
		func(e *Event) { e.Node++ },
		func(e *Event) { e.Peer++ },
		func(e *Event) { e.A++ },
		func(e *Event) { e.B++ },
		func(e *Event) { e.Hash++ },
		func(e *Event) { e.Topic += "x" },
		func(e *Event) { e.Part++ },
	}
	for i, change := range changes {
		evs := sampleEvents()
		change(&evs[3])
		if Fingerprint(evs) == base {
			t.Errorf("change %d did not change the fingerprint", i)
		}
	}
	verdict := sampleEvents()
	verdict[len(verdict)-1].Sub = CheckUnknown
	if Fingerprint(verdict) != base {
		t.Error("a checker verdict changed the fingerprint")
	}
	swapped := sampleEvents()
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if Fingerprint(swapped) == base {
		t.Error("reordering events did not change the fingerprint")
	}
}

func TestFileRoundTrip(t *testing.T) {
	tr := &Trace{
		Header: Header{Seed: 42, Config: "seed 42\ncluster: 3 nodes\n", Plants: []string{"vote-before-sync"},
			BuildTags: []string{"simbugs"}, Events: 10, Checker: "invariant:quorum", Failure: "two leaders", FailureAt: 4000,
			Linearizability: "<html>viz</html>", Coverage: map[string]int64{"fault:crash": 2}},
		Events: sampleEvents(),
	}
	tr.Header.Fingerprint = Fingerprint(tr.Events)
	var buf bytes.Buffer
	if err := tr.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != len(tr.Events) {
		t.Fatalf("%d events, want %d", len(got.Events), len(tr.Events))
	}
	for i := range got.Events {
		if got.Events[i] != tr.Events[i] {
			t.Fatalf("event %d: %+v want %+v", i, got.Events[i], tr.Events[i])
		}
	}
	if got.Header.Seed != 42 || got.Header.Linearizability != "<html>viz</html>" || got.Header.Coverage["fault:crash"] != 2 {
		t.Fatalf("header %+v", got.Header)
	}
	if err := got.CheckFingerprint(); err != nil {
		t.Fatal(err)
	}
	got.Events[3].A++
	if got.CheckFingerprint() == nil {
		t.Fatal("altered events kept the fingerprint")
	}
	if _, err := Read(strings.NewReader("not a trace\n")); !errors.Is(err, ErrNotTrace) {
		t.Fatalf("reading garbage: %v", err)
	}
	data := buf.Bytes()
	if _, err := Read(bytes.NewReader(data[:len(data)-10])); err == nil {
		t.Fatal("truncated file read without error")
	}
}

func TestFilter(t *testing.T) {
	evs := sampleEvents()
	count := func(f Filter) int {
		n := 0
		for i := range evs {
			if f.Match(&evs[i]) {
				n++
			}
		}
		return n
	}
	if n := count(Filter{}); n != len(evs) {
		t.Fatalf("empty filter kept %d of %d", n, len(evs))
	}
	// Node 1: its start and op, plus node 2's message to it.
	if n := count(Filter{Node: 1, HasNode: true}); n != 3 {
		t.Fatalf("node filter kept %d, want 3", n)
	}
	// orders/3: the partition's op and the topic-level invoke and complete.
	if n := count(Filter{Partition: "orders/3"}); n != 3 {
		t.Fatalf("partition filter kept %d, want 3", n)
	}
	if n := count(Filter{Partition: "__cluster_metadata/0"}); n != 1 {
		t.Fatalf("metadata partition filter kept %d, want 1", n)
	}
	if n := count(Filter{From: 2000, To: 3000}); n != 3 {
		t.Fatalf("time filter kept %d, want 3", n)
	}
}

func TestParsers(t *testing.T) {
	if _, err := ParsePartition("orders/3"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"orders", "orders/", "/3", "orders/x", "orders/-1", "orders/03"} {
		if _, err := ParsePartition(bad); err == nil {
			t.Errorf("ParsePartition(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"1.5s": 1500 * time.Millisecond, "250ms": 250 * time.Millisecond, "2": 2 * time.Second} {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1s", "soon", "-3"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestRenderers(t *testing.T) {
	tr := &Trace{Header: Header{Seed: 7, Config: "seed 7\n", Failure: "boom <b>", Checker: "linearizability", FailureAt: 4000,
		Linearizability: "<html><script>var x = \"q\";</script></html>"}, Events: sampleEvents()}
	var text bytes.Buffer
	if err := WriteText(&text, tr, Filter{Node: 2, HasNode: true}); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"seed 7", "FAILED (linearizability)", "node 2 crashes", "node 2 restarts", "5 of 10 events shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "op 1 create") {
		t.Errorf("node filter let a client op through:\n%s", out)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, tr); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{"<svg", "node 2", "client 1", "crashed", "boom &lt;b&gt;", "srcdoc=\"&lt;html&gt;&lt;script&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	for _, banned := range []string{"http://", "https://", "<link", "src=\""} {
		if strings.Contains(strings.ReplaceAll(html, "http://www.w3.org/2000/svg", ""), banned) {
			t.Errorf("html fetches something: contains %q", banned)
		}
	}
}

func TestVerifyReplay(t *testing.T) {
	h := Header{Seed: 3, Fingerprint: 0xabc, BuildTags: []string{"simbugs"}}
	same := func(Header) (uint64, error) { return 0xabc, nil }
	other := func(Header) (uint64, error) { return 0xdef, nil }
	if err := VerifyReplay(h, []string{"simbugs"}, same); err != nil {
		t.Fatal(err)
	}
	if err := VerifyReplay(h, []string{"simbugs"}, other); err == nil {
		t.Fatal("a different fingerprint passed")
	}
	if err := VerifyReplay(h, nil, same); err == nil {
		t.Fatal("different build tags passed")
	}
}

// A Recorder hashes the events it collected in batches: its fingerprint is the same as
// an event at a time would give, however many events it holds and whenever it is asked.
func TestRecorderFingerprintOverManyEvents(t *testing.T) {
	var evs []Event
	for i := range 5000 {
		e := sampleEvents()[i%9]
		e.At, e.A = int64(i)*1000, int64(i)
		evs = append(evs, e)
	}
	r := NewRecorder(false)
	for i := range evs {
		r.Add(&evs[i])
		if i == 1234 {
			if got, want := r.Fingerprint(), Fingerprint(evs[:i+1]); got != want {
				t.Fatalf("after %d events: %x, want %x", i+1, got, want)
			}
		}
	}
	if got, want := r.Fingerprint(), Fingerprint(evs); got != want || r.Fingerprint() != want {
		t.Fatalf("after %d events: %x, want %x", len(evs), got, want)
	}
}
