package netsim

import (
	"fmt"
	"slices"
)

// StreamID identifies a stream. Ids start at 1 and are never reused.
type StreamID int64

// StreamResult says what became of a message given to StreamSend.
type StreamResult uint8

const (
	// StreamSent: the message arrives at the returned time, unless the stream breaks
	// while it is in flight (the simulator checks Broken at arrival).
	StreamSent StreamResult = iota
	// StreamBroke: sending broke the stream (a random reset, StreamBreakProb). The
	// message is lost and the simulator must tell both ends, as for the ids returned by
	// Apply.
	StreamBroke
	// StreamDown: the stream had broken or been closed before; the message is dropped
	// and there is nothing new to report.
	StreamDown
)

func (r StreamResult) String() string {
	switch r {
	case StreamSent:
		return "sent"
	case StreamBroke:
		return "broke"
	case StreamDown:
		return "down"
	}
	return fmt.Sprintf("StreamResult(%d)", uint8(r))
}

// stream is an open stream between a (the end that opened it) and b.
type stream struct {
	a, b   Addr
	ab, ba *link
	// lastAB and lastBA are the latest arrivals in each direction; a new message never
	// arrives before them, which is what makes a direction FIFO.
	lastAB, lastBA Time
}

// Open opens a stream from -> to and returns its id. It fails (ok false) when a fault cuts
// the path in either direction or when Config.StreamsOpenMax streams are open. A stream
// between an address and itself is not allowed.
func (n *Net) Open(from, to Addr) (id StreamID, ok bool) {
	if from == to {
		panic(fmt.Sprintf("netsim: stream from %d to itself", from))
	}
	if !n.Connected(from, to) || !n.Connected(to, from) || len(n.streams) >= n.cfg.StreamsOpenMax {
		n.stats.StreamsRefused++
		return 0, false
	}
	id = n.streamNext
	n.streamNext++
	n.streams[id] = &stream{a: from, b: to, ab: n.link(from, to), ba: n.link(to, from)}
	n.stats.StreamsOpened++
	return id, true
}

// StreamSend sends a message of sizeBytes on stream id from the end at address from, at
// now. When the result is StreamSent, the message arrives at arrive, which is no earlier
// than the arrival of any message sent before in the same direction.
func (n *Net) StreamSend(now Time, id StreamID, from Addr, sizeBytes int) (arrive Time, r StreamResult) {
	n.advance(now)
	s := n.streams[id]
	if s == nil {
		n.checkIssued(id)
		return 0, StreamDown
	}
	l, last := s.direction(from)
	if l.cut || s.reverse(l).cut {
		panic(fmt.Sprintf("netsim: stream %d is up across a cut link", id))
	}
	if p := l.cfg.StreamBreakProb; p > 0 && n.rng.Float64() < p {
		n.stats.StreamsBrokenAtRandom++
		delete(n.streams, id)
		return 0, StreamBroke
	}
	arrive = max(n.depart(l, now, sizeBytes).Add(n.delay(&l.cfg)), *last)
	*last = arrive
	n.stats.StreamMessages++
	return arrive, StreamSent
}

// Broken reports whether stream id is down: broken for any cause, or closed. The simulator
// calls it when a stream message arrives and drops the message if so.
func (n *Net) Broken(id StreamID) bool {
	if n.streams[id] != nil {
		return false
	}
	n.checkIssued(id)
	return true
}

// Break breaks stream id, as a connection reset. It reports whether the stream was up;
// breaking a broken stream does nothing.
func (n *Net) Break(id StreamID) bool {
	if n.Broken(id) {
		return false
	}
	delete(n.streams, id)
	n.stats.StreamsBrokenByCall++
	return true
}

// Close releases stream id once both ends are done with it. Messages still in flight are
// dropped at arrival like those of a broken stream, so the simulator closes a stream after
// its last message has arrived. Closing a broken or closed stream does nothing.
func (n *Net) Close(id StreamID) {
	if n.Broken(id) {
		return
	}
	delete(n.streams, id)
	n.stats.StreamsClosed++
}

// StreamEnds returns the two ends of an open stream; from is the end that opened it.
func (n *Net) StreamEnds(id StreamID) (from, to Addr, ok bool) {
	s := n.streams[id]
	if s == nil {
		return 0, 0, false
	}
	return s.a, s.b, true
}

// breakCut breaks every open stream whose path is now cut and returns their ids, sorted.
func (n *Net) breakCut() []StreamID {
	var broken []StreamID
	for id, s := range n.streams {
		if s.ab.cut || s.ba.cut {
			broken = append(broken, id)
		}
	}
	for _, id := range broken {
		delete(n.streams, id)
	}
	n.stats.StreamsBrokenByCut += int64(len(broken))
	slices.Sort(broken) // map order must not reach the simulator
	return broken
}

// checkIssued panics for an id that Open never returned: the simulator mixed up its ids.
func (n *Net) checkIssued(id StreamID) {
	if id <= 0 || id >= n.streamNext {
		panic(fmt.Sprintf("netsim: stream %d was never opened", id))
	}
}

// direction returns the link and the last arrival for messages sent by from.
func (s *stream) direction(from Addr) (*link, *Time) {
	switch from {
	case s.a:
		return s.ab, &s.lastAB
	case s.b:
		return s.ba, &s.lastBA
	}
	panic(fmt.Sprintf("netsim: address %d is not an end of stream %d-%d", from, s.a, s.b))
}

func (s *stream) reverse(l *link) *link {
	if l == s.ab {
		return s.ba
	}
	return s.ab
}
