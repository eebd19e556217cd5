package netsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// fataler is what newNet needs from *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func newNet(t fataler, seed uint64, cfg Config, nodes ...Addr) *Net {
	t.Helper()
	n, err := New(rand.New(rand.NewPCG(seed, 0x5eed)), cfg, nodes)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fixedLink has a constant delay, so tests can predict arrivals exactly.
func fixedLink(d time.Duration) LinkConfig { return LinkConfig{DelayBase: d} }

func fixedConfig(d time.Duration) Config {
	return Config{Link: fixedLink(d), StreamsOpenMax: 64}
}

const ms = Time(time.Millisecond)

// script drives a network through a mixed workload (datagrams, streams, faults, clogs,
// heals) whose calls depend only on workloadSeed and on the network's answers, and returns
// a transcript of those answers.
func script(netSeed, workloadSeed uint64) string {
	cfg := DefaultConfig()
	cfg.Link.LossProb = 0.05
	cfg.Link.DupProb = 0.05
	cfg.Link.ReorderProb = 0.05
	cfg.Link.StreamBreakProb = 0.01
	cfg.Link.BytesPerSecond = 100 << 20
	nodes := []Addr{0, 1, 2, 3, 4}
	n, err := New(rand.New(rand.NewPCG(netSeed, 1)), cfg, nodes)
	if err != nil {
		panic(err)
	}
	w := rand.New(rand.NewPCG(workloadSeed, 2))
	var out strings.Builder
	var now Time
	var buf []Time
	var streams []StreamID
	for step := 0; step < 3000; step++ {
		now += Time(w.IntN(int(time.Millisecond)))
		from, to := Addr(w.IntN(8)), Addr(w.IntN(5))
		switch k := w.IntN(100); {
		case k < 60:
			if from == to {
				continue
			}
			buf = n.Send(buf[:0], now, from, to, w.IntN(4096))
			fmt.Fprintln(&out, "send", from, to, buf)
		case k < 70:
			if from == to {
				continue
			}
			id, ok := n.Open(from, to)
			fmt.Fprintln(&out, "open", from, to, id, ok)
			if ok {
				streams = append(streams, id)
			}
		case k < 92:
			if len(streams) == 0 {
				continue
			}
			id := streams[w.IntN(len(streams))]
			a, b, ok := n.StreamEnds(id)
			if !ok {
				continue
			}
			end := []Addr{a, b}[w.IntN(2)]
			at, r := n.StreamSend(now, id, end, w.IntN(1<<16))
			fmt.Fprintln(&out, "ssend", id, at, r)
		case k < 97:
			f := []Fault{Isolate(from), Split(from, to), CutOneWay(from, to),
				Clog(from, to, now+Time(w.IntN(int(50*ms))))}[w.IntN(4)]
			if f.Validate() != nil {
				continue
			}
			fmt.Fprintln(&out, f, n.Apply(now, f))
		default:
			n.Heal(now)
			fmt.Fprintln(&out, "heal")
		}
	}
	fmt.Fprintf(&out, "%+v\n", n.Stats())
	return out.String()
}

func TestDeterminism(t *testing.T) {
	a := script(1, 7)
	if b := script(1, 7); a != b {
		t.Fatal("the same seed and call sequence gave different answers")
	}
	if c := script(2, 7); a == c {
		t.Fatal("different network seeds gave the same answers")
	}
	if !strings.Contains(a, "broke") || !strings.Contains(a, "split") {
		t.Fatal("the script did not exercise random breaks and splits; it tests too little")
	}
}

func TestZeroFaultConfigDeliversEverythingOnce(t *testing.T) {
	cfg := DefaultConfig()
	n := newNet(t, 3, cfg, 0, 1, 2)
	lc := cfg.Link
	var buf []Time
	for i := range 20000 {
		now := Time(i) * Time(100*time.Microsecond)
		from, to := Addr(i%3), Addr((i+1)%3)
		buf = n.Send(buf[:0], now, from, to, 100)
		if len(buf) != 1 {
			t.Fatalf("send %d: %d arrivals, want exactly 1", i, len(buf))
		}
		lo, hi := now.Add(lc.DelayBase), now.Add(lc.DelayBase+lc.DelayJitter+lc.TailMax)
		if buf[0] < lo || buf[0] > hi {
			t.Fatalf("send %d at %v arrives at %v, outside [%v, %v]", i, now, buf[0], lo, hi)
		}
	}
	s := n.Stats()
	if s.DatagramsLost != 0 || s.DatagramsDuplicated != 0 || s.DatagramsCut != 0 ||
		s.DatagramsSent != 20000 || s.Links != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// within fails unless got is within tolerance standard deviations of a binomial(trials, p).
func within(t *testing.T, what string, got, trials int, p float64) {
	t.Helper()
	mean := float64(trials) * p
	sd := math.Sqrt(float64(trials) * p * (1 - p))
	if math.Abs(float64(got)-mean) > 6*sd+1 {
		t.Errorf("%s: %d of %d, want about %.0f (p=%v)", what, got, trials, mean, p)
	}
}

func TestLossAndDuplicationRates(t *testing.T) {
	const sends = 100000
	for _, probs := range []struct{ loss, dup float64 }{{0.1, 0.05}, {0.01, 0.3}, {0.5, 0}} {
		cfg := fixedConfig(time.Millisecond)
		cfg.Link.LossProb, cfg.Link.DupProb = probs.loss, probs.dup
		n := newNet(t, 11, cfg, 0, 1)
		lost, dupd, extra := 0, 0, 0
		var buf []Time
		for i := range sends {
			buf = n.Send(buf[:0], Time(i), 0, 1, 10)
			switch {
			case len(buf) == 0:
				lost++
			case len(buf) > copiesMax:
				t.Fatalf("%d copies, more than %d", len(buf), copiesMax)
			case len(buf) > 1:
				dupd++
				extra += len(buf) - 1
			}
		}
		within(t, "lost", lost, sends, probs.loss)
		within(t, "duplicated", dupd, sends-lost, probs.dup)
		s := n.Stats()
		if s.DatagramsLost != int64(lost) || s.DatagramsDuplicated != int64(extra) {
			t.Errorf("stats %+v disagree with lost=%d extra copies=%d", s, lost, extra)
		}
	}
}

func TestDelayDistribution(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Link.TailProb = 0.05
	lc := cfg.Link
	n := newNet(t, 5, cfg, 0, 1)
	const sends = 50000
	tails := 0
	var minSeen, maxJitter time.Duration = time.Hour, 0
	var buf []Time
	for i := range sends {
		now := Time(i) * ms
		buf = n.Send(buf[:0], now, 0, 1, 10)
		d := time.Duration(buf[0] - now)
		if d < lc.DelayBase {
			t.Fatalf("delay %v below base %v", d, lc.DelayBase)
		}
		if d >= lc.DelayBase+lc.DelayJitter {
			tails++
			if d < lc.DelayBase+lc.TailMin || d > lc.DelayBase+lc.DelayJitter+lc.TailMax {
				t.Fatalf("tail delay %v outside the configured tail", d)
			}
		} else {
			maxJitter = max(maxJitter, d-lc.DelayBase)
		}
		minSeen = min(minSeen, d)
	}
	within(t, "tail delays", tails, sends, lc.TailProb)
	if minSeen > lc.DelayBase+lc.DelayJitter/100 || maxJitter < lc.DelayJitter*99/100 {
		t.Errorf("jitter does not span its range: min delay %v, max jitter %v", minSeen, maxJitter)
	}
}

func TestReordering(t *testing.T) {
	// A constant delay never reorders a link.
	n := newNet(t, 1, fixedConfig(time.Millisecond), 0, 1)
	var buf []Time
	for i := range 1000 {
		buf = n.Send(buf[:0], Time(i)*10, 0, 1, 10)
	}
	if r := n.Stats().DatagramsReordered; r != 0 {
		t.Fatalf("%d reordered with a constant delay", r)
	}

	// ReorderProb makes later datagrams overtake earlier ones, and Stats counts exactly
	// the arrivals that come before an arrival already scheduled on the link.
	cfg := fixedConfig(time.Millisecond)
	cfg.Link.ReorderProb, cfg.Link.ReorderDelay = 0.2, 10*time.Millisecond
	n = newNet(t, 1, cfg, 0, 1)
	var arrivals []Time
	for i := range 1000 {
		arrivals = n.Send(arrivals, Time(i)*Time(100*time.Microsecond), 0, 1, 10)
	}
	overtakers, latest := 0, Time(-1)
	for _, a := range arrivals {
		if a < latest {
			overtakers++
		}
		latest = max(latest, a)
	}
	s := n.Stats()
	if overtakers == 0 || int64(overtakers) != s.DatagramsReordered {
		t.Fatalf("%d datagrams overtook an earlier one, stats say %d", overtakers, s.DatagramsReordered)
	}
	within(t, "delayed", int(s.DatagramsDelayed), 1000, 0.2)
}

func TestBandwidthSerializesALink(t *testing.T) {
	cfg := fixedConfig(time.Millisecond)
	cfg.Link.BytesPerSecond = 1 << 20 // 1 MiB/s: 1 KiB takes about 977 µs on the wire
	n := newNet(t, 1, cfg, 0, 1)
	wire := Time(1024 * int64(time.Second) / (1 << 20))
	var buf []Time
	for i := range 5 {
		buf = n.Send(buf[:0], 0, 0, 1, 1024)
		if want := Time(i+1)*wire + ms; buf[0] != want {
			t.Fatalf("datagram %d arrives at %v, want %v", i, buf[0], want)
		}
	}
	// The reverse direction is another wire.
	if buf = n.Send(buf[:0], 0, 1, 0, 1024); buf[0] != wire+ms {
		t.Fatalf("reverse datagram arrives at %v, want %v", buf[0], wire+ms)
	}
}

func TestSetLinkOverrides(t *testing.T) {
	cfg := fixedConfig(time.Millisecond)
	cfg.Overrides = []LinkOverride{{From: 0, To: 1, Link: fixedLink(7 * time.Millisecond)}}
	n := newNet(t, 1, cfg, 0, 1, 2)
	check := func(from, to Addr, want Time) {
		t.Helper()
		if got := n.Send(nil, 0, from, to, 1); len(got) != 1 || got[0] != want {
			t.Fatalf("%d->%d: arrivals %v, want [%v]", from, to, got, want)
		}
	}
	check(0, 1, 7*ms)
	check(1, 0, ms)
	check(0, 2, ms)
	if err := n.SetLink(0, 2, fixedLink(3*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	check(0, 2, 3*ms)
	if err := n.SetLink(0, 2, LinkConfig{LossProb: 2}); err == nil {
		t.Fatal("SetLink accepted a loss probability of 2")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Link.DelayBase = -1 },
		func(c *Config) { c.Link.TailMin, c.Link.TailMax = 2, 1 },
		func(c *Config) { c.Link.LossProb = 1.5 },
		func(c *Config) { c.Link.DupProb = math.NaN() },
		func(c *Config) { c.Link.StreamBreakProb = -0.1 },
		func(c *Config) { c.Link.BytesPerSecond = -1 },
		func(c *Config) { c.Link.BytesPerSecond = 1 << 40 },
		func(c *Config) { c.StreamsOpenMax = 0 },
		func(c *Config) { c.Overrides = []LinkOverride{{From: 0, To: 1, Link: LinkConfig{ReorderProb: 3}}} },
		func(c *Config) { c.Overrides = []LinkOverride{{From: -1, To: 1}} },
	}
	for i, mutate := range bad {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := New(rand.New(rand.NewPCG(1, 1)), cfg, []Addr{0}); err == nil {
			t.Errorf("case %d: New accepted %+v", i, cfg)
		}
	}
	if _, err := New(rand.New(rand.NewPCG(1, 1)), DefaultConfig(), []Addr{0, 1, 0}); err == nil {
		t.Error("New accepted a repeated node address")
	}
	if _, err := New(nil, DefaultConfig(), []Addr{0}); err == nil {
		t.Error("New accepted a nil random source")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("the default config is invalid: %v", err)
	}
}

func TestTimeMustNotGoBackwards(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), 0, 1)
	n.Send(nil, 10*ms, 0, 1, 1)
	mustPanic(t, "send in the past", func() { n.Send(nil, 9*ms, 0, 1, 1) })
	mustPanic(t, "negative address", func() { n.Send(nil, 10*ms, -1, 1, 1) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestNodes(t *testing.T) {
	n := newNet(t, 1, DefaultConfig(), 4, 2, 9)
	if got := n.Nodes(); !slices.Equal(got, []Addr{2, 4, 9}) {
		t.Fatalf("Nodes() = %v", got)
	}
	if !n.IsNode(4) || n.IsNode(3) {
		t.Fatal("IsNode is wrong")
	}
}
