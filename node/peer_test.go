package node

import (
	"bytes"
	"fmt"
	"testing"
)

func TestHandshakeRoundTrip(t *testing.T) {
	for _, h := range []handshake{
		{id: 7, cluster: "prod-eu", addr: "10.1.2.3:9093"},
		{id: 0, cluster: "", addr: ""},
		{id: -1, cluster: "x", addr: "[::1]:1"},
	} {
		b := appendHandshake(nil, h)
		got, err := readHandshake(bytes.NewReader(b))
		if err != nil || got != h {
			t.Errorf("%+v came back as %+v, %v", h, got, err)
		}
	}
	bad := appendHandshake(nil, handshake{id: 1, cluster: "c", addr: "no-port"})
	if _, err := readHandshake(bytes.NewReader(bad)); err == nil {
		t.Error("an address without a port was accepted")
	}
	old := appendHandshake(nil, handshake{id: 1, cluster: "c"})
	old[8] = peerVersion + 1
	if _, err := readHandshake(bytes.NewReader(old)); err == nil {
		t.Error("another protocol version was accepted")
	}
}

// TestPeerAddressOrder checks where a peer is looked for: the configuration first, then
// what its handshake announced, then its broker registration; and that announcements
// are bounded.
func TestPeerAddressOrder(t *testing.T) {
	cfg := DefaultConfig()
	must(t, cfg.Set("controller.quorum.voters", "1@v1:1"))
	must(t, cfg.Set("peers", "5@p5:5"))
	p := newPeerNet(&Node{cfg: cfg})
	p.book.Store(&map[int32]string{1: "image1:9", 5: "image5:9", 6: "image6:9", 7: "image7:9"})
	p.learn(1, "said1:2")
	p.learn(6, "said6:2")
	for id, want := range map[int32]string{1: "v1:1", 5: "p5:5", 6: "said6:2", 7: "image7:9", 8: ""} {
		if got := p.addr(id); got != want {
			t.Errorf("node %d at %q, want %q", id, got, want)
		}
	}
	for i := range announcedMax + 10 {
		p.learn(int32(100+i), fmt.Sprintf("h:%d", i))
	}
	if len(p.announced) != announcedMax {
		t.Errorf("%d announced addresses kept, bound %d", len(p.announced), announcedMax)
	}
	p.learn(6, "moved6:3")
	if got := p.addr(6); got != "moved6:3" {
		t.Errorf("a known node's new address was not taken at the bound: %q", got)
	}
}
