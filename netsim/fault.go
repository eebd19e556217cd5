package netsim

import (
	"fmt"
	"slices"
	"strings"
)

// FaultKind says which fault a Fault is.
type FaultKind uint8

const (
	FaultIsolate FaultKind = iota + 1
	FaultSplit
	FaultCutOneWay
	FaultBridge
	FaultClog
)

// Fault is one network fault, as applied by Net.Apply and shown in traces. Build one with
// Isolate, Split, CutOneWay, Bridge or Clog, which copy and sort their address lists; the
// fields a kind uses are listed next to each field.
type Fault struct {
	Kind FaultKind
	// A is the isolated address (Isolate) or the bridge (Bridge).
	A Addr
	// From and To are the link's ends (CutOneWay, Clog).
	From, To Addr
	// Side is the side of a Split, or the left side of a Bridge; Other is the right side
	// of a Bridge. Both are sorted and distinct.
	Side, Other []Addr
	// Until is when a Clog ends.
	Until Time
}

// Isolate cuts a from every node, both ways. a may be a node or a client.
func Isolate(a Addr) Fault { return Fault{Kind: FaultIsolate, A: a} }

// Split cuts every address in side from every node not in side, both ways. Clients not
// named in side keep all their links.
func Split(side ...Addr) Fault { return Fault{Kind: FaultSplit, Side: normalize(side)} }

// CutOneWay cuts the link from -> to only; to -> from stays up.
func CutOneWay(from, to Addr) Fault { return Fault{Kind: FaultCutOneWay, From: from, To: to} }

// Bridge cuts every address of left from every address of right, both ways, while bridge
// keeps its links to both: the bridge is the only way across. left, bridge and right must
// not overlap.
func Bridge(left []Addr, bridge Addr, right []Addr) Fault {
	return Fault{Kind: FaultBridge, A: bridge, Side: normalize(left), Other: normalize(right)}
}

// Clog holds messages sent on from -> to until the given time.
func Clog(from, to Addr, until Time) Fault {
	return Fault{Kind: FaultClog, From: from, To: to, Until: until}
}

// String renders f for traces, e.g. "split [1 2] | rest" or "clog 1->2 until 1.5s".
func (f Fault) String() string {
	switch f.Kind {
	case FaultIsolate:
		return fmt.Sprintf("isolate %d", f.A)
	case FaultSplit:
		return fmt.Sprintf("split %s | rest", addrList(f.Side))
	case FaultCutOneWay:
		return fmt.Sprintf("cut %d->%d", f.From, f.To)
	case FaultBridge:
		return fmt.Sprintf("bridge %s <%d> %s", addrList(f.Side), f.A, addrList(f.Other))
	case FaultClog:
		return fmt.Sprintf("clog %d->%d until %v", f.From, f.To, f.Until)
	}
	return fmt.Sprintf("fault(kind %d)", uint8(f.Kind))
}

func addrList(addrs []Addr) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d", a)
	}
	b.WriteByte(']')
	return b.String()
}

// Validate reports why f cannot be applied, if it cannot.
func (f Fault) Validate() error {
	addrs := append([]Addr{f.A, f.From, f.To}, f.Side...)
	for _, a := range append(addrs, f.Other...) {
		if a < 0 {
			return fmt.Errorf("netsim: %v: negative address %d", f, a)
		}
	}
	switch f.Kind {
	case FaultIsolate, FaultSplit:
	case FaultCutOneWay, FaultClog:
		if f.From == f.To {
			return fmt.Errorf("netsim: %v: a link from an address to itself", f)
		}
	case FaultBridge:
		if slices.Contains(f.Side, f.A) || slices.Contains(f.Other, f.A) {
			return fmt.Errorf("netsim: %v: the bridge is on a side", f)
		}
		for _, a := range f.Side {
			if slices.Contains(f.Other, a) {
				return fmt.Errorf("netsim: %v: %d is on both sides", f, a)
			}
		}
	default:
		return fmt.Errorf("netsim: unknown fault kind %d", uint8(f.Kind))
	}
	return nil
}

// Apply applies f at now and returns the streams it broke, sorted by id, so that the
// simulator can tell both ends of each that the connection closed. Cuts add to the cuts
// already in place; a clog extends any clog already on its link. f must be valid (see
// Validate): the simulator builds its faults, so a bad one is a bug and Apply panics.
func (n *Net) Apply(now Time, f Fault) []StreamID {
	n.advance(now)
	if err := f.Validate(); err != nil {
		panic(err)
	}
	n.stats.FaultsApplied++
	if f.Kind == FaultClog {
		l := n.link(f.From, f.To)
		l.clogUntil = max(l.clogUntil, f.Until)
		return nil
	}
	n.cutPairs(f)
	return n.breakCut()
}

// Heal removes every cut and every clog at now. Broken streams stay broken, and messages
// already held by a clog keep their arrival times.
func (n *Net) Heal(now Time) {
	n.advance(now)
	n.stats.Heals++
	for _, l := range n.links {
		l.cut = false
		l.clogUntil = 0
	}
	n.cutLinks = 0
}

// cutPairs cuts the links that f names.
func (n *Net) cutPairs(f Fault) {
	switch f.Kind {
	case FaultIsolate:
		n.cutSides([]Addr{f.A}, n.nodes)
	case FaultSplit:
		side := normalize(f.Side)
		var rest []Addr
		for _, a := range n.nodes {
			if _, in := slices.BinarySearch(side, a); !in {
				rest = append(rest, a)
			}
		}
		n.cutSides(side, rest)
	case FaultCutOneWay:
		n.cut(f.From, f.To)
	case FaultBridge:
		n.cutSides(f.Side, f.Other)
	}
}

// cutSides cuts every address of left from every address of right, both ways.
func (n *Net) cutSides(left, right []Addr) {
	for _, a := range left {
		for _, b := range right {
			n.cut(a, b)
			n.cut(b, a)
		}
	}
}

// cut cuts the link from -> to; a link to oneself stays up.
func (n *Net) cut(from, to Addr) {
	if from == to {
		return
	}
	l := n.link(from, to)
	if !l.cut {
		l.cut = true
		n.cutLinks++
	}
}
