package netsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Addr identifies an endpoint, node or client. The simulator chooses the numbering.
type Addr int32

// Stats counts what the network did, for coverage reports. Arrival-time drops (a datagram
// whose link was cut while it was in flight, a stream message whose stream broke) are
// decided by the simulator and are not counted here.
type Stats struct {
	DatagramsSent int64 // calls to Send
	DatagramsCut  int64 // dropped at send because the link was cut
	DatagramsLost int64 // dropped at random (LossProb)
	// DatagramsDuplicated counts extra copies: a datagram delivered three times adds two.
	DatagramsDuplicated int64
	// DatagramsDelayed counts datagrams given the extra ReorderProb delay.
	DatagramsDelayed int64
	// DatagramsReordered counts copies scheduled to arrive before a copy sent earlier on
	// the same link: each one overtakes at least one earlier datagram.
	DatagramsReordered int64
	// Clogged counts datagrams and stream messages held back by a clog.
	Clogged int64

	StreamsOpened  int64
	StreamsRefused int64 // Open failed: path cut or StreamsOpenMax reached
	StreamsClosed  int64 // closed with Close while up
	StreamMessages int64 // messages accepted by StreamSend
	// Streams broken, by cause.
	StreamsBrokenByCut    int64
	StreamsBrokenByCall   int64
	StreamsBrokenAtRandom int64

	FaultsApplied int64
	Heals         int64
	// Links counts the links with state (used, cut, clogged or configured); it grows
	// with the pairs of addresses that talk.
	Links int64
}

// link is the state of one direction between two addresses.
type link struct {
	cfg LinkConfig
	cut bool
	// clogUntil is when the current clog ends; messages sent before then leave at it.
	clogUntil Time
	// busyUntil is when the wire is free again, when cfg.BytesPerSecond is set.
	busyUntil Time
	// arrivalMax is the latest arrival scheduled for a datagram on this link; a datagram
	// scheduled before it overtakes an earlier one.
	arrivalMax Time
}

// linkKey packs a directed pair of addresses.
type linkKey uint64

func keyOf(from, to Addr) linkKey { return linkKey(uint32(from))<<32 | linkKey(uint32(to)) }

// Net is the simulated network. It is not safe for concurrent use; the simulator drives it
// from its one goroutine.
type Net struct {
	cfg   Config
	rng   *rand.Rand
	nodes []Addr // sorted, distinct
	// links holds state for every link that was used, cut, clogged or configured. It grows
	// with the pairs of addresses that talk, which the simulator bounds.
	links map[linkKey]*link
	// cutLinks counts links with cut set, so that the common fault-free case needs no
	// lookups in Connected.
	cutLinks int
	streams  map[StreamID]*stream // open streams, up or not yet reported broken
	// streamNext is the id the next Open returns; ids are never reused, so a stale id
	// cannot reach a newer stream.
	streamNext StreamID
	// now is the latest time given to any call; time must not go backwards.
	now   Time
	stats Stats
}

// New returns a network over the given node addresses, drawing every random choice from rng.
func New(rng *rand.Rand, cfg Config, nodes []Addr) (*Net, error) {
	if rng == nil {
		return nil, fmt.Errorf("netsim: nil random source")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sorted := normalize(nodes)
	if len(sorted) != len(nodes) {
		return nil, fmt.Errorf("netsim: node addresses are not distinct: %v", nodes)
	}
	for _, a := range sorted {
		if a < 0 {
			return nil, fmt.Errorf("netsim: negative node address %d", a)
		}
	}
	cfg.Overrides = slices.Clone(cfg.Overrides)
	n := &Net{
		cfg:        cfg,
		rng:        rng,
		nodes:      sorted,
		links:      make(map[linkKey]*link),
		streams:    make(map[StreamID]*stream),
		streamNext: 1,
	}
	for _, o := range cfg.Overrides {
		n.link(o.From, o.To).cfg = o.Link
	}
	return n, nil
}

// Nodes returns the node addresses, sorted.
func (n *Net) Nodes() []Addr { return slices.Clone(n.nodes) }

// IsNode reports whether a is a node address.
func (n *Net) IsNode(a Addr) bool {
	_, ok := slices.BinarySearch(n.nodes, a)
	return ok
}

// Stats returns the counters so far.
func (n *Net) Stats() Stats { return n.stats }

// SetLink replaces the configuration of the link from -> to. Messages already sent keep
// the arrival times they were given.
func (n *Net) SetLink(from, to Addr, lc LinkConfig) error {
	if err := lc.Validate(); err != nil {
		return fmt.Errorf("link %d -> %d: %w", from, to, err)
	}
	n.link(from, to).cfg = lc
	return nil
}

// Connected reports whether the link from -> to is up: no fault cuts it. Clogs do not
// count; a clogged link delays but delivers. The simulator calls it when a datagram
// arrives and drops the datagram if the link is down.
func (n *Net) Connected(from, to Addr) bool {
	checkAddr(from)
	checkAddr(to)
	if n.cutLinks == 0 {
		return true
	}
	l := n.links[keyOf(from, to)]
	return l == nil || !l.cut
}

// Send sends a datagram of sizeBytes from -> to at now and appends to dst the arrival
// time of each copy that will arrive: none when the datagram is lost or the link is cut,
// one normally, more when it is duplicated. Reusing dst keeps Send free of allocations.
func (n *Net) Send(dst []Time, now Time, from, to Addr, sizeBytes int) []Time {
	n.advance(now)
	l := n.link(from, to)
	n.stats.DatagramsSent++
	if l.cut {
		n.stats.DatagramsCut++
		return dst
	}
	c := &l.cfg
	if c.LossProb > 0 && n.rng.Float64() < c.LossProb {
		n.stats.DatagramsLost++
		return dst
	}
	copies := 1
	for copies < copiesMax && c.DupProb > 0 && n.rng.Float64() < c.DupProb {
		copies++
	}
	n.stats.DatagramsDuplicated += int64(copies - 1)
	departed := n.depart(l, now, sizeBytes)
	for range copies {
		dst = append(dst, n.datagramArrival(l, departed))
	}
	return dst
}

// datagramArrival draws the arrival time of one copy that left the sender at departed.
func (n *Net) datagramArrival(l *link, departed Time) Time {
	c := &l.cfg
	at := departed.Add(n.delay(c))
	if c.ReorderProb > 0 && n.rng.Float64() < c.ReorderProb {
		at = at.Add(n.uniform(c.ReorderDelay))
		n.stats.DatagramsDelayed++
	}
	if at < l.arrivalMax {
		n.stats.DatagramsReordered++
	} else {
		l.arrivalMax = at
	}
	return at
}

// depart returns when a message of sizeBytes handed to l at now has left the sender:
// after any clog, and after the wire has carried the messages ahead of it.
func (n *Net) depart(l *link, now Time, sizeBytes int) Time {
	t := now
	if l.clogUntil > t {
		t = l.clogUntil
		n.stats.Clogged++
	}
	bps := l.cfg.BytesPerSecond
	if bps <= 0 {
		return t
	}
	t = max(t, l.busyUntil) + wireTime(int64(max(sizeBytes, 0)), bps)
	l.busyUntil = t
	return t
}

// wireTime is how long bytes take at bytesPerSecond, split so that large sizes do not
// overflow (and without floating point, whose rounding could differ between machines).
func wireTime(bytes, bytesPerSecond int64) Time {
	whole, rest := bytes/bytesPerSecond, bytes%bytesPerSecond
	return Time(whole*int64(time.Second) + rest*int64(time.Second)/bytesPerSecond)
}

// delay draws one message's delay: base, uniform jitter, and sometimes a tail.
func (n *Net) delay(c *LinkConfig) time.Duration {
	d := c.DelayBase + n.uniform(c.DelayJitter)
	if c.TailProb > 0 && n.rng.Float64() < c.TailProb {
		d += c.TailMin + time.Duration(n.rng.Int64N(int64(c.TailMax-c.TailMin)+1))
	}
	return d
}

// uniform draws a duration in [0, width), or 0 when width is 0.
func (n *Net) uniform(width time.Duration) time.Duration {
	if width <= 0 {
		return 0
	}
	return time.Duration(n.rng.Int64N(int64(width)))
}

// link returns the state of from -> to, creating it with the default configuration.
func (n *Net) link(from, to Addr) *link {
	checkAddr(from)
	checkAddr(to)
	k := keyOf(from, to)
	if l := n.links[k]; l != nil {
		return l
	}
	l := &link{cfg: n.cfg.Link}
	n.links[k] = l
	n.stats.Links = int64(len(n.links))
	return l
}

// advance records now, which must not be earlier than any time seen before: the
// simulator's clock only moves forward, and FIFO streams rely on it.
func (n *Net) advance(now Time) {
	if now < n.now {
		panic(fmt.Sprintf("netsim: time went backwards from %v to %v", n.now, now))
	}
	n.now = now
}

func checkAddr(a Addr) {
	if a < 0 {
		panic(fmt.Sprintf("netsim: negative address %d", a))
	}
}

// normalize returns a sorted copy of addrs without duplicates.
func normalize(addrs []Addr) []Addr {
	out := slices.Clone(addrs)
	slices.Sort(out)
	return slices.Compact(out)
}
