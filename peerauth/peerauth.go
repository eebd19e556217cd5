// Package peerauth proves who is at the other end of a peer connection when peers talk
// without TLS. Every node of a cluster holds the same secret; a connection opens with a
// three-message handshake in which each side proves it holds the secret over fresh
// nonces from both sides, and every frame after it carries an HMAC under a key that only
// this connection's two ends can derive.
//
//	dialer   -> acceptor  Hello      version, dialer node id, cluster id, dialer's peer
//	                                 address, dialer nonce
//	acceptor -> dialer    Challenge  acceptor node id, acceptor nonce, acceptor proof
//	dialer   -> acceptor  Proof      dialer proof
//
// The transcript is the Hello's bytes followed by the acceptor's id and nonce. The
// acceptor proves itself first, with HMAC(secret, "acceptor" || transcript); the dialer
// checks that proof (and that it reached the node it meant to) before it answers with
// HMAC(secret, "dialer" || transcript). The distinct labels keep either proof from
// being reflected as the other. The frame key is HMAC(secret, "frames" || transcript):
// the nonces make it new for every connection, so frames cannot be replayed onto
// another connection.
//
// What the handshake authenticates is membership: whoever holds the secret may claim
// any node id. Binding an id to a key is what mutual TLS with per-node certificates is
// for. Frames are authenticated, not encrypted, and carry no sequence number: an
// attacker on the path could drop, repeat or reorder whole frames, which the peer
// protocols tolerate because they are built for a lossy, duplicating network.
//
// The package is deterministic: nonces are inputs, so the simulator runs the same
// handshake with nonces from its seeded source.
package peerauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/seedlog/seedlog/core/plant"
)

// Version is the handshake version a Hello carries.
const Version uint8 = 2

const (
	// NonceBytes is the size of each side's nonce.
	NonceBytes = 32
	// SecretBytesMin is the shortest secret accepted: 256 bits.
	SecretBytesMin = 32
	// SecretBytesMax bounds a secret read from a file.
	SecretBytesMax = 4096
	// proofBytes is the size of a handshake proof (a whole HMAC-SHA256).
	proofBytes = sha256.Size
	// TagBytes is the size of the HMAC each frame ends with (HMAC-SHA256 truncated to
	// 128 bits, as RFC 2104 allows: forging one online takes 2^128 tries).
	TagBytes = 16
	// ClusterBytesMax and AddrBytesMax bound the strings of a Hello.
	ClusterBytesMax = 255
	AddrBytesMax    = 255
	// HelloBytesMax bounds an encoded Hello.
	HelloBytesMax = 1 + 4 + 2 + ClusterBytesMax + 2 + AddrBytesMax + NonceBytes
	// ChallengeBytes and ProofBytes are the exact sizes of the other two messages.
	ChallengeBytes = 4 + NonceBytes + proofBytes
	ProofBytes     = proofBytes
)

// Errors of the handshake. A peer that fails any of them is closed.
var (
	ErrMalformed = errors.New("peerauth: malformed handshake message")
	ErrVersion   = errors.New("peerauth: unsupported handshake version")
	ErrProof     = errors.New("peerauth: proof does not match the cluster secret")
	ErrWrongPeer = errors.New("peerauth: reached a different node than dialled")
	ErrTag       = errors.New("peerauth: frame authentication failed")
)

// Secret is the cluster's shared secret.
type Secret struct{ key []byte }

// NewSecret checks and copies a secret.
func NewSecret(b []byte) (Secret, error) {
	if len(b) < SecretBytesMin || len(b) > SecretBytesMax {
		return Secret{}, fmt.Errorf("peerauth: a secret of %d bytes; want %d to %d", len(b), SecretBytesMin, SecretBytesMax)
	}
	return Secret{key: append([]byte(nil), b...)}, nil
}

// Valid reports whether s holds a secret.
func (s Secret) Valid() bool { return len(s.key) > 0 }

func (s Secret) mac(label string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Hello opens a connection. The node id in it is a claim until the handshake ends.
type Hello struct {
	Version uint8
	Node    int32
	Cluster string
	// Addr is where the dialer takes peer connections (host:port), or empty.
	Addr  string
	Nonce [NonceBytes]byte
}

// AppendHello appends h's encoding. It panics on strings over their bounds: a node's
// own configuration is checked before it dials.
func AppendHello(dst []byte, h Hello) []byte {
	if len(h.Cluster) > ClusterBytesMax || len(h.Addr) > AddrBytesMax {
		panic("peerauth: hello string over its bound")
	}
	dst = append(dst, h.Version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Node))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Cluster)))
	dst = append(dst, h.Cluster...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Addr)))
	dst = append(dst, h.Addr...)
	return append(dst, h.Nonce[:]...)
}

// ParseHello decodes a Hello that fills b exactly. Any version parses, so that the
// caller can say which one it got; only Version is served.
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	if len(b) > HelloBytesMax || len(b) < 1+4+2+2+NonceBytes {
		return h, fmt.Errorf("%w: hello of %d bytes", ErrMalformed, len(b))
	}
	h.Version = b[0]
	h.Node = int32(binary.BigEndian.Uint32(b[1:]))
	rest := b[5:]
	var ok bool
	if h.Cluster, rest, ok = cut16(rest, ClusterBytesMax); !ok {
		return h, fmt.Errorf("%w: cluster id", ErrMalformed)
	}
	if h.Addr, rest, ok = cut16(rest, AddrBytesMax); !ok {
		return h, fmt.Errorf("%w: address", ErrMalformed)
	}
	if len(rest) != NonceBytes {
		return h, fmt.Errorf("%w: nonce of %d bytes", ErrMalformed, len(rest))
	}
	copy(h.Nonce[:], rest)
	if h.Version != Version {
		return h, fmt.Errorf("%w: %d, want %d", ErrVersion, h.Version, Version)
	}
	return h, nil
}

func cut16(b []byte, max int) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > max || len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// transcript is what both proofs and the frame key are computed over.
func transcript(hello []byte, acceptor int32, nonce [NonceBytes]byte) []byte {
	t := append([]byte(nil), hello...)
	t = binary.BigEndian.AppendUint32(t, uint32(acceptor))
	return append(t, nonce[:]...)
}

// Dialer is the dialing side of a handshake in progress.
type Dialer struct {
	secret Secret
	hello  []byte
}

// Dial starts a handshake: it returns the Hello to send.
func Dial(s Secret, h Hello) (*Dialer, []byte) {
	if !s.Valid() {
		panic("peerauth: dial without a secret")
	}
	h.Version = Version
	b := AppendHello(nil, h)
	return &Dialer{secret: s, hello: b}, b
}

// Finish checks the acceptor's Challenge: it must prove the secret and come from node
// want. It returns the Proof to send and the key that seals this connection's frames.
func (d *Dialer) Finish(challenge []byte, want int32) (proof []byte, key Key, err error) {
	if len(challenge) != ChallengeBytes {
		return nil, Key{}, fmt.Errorf("%w: challenge of %d bytes", ErrMalformed, len(challenge))
	}
	acceptor := int32(binary.BigEndian.Uint32(challenge))
	var nonce [NonceBytes]byte
	copy(nonce[:], challenge[4:])
	t := transcript(d.hello, acceptor, nonce)
	if !hmac.Equal(challenge[4+NonceBytes:], d.secret.mac("seedlog peer acceptor", t)) {
		return nil, Key{}, ErrProof
	}
	if acceptor != want {
		return nil, Key{}, fmt.Errorf("%w: node %d answered for node %d", ErrWrongPeer, acceptor, want)
	}
	return d.secret.mac("seedlog peer dialer", t), Key{d.secret.mac("seedlog peer frames", t)}, nil
}

// Acceptor is the accepting side of a handshake in progress.
type Acceptor struct {
	secret Secret
	t      []byte
	// Hello is what the dialer claimed; its Node is proven once Finish succeeds.
	Hello Hello
}

// Accept answers a Hello (as ParseHello returned it, with hello its bytes) with this
// node's id and a fresh nonce: it returns the Challenge to send.
func Accept(s Secret, hello []byte, self int32, nonce [NonceBytes]byte) (*Acceptor, []byte, error) {
	if !s.Valid() {
		panic("peerauth: accept without a secret")
	}
	h, err := ParseHello(hello)
	if err != nil {
		return nil, nil, err
	}
	t := transcript(hello, self, nonce)
	ch := binary.BigEndian.AppendUint32(make([]byte, 0, ChallengeBytes), uint32(self))
	ch = append(ch, nonce[:]...)
	ch = append(ch, s.mac("seedlog peer acceptor", t)...)
	return &Acceptor{secret: s, t: t, Hello: h}, ch, nil
}

// Finish checks the dialer's Proof and returns the key of this connection's frames.
func (a *Acceptor) Finish(proof []byte) (Key, error) {
	if len(proof) != ProofBytes {
		return Key{}, fmt.Errorf("%w: proof of %d bytes", ErrMalformed, len(proof))
	}
	if !hmac.Equal(proof, a.secret.mac("seedlog peer dialer", a.t)) {
		return Key{}, ErrProof
	}
	return Key{a.secret.mac("seedlog peer frames", a.t)}, nil
}

// Key seals and opens the frames of one connection.
type Key struct{ k []byte }

// Valid reports whether k came from a finished handshake.
func (k Key) Valid() bool { return len(k.k) > 0 }

// Sealer appends tags to frames. It reuses its hash and scratch space: one per writer.
type Sealer struct{ mac }

// Opener checks and strips tags. It reuses its hash and scratch space: one per reader.
type Opener struct {
	mac
	// plants are the planted bugs of a simulated run (always none in a release build).
	plants plant.Set
}

// mac is an HMAC-SHA256 under one key and the scratch space of its sums, so that
// tagging a frame allocates nothing.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewSealer starts the writing end of a key.
func NewSealer(k Key) *Sealer { return &Sealer{mac{h: hmac.New(sha256.New, k.k)}} }

// NewOpener starts the reading end of a key. plants is the node's set of planted bugs
// (core/plant): the zero Set outside the simulator's self-test.
func NewOpener(k Key, plants plant.Set) *Opener {
	return &Opener{mac: mac{h: hmac.New(sha256.New, k.k)}, plants: plants}
}

// tag returns the tag of payload, in m's scratch space (valid until the next call).
func (m *mac) tag(payload []byte) []byte {
	m.h.Reset()
	m.h.Write(payload)
	return m.h.Sum(m.sum[:0])[:TagBytes]
}

// Seal appends payload and its tag to dst.
func (s *Sealer) Seal(dst, payload []byte) []byte {
	dst = append(dst, payload...)
	return append(dst, s.tag(payload)...)
}

// Tag appends the tag of payload to dst, for a writer that sends payload itself.
func (s *Sealer) Tag(dst, payload []byte) []byte { return append(dst, s.tag(payload)...) }

// TagPair appends the tag of the payload head followed by tail to dst, for a writer that
// sends the two itself, one after the other.
func (s *Sealer) TagPair(dst, head, tail []byte) []byte {
	s.h.Reset()
	s.h.Write(head)
	s.h.Write(tail)
	return append(dst, s.h.Sum(s.sum[:0])[:TagBytes]...)
}

// Open checks a sealed frame and returns its payload, which aliases frame.
func (o *Opener) Open(frame []byte) ([]byte, error) {
	if len(frame) < TagBytes {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrTag, len(frame))
	}
	payload := frame[:len(frame)-TagBytes]
	if o.plants.On(plant.PeerAuthSkipped) {
		return payload, nil // planted bug: the tag is never checked
	}
	if !hmac.Equal(frame[len(payload):], o.tag(payload)) {
		return nil, ErrTag
	}
	return payload, nil
}
