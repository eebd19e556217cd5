package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// flakyListener fails Accept with an error a number of times, then hands out conns.
type flakyListener struct {
	mu     sync.Mutex
	fails  int
	err    error
	conns  chan net.Conn
	closed chan struct{}
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", l.err)}
	}
	l.mu.Unlock()
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *flakyListener) Close() error   { close(l.closed); return nil }
func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestAcceptSurvivesDescriptorExhaustion: accept failing with EMFILE does not end the
// listener; once descriptors are back, connections are served again, and the failures
// are logged once, not once each.
func TestAcceptSurvivesDescriptorExhaustion(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	n := &Node{metrics: newMetrics(), quit: make(chan struct{})}
	n.refusals = newRefusalLog(slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)))
	l := &flakyListener{fails: 12, err: syscall.EMFILE, conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	served := make(chan net.Conn, 1)
	done := make(chan struct{})
	go func() {
		n.acceptLoop(&boundListener{cfg: Listener{Name: "PLAINTEXT"}, ln: l}, func(_ *boundListener, c net.Conn) { served <- c })
		close(done)
	}()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l.conns <- a
	select {
	case c := <-served:
		if c != a {
			t.Fatal("served another connection")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no connection served after the descriptor shortage ended")
	}
	if got := testutil.ToFloat64(n.metrics.acceptErrors.c); got != 12 {
		t.Errorf("%v accept errors counted, want 12", got)
	}
	l.Close()
	<-done
	n.wg.Wait()
	logMu.Lock()
	lines := strings.Count(logs.String(), "accepting connections failed")
	logMu.Unlock()
	if lines < 1 || lines > 5 {
		t.Errorf("%d log lines for 12 failures:\n%s", lines, logs.String())
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestRefusalLogIsRateLimited(t *testing.T) {
	var logs bytes.Buffer
	r := newRefusalLog(slog.New(slog.NewTextHandler(&logs, nil)))
	for range 1000 {
		r.note("max.connections", "too many")
	}
	r.note("peer-handshake", "refused")
	if got := strings.Count(logs.String(), "\n"); got != 2 {
		t.Fatalf("%d lines for 1001 refusals of two reasons:\n%s", got, logs.String())
	}
	// The next line after the window says how many were held back.
	r.by["max.connections"].last = time.Now().Add(-refusalLogEvery)
	r.note("max.connections", "too many")
	if !strings.Contains(logs.String(), "similar_since_last_line=999") {
		t.Fatalf("no count of the held-back lines:\n%s", logs.String())
	}
	for i := range 2 * refusalReasonsMax {
		r.note(fmt.Sprint("reason-", i), "x")
	}
	if len(r.by) > refusalReasonsMax {
		t.Fatalf("%d reasons tracked", len(r.by))
	}
}

// TestPeerSlotsEvictUnfinishedHandshakes: at the limit, the oldest connection still in
// its handshake makes room; authenticated peers are never pushed out.
func TestPeerSlotsEvictUnfinishedHandshakes(t *testing.T) {
	p := &peerSlots{max: 2}
	conns := make([]net.Conn, 4)
	for i := range conns {
		a, b := net.Pipe()
		defer b.Close()
		conns[i] = a
	}
	s0 := p.enter(conns[0])
	s1 := p.enter(conns[1])
	p.authenticated(s0)
	s2 := p.enter(conns[2]) // evicts s1, the only handshake
	if s2 == nil || s1.counted || p.open() != 2 {
		t.Fatalf("slot %v, evicted slot still counted %v, %d open", s2, s1.counted, p.open())
	}
	if _, err := conns[1].Write([]byte{1}); err == nil {
		t.Fatal("the evicted handshake's connection is open")
	}
	p.leave(s1) // its goroutine ends later; that must not free a second slot
	p.authenticated(s2)
	if s3 := p.enter(conns[3]); s3 != nil {
		t.Fatal("a connection got in while every slot holds an authenticated peer")
	}
	p.leave(s0)
	if s3 := p.enter(conns[3]); s3 == nil || p.open() != 2 {
		t.Fatalf("no slot after a peer left: %d open", p.open())
	}
}
