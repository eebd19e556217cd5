package node

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestIdleConnectionsAreClosed: a connection that sends nothing for
// connections.max.idle.ms is closed; one that keeps sending is not.
func TestIdleConnectionsAreClosed(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("connections.max.idle.ms", "300"))
	})
	addr := tc.nodes[0].ClientAddr()
	idle, busy := dialRaw(t, addr), dialRaw(t, addr)
	for range 10 {
		busy.roundTrip(kmsg.NewPtrApiVersionsRequest())
		time.Sleep(100 * time.Millisecond)
	}
	idle.expectClosed("an idle connection")
	busy.roundTrip(kmsg.NewPtrApiVersionsRequest())
	waitUntil(t, "the idle close to be counted", func() bool { return testutil.ToFloat64(tc.nodes[0].metrics.connsIdleClosed.c) == 1 })
}

// TestStalledRequestIsClosed: a request whose bytes stop arriving mid-frame is closed
// after socket.request.read.timeout.ms, whatever the idle timeout.
func TestStalledRequestIsClosed(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("socket.request.read.timeout.ms", "300"))
	})
	r := dialRaw(t, tc.nodes[0].ClientAddr())
	start := time.Now()
	r.write(append(binary.BigEndian.AppendUint32(nil, 1000), "a few bytes of a big request"...))
	r.expectClosed("a stalled request")
	if time.Since(start) > 5*time.Second {
		t.Errorf("closed after %v", time.Since(start))
	}
	waitUntil(t, "the read timeout to be counted", func() bool { return testutil.ToFloat64(tc.nodes[0].metrics.framesTimedOut.c) == 1 })
}

// TestStalledRequestsCannotHoldTheBudget: connections that each send part of a large
// request and stall fill queued.max.request.bytes; a client that then needs memory for
// its requests gets it by evicting the stalled ones, and keeps producing and fetching.
func TestStalledRequestsCannotHoldTheBudget(t *testing.T) {
	const budget = 4 << 20
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("queued.max.request.bytes", fmt.Sprint(budget)))
		must(t, c.Set("socket.request.max.bytes", fmt.Sprint(budget/2)))
	})
	admin := tc.client()
	tc.createTopic(admin, "steady", 1, 1)
	addr := tc.nodes[0].ClientAddr()
	// Twice the budget, declared; each sends 256 KiB of its 2 MiB and stalls.
	var stalled []*rawConn
	for range 16 {
		r := dialRaw(t, addr)
		r.write(binary.BigEndian.AppendUint32(nil, budget/2))
		r.write(make([]byte, 256<<10))
		stalled = append(stalled, r)
	}
	n := tc.nodes[0]
	waitUntil(t, "the stalled requests to fill the budget", func() bool {
		used, _ := n.budget.usage()
		return used > budget-512<<10
	})
	steady := startSteadyClient(tc, "steady")
	defer func() { steady.stop(); steady.wg.Wait() }()
	steady.progress(t, "the budget filled with stalled requests")
	if used, evicted := n.budget.usage(); used > budget || evicted == 0 {
		t.Errorf("%d bytes held of %d, %d stalled requests evicted", used, budget, evicted)
	}
	closed := 0
	for _, r := range stalled {
		r.nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := r.nc.Read(make([]byte, 1)); err != nil && !strings.Contains(err.Error(), "timeout") {
			closed++
		}
	}
	if closed == 0 {
		t.Error("no stalled connection was closed")
	}
}

// TestTagBombIsRefused sends a flexible Produce whose tag count announces 2^32-1 tags
// in a body of a few bytes: the broker closes the connection, at once.
func TestTagBombIsRefused(t *testing.T) {
	tc := startCluster(t, 1, 1, nil)
	bomb, err := hex.DecodeString(strings.ReplaceAll("0000 0009 00000029 0004 73655664 00 00 ffff0000 03e8 02 02 74 02 000000ff 02 41 ffffffff 0f 00", " ", ""))
	must(t, err)
	for range 50 {
		r := dialRaw(t, tc.nodes[0].ClientAddr())
		r.write(frame(bomb))
		r.expectClosed("a tag bomb")
	}
	r := dialRaw(t, tc.nodes[0].ClientAddr())
	r.roundTrip(kmsg.NewPtrApiVersionsRequest())
}
