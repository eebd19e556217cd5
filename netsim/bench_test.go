package netsim

import (
	"testing"
	"time"
)

// busyNet is a five-node network with every datagram knob on and one link cut, so the
// benchmarks take the slow paths the simulator takes under faults.
func busyNet(t fataler) *Net {
	cfg := DefaultConfig()
	cfg.Link.LossProb, cfg.Link.DupProb, cfg.Link.ReorderProb = 0.01, 0.01, 0.05
	n := newNet(t, 1, cfg, 0, 1, 2, 3, 4)
	n.Apply(0, CutOneWay(3, 4))
	return n
}

// Send and StreamSend must not allocate once the caller's buffer and the links exist: the
// simulator sends hundreds of thousands of messages per second.
func TestSendDoesNotAllocate(t *testing.T) {
	n := busyNet(t)
	id, _ := n.Open(10, 0)
	buf := make([]Time, 0, copiesMax)
	var now Time
	allocs := testing.AllocsPerRun(1000, func() {
		now += Time(time.Microsecond)
		buf = n.Send(buf[:0], now, Addr(now%5), Addr((now+1)%5), 512)
		n.StreamSend(now, id, Addr(now%2*10), 512)
		n.Connected(3, 4)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per send", allocs)
	}
}

func BenchmarkSend(b *testing.B) {
	n := busyNet(b)
	buf := make([]Time, 0, copiesMax)
	var now Time
	for i := 0; b.Loop(); i++ {
		now += Time(time.Microsecond)
		buf = n.Send(buf[:0], now, Addr(i%5), Addr((i+1)%5), 512)
	}
}

func BenchmarkStreamSend(b *testing.B) {
	n := busyNet(b)
	id, _ := n.Open(10, 0)
	var now Time
	for i := 0; b.Loop(); i++ {
		now += Time(time.Microsecond)
		n.StreamSend(now, id, Addr(i%2*10), 512)
	}
}
