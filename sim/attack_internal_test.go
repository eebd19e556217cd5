package sim

import (
	"bytes"
	"testing"

	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/peerauth"
)

// The attacker's client frames are classified as the node's reader will take them: the
// frames that must close the connection do not decode, follower fetches decode and must
// be refused.
func TestAttackClientFramesAsTheReaderSeesThem(t *testing.T) {
	w, err := newWorld(Options{Seed: 7, Byzantine: true})
	if err != nil {
		t.Fatal(err)
	}
	a, target := w.attack, w.nodes[0]
	for _, kind := range attackClientKinds {
		for range 20 {
			frame := a.clientFrame(target, kind)
			rule, _ := a.expectation(frame)
			switch kind {
			case "peer-preamble", "peer-preamble-hello":
				if !bytes.HasPrefix(frame, []byte("SDLP")) || rule != answerNone {
					t.Fatalf("%s: %x read as %d", kind, frame, rule)
				}
				if _, _, err := wire.FrameSize(frame, wire.FrameSizeDefaultMax); err == nil {
					t.Fatalf("%s: the preamble reads as a frame size within the limit", kind)
				}
			case "tag-bomb-header", "tag-bomb-body", "raw-peer", "framed-peer", "controller-call":
				if rule != answerNone {
					t.Fatalf("%s: %x may be answered (%d)", kind, frame, rule)
				}
			case "replica-fetch":
				if rule != answerError {
					t.Fatalf("%s: %x read as %d", kind, frame, rule)
				}
			}
			if kind == "tag-bomb-body" || kind == "tag-bomb-header" {
				if !bytes.Contains(frame, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}) {
					t.Fatalf("%s: no tag count of 0xffffffff in %x", kind, frame)
				}
			}
		}
	}
}

// wholeFrame and the reassembly take frames the way the node's reader does.
func TestWholeFrame(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want bool
	}{
		{[]byte{0, 0, 0, 0}, true},
		{[]byte{0, 0, 0, 1, 9}, true},
		{[]byte{0, 0, 0, 2, 9}, false},
		{[]byte{0, 0, 0}, false},
		{[]byte("SDLP\x00"), false},
	} {
		if got := wholeFrame(c.b); got != c.want {
			t.Errorf("wholeFrame(%x) = %v", c.b, got)
		}
	}
}

// A datagram opens only on the connection and in the session it was sealed in.
func TestSessionsSealAndRefuse(t *testing.T) {
	w, err := newWorld(Options{Seed: 3, NoFaults: true, NoWorkload: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range w.nodes {
		n.up = true // no machines: only the shell's bookkeeping is exercised
	}
	if len(w.nodes) < 2 {
		t.Skip("seed 3 draws a one-node cluster")
	}
	a, b := w.nodes[0], w.nodes[1]
	s := w.auth.dial(a, b)
	serial := s.serial
	frame := s.sealer.Seal(nil, []byte("payload"))
	if p, from, ok := w.auth.open(a.spec.ID, b, frame, serial); !ok || from != a.spec.ID || string(p) != "payload" {
		t.Fatalf("open: %q from %d, %v", p, from, ok)
	}
	if _, _, ok := w.auth.open(b.spec.ID, a, frame, 0); ok {
		t.Fatal("a frame opened on the reverse connection")
	}
	if again := w.auth.dial(a, b); again != s || w.cov["auth:session"] != 1 {
		t.Fatalf("a second handshake within the same incarnations (%d sessions)", w.cov["auth:session"])
	}
	b.inc++ // b restarted
	if _, _, ok := w.auth.open(a.spec.ID, b, frame, serial); ok || w.cov[refusedReset] != 1 {
		t.Fatal("a frame of an ended connection opened")
	}
	if s2 := w.auth.dial(a, b); s2.serial == serial || w.cov["auth:session"] != 2 {
		t.Fatal("no new session after a restart")
	}
	if _, _, ok := w.auth.open(a.spec.ID, b, frame, serial); ok || w.cov[refusedReset] != 2 {
		t.Fatal("a frame of the earlier incarnation opened on the new connection")
	}
	forged := append(append([]byte(nil), "payload"...), make([]byte, peerauth.TagBytes)...)
	if _, _, ok := w.auth.open(a.spec.ID, b, forged, 0); ok || w.cov[refusedTag] != 1 {
		t.Fatal("a frame with a made-up tag opened")
	}
}
