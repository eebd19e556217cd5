package core

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn orders the responses of one connection: Kafka clients match responses to requests
// by order as well as by correlation id, so a response that completes early waits for
// every earlier one.
type conn struct {
	pending []*slot // oldest first
	// saslRequired is fixed by the listener of the connection's first request.
	saslRequired bool
	auth         connAuth
	// mutedUntil is when a client quota's throttle of the connection ends (node time,
	// ns); requests arriving before it wait in held, in order, each with its slot.
	mutedUntil int64
	held       []heldRequest
}

// heldRequest is a request of a muted connection, waiting for the mute to end.
type heldRequest struct {
	req Request
	s   *slot
}

// slot is one request's place in its connection's response order.
type slot struct {
	conn   ConnID
	corr   int32
	resp   kmsg.Response
	filled bool
}

// conns tracks every open connection, within Config.ConnectionsMax connections and
// Config.InFlightPerConnMax requests awaiting their responses per connection (a slot
// leaves a connection's count when its response, or its silent completion, is emitted):
// a client past them is misbehaving and its connection is closed rather than letting it
// grow the node's memory.
type conns struct {
	byID map[ConnID]*conn
	// hungUp holds the connections the node gave up on until the shell reports them
	// closed: requests the shell had already read from one are dropped, not taken for a
	// new connection's (which would start with none of its state: no authentication,
	// no quota mute). At most one entry per connection the shell still has open.
	hungUp map[ConnID]bool
}

// open reserves a slot for a new request, or returns nil when the connection must be
// closed for exceeding the limits of cfg. fresh says the connection is new.
func (c *conns) open(cfg *Config, id ConnID, corr int32) (cn *conn, s *slot, fresh bool) {
	if c.byID == nil {
		c.byID = map[ConnID]*conn{}
	}
	cn = c.byID[id]
	if cn == nil {
		if len(c.byID) >= cfg.ConnectionsMax {
			return nil, nil, false
		}
		cn, fresh = &conn{}, true
		c.byID[id] = cn
	}
	if len(cn.pending) >= cfg.InFlightPerConnMax {
		return nil, nil, false
	}
	s = &slot{conn: id, corr: corr}
	cn.pending = append(cn.pending, s)
	return cn, s, fresh
}

// fill records a slot's response (nil for no response) and appends to out every
// response that is now at the head of its connection. A request without a response (an
// acks=0 produce) is emitted too, with a nil Msg, so that the shell knows it is done
// and frees its place in the connection's in-flight count.
func (c *conns) fill(s *slot, resp kmsg.Response, out []Response) []Response {
	if s.filled {
		panic("core: a request answered twice")
	}
	s.filled, s.resp = true, resp
	cn := c.byID[s.conn]
	if cn == nil {
		return out // the connection closed meanwhile
	}
	i := 0
	for ; i < len(cn.pending) && cn.pending[i].filled; i++ {
		p := cn.pending[i]
		out = append(out, Response{Conn: p.conn, Corr: p.corr, Msg: p.resp})
	}
	if i > 0 {
		clear(cn.pending[:i])
		cn.pending = cn.pending[i:]
	}
	return out
}

// close forgets a connection the shell closed. Slots still pending are filled later
// into the void.
func (c *conns) close(id ConnID) {
	delete(c.byID, id)
	delete(c.hungUp, id)
}

// hangUp forgets a connection the node gives up on; the shell closes it and says so.
func (c *conns) hangUp(id ConnID) {
	delete(c.byID, id)
	if c.hungUp == nil {
		c.hungUp = map[ConnID]bool{}
	}
	c.hungUp[id] = true
}

// count is the number of tracked connections.
func (c *conns) count() int { return len(c.byID) }
