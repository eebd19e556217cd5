package core

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// inFlightPerConnMax bounds the requests of one connection awaiting their responses. Real
// clients pipeline a handful (franz-go and librdkafka default to 5 produce requests per
// connection, plus metadata and fetches); a client past this bound is misbehaving and its
// connection is closed rather than letting it grow the node's memory.
const inFlightPerConnMax = 256

// connsMax bounds the connections the node tracks at once.
const connsMax = 16384

// conn orders the responses of one connection: Kafka clients match responses to requests
// by order as well as by correlation id, so a response that completes early waits for
// every earlier one.
type conn struct {
	pending []*slot // oldest first
}

// slot is one request's place in its connection's response order.
type slot struct {
	conn   ConnID
	corr   int32
	resp   kmsg.Response
	filled bool
	silent bool // acks=0 produce: no response is ever sent
}

// conns tracks every open connection.
type conns struct {
	byID map[ConnID]*conn
}

// open reserves a slot for a new request, or returns nil when the connection must be
// closed for exceeding its limits.
func (c *conns) open(id ConnID, corr int32) *slot {
	if c.byID == nil {
		c.byID = map[ConnID]*conn{}
	}
	cn := c.byID[id]
	if cn == nil {
		if len(c.byID) >= connsMax {
			return nil
		}
		cn = &conn{}
		c.byID[id] = cn
	}
	if len(cn.pending) >= inFlightPerConnMax {
		return nil
	}
	s := &slot{conn: id, corr: corr}
	cn.pending = append(cn.pending, s)
	return s
}

// fill records a slot's response (nil for no response) and appends to out every
// response that is now at the head of its connection.
func (c *conns) fill(s *slot, resp kmsg.Response, out []Response) []Response {
	if s.filled {
		panic("core: a request answered twice")
	}
	s.filled, s.resp, s.silent = true, resp, resp == nil
	cn := c.byID[s.conn]
	if cn == nil {
		return out // the connection closed meanwhile
	}
	i := 0
	for ; i < len(cn.pending) && cn.pending[i].filled; i++ {
		if p := cn.pending[i]; !p.silent {
			out = append(out, Response{Conn: p.conn, Corr: p.corr, Msg: p.resp})
		}
	}
	if i > 0 {
		clear(cn.pending[:i])
		cn.pending = cn.pending[i:]
	}
	return out
}

// close forgets a connection. Slots still pending are filled later into the void.
func (c *conns) close(id ConnID) { delete(c.byID, id) }

// count is the number of tracked connections.
func (c *conns) count() int { return len(c.byID) }
