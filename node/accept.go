package node

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// boundListener is a listener of the configuration and its socket.
type boundListener struct {
	cfg Listener
	ln  net.Listener
}

// Accept backoff: when accepting fails for a reason that passes (the process or the
// system is out of descriptors or buffers), the loop waits and tries again instead of
// ending, and the node keeps serving the connections it has.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// acceptLoop accepts connections on l until it closes, handing each to serve.
func (n *Node) acceptLoop(l *boundListener, serve func(*boundListener, net.Conn)) {
	backoff := time.Duration(0)
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			n.metrics.acceptErrors.Add(1)
			n.refusals.note("accept-"+acceptErrorKind(err), "accepting connections failed; retrying", "listener", l.cfg.Name, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-n.quit:
				return
			}
			continue
		}
		backoff = 0
		n.goFunc(func() { serve(l, nc) })
	}
}

// acceptErrorKind names an accept failure for its log line.
func acceptErrorKind(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "fd-limit"
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return "memory"
	}
	return "other"
}

// refusalLog writes at most one warning per reason per refusalLogEvery, with the count of
// the ones it held back: a flood of refused connections must not become a flood of log
// lines.
type refusalLog struct {
	log *slog.Logger
	mu  sync.Mutex
	by  map[string]*refusalCount
}

const refusalLogEvery = 10 * time.Second

// refusalReasonsMax bounds the reasons tracked (they are a fixed set in practice).
const refusalReasonsMax = 64

type refusalCount struct {
	last    time.Time
	skipped int
}

func newRefusalLog(l *slog.Logger) *refusalLog {
	return &refusalLog{log: l, by: map[string]*refusalCount{}}
}

// note logs msg with args unless reason was logged within refusalLogEvery.
func (r *refusalLog) note(reason, msg string, args ...any) {
	r.mu.Lock()
	c := r.by[reason]
	if c == nil {
		if len(r.by) >= refusalReasonsMax {
			r.mu.Unlock()
			return
		}
		c = &refusalCount{}
		r.by[reason] = c
	}
	now := time.Now()
	if !c.last.IsZero() && now.Sub(c.last) < refusalLogEvery {
		c.skipped++
		r.mu.Unlock()
		return
	}
	skipped := c.skipped
	c.last, c.skipped = now, 0
	r.mu.Unlock()
	if skipped > 0 {
		args = append(args, "similar_since_last_line", skipped)
	}
	r.log.Warn(msg, args...)
}

// peerSlots bounds incoming peer connections (peer.connections.max), handshakes
// included. A stranger can open connections and never finish a handshake; when the
// slots are full, the oldest unfinished handshake makes room, so nodes, which finish
// theirs in a round trip, always get in.
type peerSlots struct {
	mu          sync.Mutex
	max         int
	count       int
	handshaking []*peerSlot // oldest first
}

type peerSlot struct {
	nc      net.Conn
	counted bool
}

// enter takes a slot for nc, or returns nil when every slot holds an authenticated peer.
func (p *peerSlots) enter(nc net.Conn) *peerSlot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count >= p.max {
		if len(p.handshaking) == 0 {
			return nil
		}
		old := p.handshaking[0]
		p.handshaking = p.handshaking[1:]
		old.counted = false
		p.count--
		old.nc.Close()
	}
	s := &peerSlot{nc: nc, counted: true}
	p.count++
	p.handshaking = append(p.handshaking, s)
	return s
}

// authenticated takes s off the list of handshakes that may be evicted.
func (p *peerSlots) authenticated(s *peerSlot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop(s)
}

// leave gives s back.
func (p *peerSlots) leave(s *peerSlot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop(s)
	if s.counted {
		s.counted = false
		p.count--
	}
}

func (p *peerSlots) drop(s *peerSlot) {
	for i, h := range p.handshaking {
		if h == s {
			p.handshaking = append(p.handshaking[:i], p.handshaking[i+1:]...)
			return
		}
	}
}

func (p *peerSlots) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}
