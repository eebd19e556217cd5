package netsim

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Nodes 0..4 and clients 10, 11 in the fault tests.
var (
	testNodes   = []Addr{0, 1, 2, 3, 4}
	testClients = []Addr{10, 11}
	testAddrs   = append(slices.Clone(testNodes), testClients...)
)

func TestIsolateDropsDatagramsAndBreaksStreams(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), testNodes...)
	s01, _ := n.Open(0, 1)
	s12, _ := n.Open(1, 2)
	s10c, _ := n.Open(10, 1) // a client of the isolated node, not named in the fault
	s20, _ := n.Open(2, 0)
	s23, _ := n.Open(2, 3)

	broken := n.Apply(5*ms, Isolate(1))
	if want := []StreamID{s01, s12}; !slices.Equal(broken, want) {
		t.Fatalf("Isolate(1) broke %v, want %v", broken, want)
	}
	for _, id := range []StreamID{s10c, s20, s23} {
		if n.Broken(id) {
			t.Errorf("stream %d broke though its path is not cut", id)
		}
	}
	if !n.Broken(s01) || !n.Broken(s12) {
		t.Error("Broken is false for a stream the fault broke")
	}
	for _, peer := range []Addr{0, 2, 3, 4} {
		if n.Connected(1, peer) || n.Connected(peer, 1) {
			t.Errorf("1 and %d still connected", peer)
		}
		if got := n.Send(nil, 5*ms, 1, peer, 1); len(got) != 0 {
			t.Errorf("datagram 1->%d delivered at %v across a cut", peer, got)
		}
	}
	if got := n.Send(nil, 5*ms, 0, 2, 1); len(got) != 1 {
		t.Error("datagram between two connected nodes lost")
	}
	if _, ok := n.Open(3, 1); ok {
		t.Error("opened a stream across a cut")
	}
	if !n.Connected(1, 1) || !n.Connected(10, 1) {
		t.Error("loopback or an unnamed client lost its link")
	}
	if s := n.Stats(); s.StreamsBrokenByCut != 2 || s.DatagramsCut != 4 || s.StreamsRefused != 1 {
		t.Errorf("stats %+v", s)
	}
}

// A datagram in flight when a partition starts: the simulator asks Connected on arrival.
func TestPartitionWhileInFlight(t *testing.T) {
	n := newNet(t, 1, fixedConfig(10*time.Millisecond), testNodes...)
	arrivals := n.Send(nil, 0, 0, 1, 1)
	id, _ := n.Open(0, 1)
	at, r := n.StreamSend(0, id, 0, 1)
	if len(arrivals) != 1 || r != StreamSent {
		t.Fatal("setup failed")
	}
	n.Apply(ms, Split(0))
	if n.Connected(0, 1) || !n.Broken(id) {
		t.Fatalf("at arrival (%v, %v) the datagram and stream message would be delivered", arrivals[0], at)
	}
}

func TestCutOneWayIsOneWay(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), testNodes...)
	s, _ := n.Open(0, 1)
	other, _ := n.Open(0, 2)
	if broken := n.Apply(0, CutOneWay(1, 0)); !slices.Equal(broken, []StreamID{s}) {
		t.Fatalf("a one-way cut broke %v, want the stream across it %v", broken, s)
	}
	if n.Broken(other) {
		t.Fatal("a one-way cut broke an unrelated stream")
	}
	if got := n.Send(nil, 0, 1, 0, 1); len(got) != 0 {
		t.Fatal("datagram crossed the cut direction")
	}
	if got := n.Send(nil, 0, 0, 1, 1); len(got) != 1 {
		t.Fatal("datagram in the open direction lost")
	}
	if n.Connected(1, 0) || !n.Connected(0, 1) {
		t.Fatal("Connected does not match a one-way cut")
	}
	// A cut between a client and a node applies too: clients named explicitly.
	n.Apply(0, CutOneWay(10, 3))
	if n.Connected(10, 3) || !n.Connected(3, 10) {
		t.Fatal("one-way cut from a client")
	}
}

func TestBridge(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), testNodes...)
	n.Apply(0, Bridge([]Addr{0, 1}, 2, []Addr{3, 4}))
	for _, a := range testAddrs {
		for _, b := range testAddrs {
			left := func(x Addr) bool { return x == 0 || x == 1 }
			right := func(x Addr) bool { return x == 3 || x == 4 }
			want := !(left(a) && right(b) || right(a) && left(b))
			if got := n.Connected(a, b); got != want {
				t.Errorf("Connected(%d, %d) = %v under a bridge, want %v", a, b, got, want)
			}
		}
	}
	mustPanic(t, "bridge on a side", func() { n.Apply(0, Bridge([]Addr{0, 2}, 2, []Addr{3})) })
	mustPanic(t, "overlapping sides", func() { n.Apply(0, Bridge([]Addr{0, 3}, 2, []Addr{3})) })
}

func TestSplitAndClients(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), testNodes...)
	c10, _ := n.Open(10, 3) // client 10 joins side {0 1}: its stream to 3 crosses the split
	c11, _ := n.Open(11, 3) // client 11 is not named and keeps every link
	broken := n.Apply(0, Split(1, 0, 10))
	if !slices.Equal(broken, []StreamID{c10}) || n.Broken(c11) {
		t.Fatalf("split broke %v, want only %v", broken, c10)
	}
	for _, c := range []struct {
		a, b Addr
		want bool
	}{
		{0, 1, true}, {0, 2, false}, {1, 4, false}, {2, 3, true},
		{10, 0, true}, {10, 2, false}, {3, 10, false},
		{11, 0, true}, {11, 4, true}, {10, 11, true},
	} {
		if n.Connected(c.a, c.b) != c.want || n.Connected(c.b, c.a) != c.want {
			t.Errorf("%d<->%d connected: want %v", c.a, c.b, c.want)
		}
	}
	// Isolating a client cuts it from every node, not from other clients.
	n.Heal(0)
	n.Apply(0, Isolate(11))
	if n.Connected(11, 2) || n.Connected(0, 11) || !n.Connected(11, 10) {
		t.Error("isolating a client")
	}
}

func TestClogHoldsThenDelivers(t *testing.T) {
	cfg := fixedConfig(time.Millisecond)
	n := newNet(t, 1, cfg, testNodes...)
	id, _ := n.Open(0, 1)
	if broken := n.Apply(0, Clog(0, 1, 20*ms)); broken != nil {
		t.Fatalf("a clog broke streams %v", broken)
	}
	var last Time
	for now := Time(0); now < 20*ms; now += 5 * ms {
		got := n.Send(nil, now, 0, 1, 1)
		if len(got) != 1 || got[0] != 21*ms {
			t.Fatalf("datagram sent at %v while clogged: arrivals %v, want [21ms]", now, got)
		}
		at, r := n.StreamSend(now, id, 0, 1)
		if r != StreamSent || at != 21*ms || at < last {
			t.Fatalf("stream message sent at %v while clogged: %v %v", now, at, r)
		}
		last = at
		if back := n.Send(nil, now, 1, 0, 1); back[0] != now+ms {
			t.Fatalf("the reverse direction is clogged too: %v", back)
		}
	}
	if got := n.Send(nil, 20*ms, 0, 1, 1); got[0] != 21*ms {
		t.Fatalf("after the clog: %v, want [21ms]", got)
	}
	if !n.Connected(0, 1) || n.Broken(id) {
		t.Fatal("a clog cut the link")
	}
	// A shorter clog does not shorten a longer one.
	n.Apply(20*ms, Clog(0, 1, 40*ms))
	n.Apply(20*ms, Clog(0, 1, 30*ms))
	if got := n.Send(nil, 25*ms, 0, 1, 1); got[0] != 41*ms {
		t.Fatalf("clog shortened: %v", got)
	}
	if s := n.Stats(); s.Clogged != 9 {
		t.Fatalf("clogged count %d, want 9", s.Clogged)
	}
}

func TestHealRestores(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), testNodes...)
	old, _ := n.Open(10, 0)
	n.Apply(0, Isolate(0))
	n.Apply(0, Split(10, 1))
	n.Apply(0, CutOneWay(3, 4))
	n.Apply(0, Clog(2, 3, 100*ms))
	n.Heal(ms)
	for _, a := range testAddrs {
		for _, b := range testAddrs {
			if !n.Connected(a, b) {
				t.Errorf("%d->%d still cut after Heal", a, b)
			}
		}
	}
	if got := n.Send(nil, ms, 2, 3, 1); got[0] != 2*ms {
		t.Errorf("clog survived Heal: %v", got)
	}
	if !n.Broken(old) {
		t.Error("a broken stream came back after Heal")
	}
	if _, ok := n.Open(10, 0); !ok {
		t.Error("cannot reconnect after Heal")
	}
}

func TestFaultString(t *testing.T) {
	for _, c := range []struct {
		f    Fault
		want string
	}{
		{Isolate(3), "isolate 3"},
		{Split(2, 1, 2), "split [1 2] | rest"},
		{CutOneWay(1, 2), "cut 1->2"},
		{Bridge([]Addr{1, 0}, 2, []Addr{4, 3}), "bridge [0 1] <2> [3 4]"},
		{Clog(1, 2, 1500*Time(time.Microsecond)), "clog 1->2 until 1.5ms"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	for _, bad := range []Fault{CutOneWay(1, 1), Clog(2, 2, 5), Isolate(-1), {Kind: 99}} {
		if bad.Validate() == nil {
			t.Errorf("%v validated", bad)
		}
	}
}

// modelCut is the reference reading of the fault semantics in the package doc.
func modelCut(f Fault, x, y Addr) bool {
	if x == y {
		return false
	}
	isNode := func(a Addr) bool { return slices.Contains(testNodes, a) }
	in := func(s []Addr, a Addr) bool { return slices.Contains(s, a) }
	switch f.Kind {
	case FaultIsolate:
		return x == f.A && isNode(y) || y == f.A && isNode(x)
	case FaultSplit:
		return in(f.Side, x) && !in(f.Side, y) && isNode(y) || in(f.Side, y) && !in(f.Side, x) && isNode(x)
	case FaultCutOneWay:
		return x == f.From && y == f.To
	case FaultBridge:
		return in(f.Side, x) && in(f.Other, y) || in(f.Other, x) && in(f.Side, y)
	}
	return false
}

func genFault(t *rapid.T) Fault {
	addr := rapid.SampledFrom(testAddrs)
	switch rapid.IntRange(0, 3).Draw(t, "kind") {
	case 0:
		return Isolate(addr.Draw(t, "a"))
	case 1:
		return Split(rapid.SliceOfDistinct(addr, func(a Addr) Addr { return a }).Draw(t, "side")...)
	case 2:
		from := addr.Draw(t, "from")
		to := addr.Filter(func(a Addr) bool { return a != from }).Draw(t, "to")
		return CutOneWay(from, to)
	}
	perm := rapid.Permutation(testAddrs).Draw(t, "perm")
	i := rapid.IntRange(1, len(perm)).Draw(t, "i")
	j := rapid.IntRange(i, len(perm)).Draw(t, "j")
	return Bridge(perm[1:i], perm[0], perm[i:j])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Connectivity and stream breaks follow the model through any sequence of faults and heals.
func TestFaultsMatchModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := newNet(t, 1, fixedConfig(time.Millisecond), testNodes...)
		var active []Fault
		cut := func(x, y Addr) bool {
			for _, f := range active {
				if modelCut(f, x, y) {
					return true
				}
			}
			return false
		}
		open := map[StreamID][2]Addr{}
		for step := range rapid.IntRange(1, 30).Draw(t, "steps") {
			now := Time(step) * ms
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0:
				n.Heal(now)
				active = nil
			case 1, 2:
				f := genFault(t)
				active = append(active, f)
				var want []StreamID
				for id, ends := range open {
					if cut(ends[0], ends[1]) || cut(ends[1], ends[0]) {
						want = append(want, id)
						delete(open, id)
					}
				}
				slices.Sort(want)
				if got := n.Apply(now, f); !slices.Equal(got, want) {
					t.Fatalf("%v broke %v, want %v", f, got, want)
				}
			default:
				a := rapid.SampledFrom(testAddrs).Draw(t, "sa")
				b := rapid.SampledFrom(testAddrs).Filter(func(x Addr) bool { return x != a }).Draw(t, "sb")
				id, ok := n.Open(a, b)
				if want := !cut(a, b) && !cut(b, a); ok != want {
					t.Fatalf("Open(%d, %d) = %v, want %v under %v", a, b, ok, want, active)
				}
				if ok {
					open[id] = [2]Addr{a, b}
				}
			}
			for _, x := range testAddrs {
				for _, y := range testAddrs {
					if got, want := n.Connected(x, y), !cut(x, y); got != want {
						t.Fatalf("Connected(%d, %d) = %v, want %v under %v", x, y, got, want, active)
					}
					if got := len(n.Send(nil, now, x, y, 1)); got != boolInt(!cut(x, y)) {
						t.Fatalf("Send %d->%d delivered %d copies under %v", x, y, got, active)
					}
				}
			}
			for id := range open {
				if n.Broken(id) {
					t.Fatalf("stream %d broke without being reported", id)
				}
			}
		}
	})
}
