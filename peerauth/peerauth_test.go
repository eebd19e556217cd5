package peerauth

import (
	"bytes"
	"errors"
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

func secret(t testing.TB, fill byte) Secret {
	t.Helper()
	s, err := NewSecret(bytes.Repeat([]byte{fill}, SecretBytesMin))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func nonce(b byte) [NonceBytes]byte {
	var n [NonceBytes]byte
	for i := range n {
		n[i] = b + byte(i)
	}
	return n
}

// handshake runs a whole handshake from node 2 to node 1 and returns both keys.
func handshake(t testing.TB, dialSecret, acceptSecret Secret, want int32) (Key, Key, error) {
	t.Helper()
	d, hello := Dial(dialSecret, Hello{Node: 2, Cluster: "c", Addr: "10.0.0.2:9093", Nonce: nonce(1)})
	a, challenge, err := Accept(acceptSecret, hello, 1, nonce(100))
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if a.Hello.Node != 2 || a.Hello.Cluster != "c" || a.Hello.Addr != "10.0.0.2:9093" {
		t.Fatalf("hello read back as %+v", a.Hello)
	}
	proof, dk, err := d.Finish(challenge, want)
	if err != nil {
		return Key{}, Key{}, err
	}
	ak, err := a.Finish(proof)
	return dk, ak, err
}

func TestHandshakeAgreesOnAKey(t *testing.T) {
	dk, ak, err := handshake(t, secret(t, 7), secret(t, 7), 1)
	if err != nil {
		t.Fatal(err)
	}
	frame := NewSealer(dk).Seal(nil, []byte("vote for me"))
	got, err := NewOpener(ak, plant.Set{}).Open(frame)
	if err != nil || string(got) != "vote for me" {
		t.Fatalf("open: %q, %v", got, err)
	}
}

func TestWrongSecretFailsOnBothSides(t *testing.T) {
	// A dialer without the secret is refused by the acceptor; the dialer, for its part,
	// refuses an acceptor that cannot prove the secret before it proves anything itself.
	if _, _, err := handshake(t, secret(t, 7), secret(t, 8), 1); !errors.Is(err, ErrProof) {
		t.Fatalf("dialer facing a stranger: %v, want ErrProof", err)
	}
	d, hello := Dial(secret(t, 8), Hello{Node: 2, Cluster: "c", Nonce: nonce(1)})
	a, challenge, err := Accept(secret(t, 7), hello, 1, nonce(100))
	if err != nil {
		t.Fatal(err)
	}
	// An attacker who cannot compute a proof sends whatever it has.
	if _, err := a.Finish(challenge[4+NonceBytes:]); !errors.Is(err, ErrProof) {
		t.Fatalf("acceptor facing a stranger: %v, want ErrProof", err)
	}
	_ = d
}

func TestReachingTheWrongNodeFails(t *testing.T) {
	if _, _, err := handshake(t, secret(t, 7), secret(t, 7), 3); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("got %v, want ErrWrongPeer", err)
	}
}

// TestAcceptorProofIsNotADialerProof: a stranger that connects to a node gets a
// challenge with that node's proof; sending the proof back must not pass.
func TestAcceptorProofIsNotADialerProof(t *testing.T) {
	s := secret(t, 7)
	hello := AppendHello(nil, Hello{Version: Version, Node: 2, Cluster: "c", Nonce: nonce(1)})
	a, challenge, err := Accept(s, hello, 1, nonce(100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Finish(challenge[4+NonceBytes:]); !errors.Is(err, ErrProof) {
		t.Fatalf("reflected proof: %v, want ErrProof", err)
	}
}

// TestFramesDoNotCrossConnections: a frame sealed on one connection fails on another,
// and any change to a frame fails.
func TestFramesDoNotCrossConnections(t *testing.T) {
	s := secret(t, 7)
	dk, _, err := handshake(t, s, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, hello := Dial(s, Hello{Node: 2, Cluster: "c", Nonce: nonce(50)})
	a, ch, _ := Accept(s, hello, 1, nonce(150))
	proof, _, err := d.Finish(ch, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Finish(proof)
	if err != nil {
		t.Fatal(err)
	}
	frame := NewSealer(dk).Seal(nil, []byte("fetch"))
	if _, err := NewOpener(other, plant.Set{}).Open(frame); !errors.Is(err, ErrTag) {
		t.Fatalf("frame of another connection: %v, want ErrTag", err)
	}
	for i := range frame {
		bad := bytes.Clone(frame)
		bad[i] ^= 0x40
		if _, err := NewOpener(dk, plant.Set{}).Open(bad); !errors.Is(err, ErrTag) {
			t.Fatalf("flipped byte %d: %v, want ErrTag", i, err)
		}
	}
	if _, err := NewOpener(dk, plant.Set{}).Open(frame[:TagBytes-1]); !errors.Is(err, ErrTag) {
		t.Fatalf("short frame: %v", err)
	}
}

func TestHelloBounds(t *testing.T) {
	good := AppendHello(nil, Hello{Version: Version, Node: 4, Cluster: "c", Addr: "h:1", Nonce: nonce(3)})
	if _, err := ParseHello(good); err != nil {
		t.Fatal(err)
	}
	old := bytes.Clone(good)
	old[0] = 1
	if _, err := ParseHello(old); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 1: %v", err)
	}
	for _, b := range [][]byte{nil, good[:len(good)-1], append(bytes.Clone(good), 0), bytes.Repeat([]byte{0xff}, HelloBytesMax+1)} {
		if _, err := ParseHello(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: %v, want ErrMalformed", b, err)
		}
	}
	if _, err := NewSecret(make([]byte, SecretBytesMin-1)); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// The fuzz targets feed each handshake message and each frame to its reader: nothing
// may panic, and nothing but the right bytes may pass.

func FuzzParseHello(f *testing.F) {
	f.Add(AppendHello(nil, Hello{Version: Version, Node: 1, Cluster: "seedlog", Addr: "127.0.0.1:9093"}))
	f.Add([]byte{2, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err != nil {
			return
		}
		if again := AppendHello(nil, h); !bytes.Equal(again, b) {
			t.Fatalf("hello %x re-encodes as %x", b, again)
		}
	})
}

func FuzzAccept(f *testing.F) {
	s := secret(f, 7)
	f.Add(AppendHello(nil, Hello{Version: Version, Node: 1, Cluster: "seedlog", Addr: "127.0.0.1:9093"}), []byte{})
	f.Add(AppendHello(nil, Hello{Version: Version, Node: -1}), make([]byte, ProofBytes))
	f.Fuzz(func(t *testing.T, hello, proof []byte) {
		a, ch, err := Accept(s, hello, 9, nonce(5))
		if err != nil {
			return
		}
		if len(ch) != ChallengeBytes {
			t.Fatalf("challenge of %d bytes", len(ch))
		}
		if _, err := a.Finish(proof); err == nil {
			t.Fatalf("a proof made without the secret passed: %x", proof)
		}
	})
}

func FuzzDialerFinish(f *testing.F) {
	s := secret(f, 7)
	_, hello := Dial(s, Hello{Node: 2, Cluster: "c", Nonce: nonce(1)})
	_, good, _ := Accept(s, hello, 1, nonce(9))
	f.Add(good)
	f.Add(make([]byte, ChallengeBytes))
	f.Fuzz(func(t *testing.T, challenge []byte) {
		d, _ := Dial(s, Hello{Node: 2, Cluster: "c", Nonce: nonce(1)})
		_, _, err := d.Finish(challenge, 1)
		if err == nil && !bytes.Equal(challenge, good) {
			// Only the acceptor's own answer to this exact hello proves the secret.
			t.Fatalf("challenge %x passed", challenge)
		}
	})
}

func FuzzOpen(f *testing.F) {
	s := secret(f, 7)
	d, hello := Dial(s, Hello{Node: 2, Cluster: "c", Nonce: nonce(1)})
	a, ch, _ := Accept(s, hello, 1, nonce(9))
	proof, dk, _ := d.Finish(ch, 1)
	ak, _ := a.Finish(proof)
	sealed := NewSealer(dk).Seal(nil, []byte("payload"))
	f.Add(sealed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		payload, err := NewOpener(ak, plant.Set{}).Open(frame)
		if err == nil && !bytes.Equal(frame, sealed) {
			t.Fatalf("forged frame %x opened as %q", frame, payload)
		}
	})
}

// Sealing and opening a frame allocate nothing beyond the frame itself.
func TestSealAndOpenDoNotAllocate(t *testing.T) {
	dk, ak, err := handshake(t, secret(t, 7), secret(t, 7), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, o := NewSealer(dk), NewOpener(ak, plant.Set{})
	payload := bytes.Repeat([]byte{7}, 300)
	buf := make([]byte, 0, len(payload)+TagBytes)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := o.Open(s.Seal(buf[:0], payload)); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per seal and open", n)
	}
}

func BenchmarkSealOpen(b *testing.B) {
	dk, ak, err := handshake(b, secret(b, 7), secret(b, 7), 1)
	if err != nil {
		b.Fatal(err)
	}
	s, o := NewSealer(dk), NewOpener(ak, plant.Set{})
	payload := bytes.Repeat([]byte{7}, 200)
	buf := make([]byte, 0, len(payload)+TagBytes)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := o.Open(s.Seal(buf[:0], payload)); err != nil {
			b.Fatal(err)
		}
	}
}

// A tag over a head and a tail sent one after the other opens as the tag of the frame
// they make, and not as that of another split of different bytes.
func TestTagPairTagsTheJoinedPayload(t *testing.T) {
	dk, ak, err := handshake(t, secret(t, 7), secret(t, 7), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, o := NewSealer(dk), NewOpener(ak, plant.Set{})
	head, tail := []byte("head of a fetch answer"), bytes.Repeat([]byte{9}, 1000)
	frame := append(append(append([]byte(nil), head...), tail...), s.TagPair(nil, head, tail)...)
	payload, err := o.Open(frame)
	if err != nil || !bytes.Equal(payload, append(append([]byte(nil), head...), tail...)) {
		t.Fatalf("open: %v", err)
	}
	if !bytes.Equal(s.TagPair(nil, head, tail), s.Tag(nil, payload)) {
		t.Fatal("the pair's tag differs from the joined payload's")
	}
	frame[len(head)] ^= 1
	if _, err := o.Open(frame); err == nil {
		t.Fatal("a changed tail opened")
	}
}
