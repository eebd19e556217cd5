package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/peerauth"
)

// peerEnd is the part of a node a peer handshake uses.
func peerEnd(t *testing.T, id int32, auth peerAuth) *Node {
	cfg := DefaultConfig()
	must(t, cfg.Set("node.id", fmt.Sprint(id)))
	n := &Node{cfg: cfg, peerAuth: auth, peerAdvertised: fmt.Sprintf("10.0.0.%d:9093", id)}
	n.peers = newPeerNet(n)
	return n
}

func secretAuth(t *testing.T, s string) peerAuth {
	sec, err := peerauth.NewSecret([]byte(s))
	must(t, err)
	return peerAuth{secret: sec}
}

// handshakeResult is what each side of one handshake got.
type handshakeResult struct {
	dialErr, acceptErr error
	from               int32
	addr               string
	frameOK            bool
}

// runHandshake connects dialer to acceptor over loopback TCP as dialer's link to node
// want, and sends one frame when both sides agree.
func runHandshake(t *testing.T, dialer, acceptor *Node, want int32, proto string) handshakeResult {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	var res handshakeResult
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		raw, err := ln.Accept()
		if err != nil {
			res.acceptErr = err
			return
		}
		defer raw.Close()
		p, err := acceptor.acceptPeer(&boundListener{cfg: Listener{Name: "PEER", Protocol: proto, Peer: true}}, raw)
		res.acceptErr, res.from, res.addr = err, p.from, p.addr
		if err != nil {
			return
		}
		frame, err := readPeerFrame(p.br, 1<<20)
		if err == nil && p.opener != nil {
			frame, err = p.opener.Open(frame)
		}
		res.frameOK = err == nil && string(frame) == "vote"
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	defer raw.Close()
	link := newPeerLink(dialer.peers, want)
	nc, sealer, err := link.handshake(raw)
	res.dialErr = err
	if err == nil {
		body := []byte("vote")
		if sealer != nil {
			body = sealer.Seal(nil, body)
		}
		_, err := nc.Write(appendPeerFrame(nil, body))
		must(t, err)
	} else {
		raw.Close()
	}
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the acceptor did not finish")
	}
	return res
}

func TestPeerHandshakeWithSecret(t *testing.T) {
	const s = "0123456789abcdef0123456789abcdef"
	res := runHandshake(t, peerEnd(t, 2, secretAuth(t, s)), peerEnd(t, 1, secretAuth(t, s)), 1, protocolPlaintext)
	if res.dialErr != nil || res.acceptErr != nil || res.from != 2 || res.addr != "10.0.0.2:9093" || !res.frameOK {
		t.Fatalf("%+v", res)
	}
	// A dialer with another secret proves nothing and learns that it reached a stranger.
	res = runHandshake(t, peerEnd(t, 2, secretAuth(t, s+"x")), peerEnd(t, 1, secretAuth(t, s)), 1, protocolPlaintext)
	if !errors.Is(res.dialErr, peerauth.ErrProof) || res.acceptErr == nil {
		t.Fatalf("another secret: %+v", res)
	}
	// Reaching another node than the one dialled is refused by the dialer.
	res = runHandshake(t, peerEnd(t, 2, secretAuth(t, s)), peerEnd(t, 3, secretAuth(t, s)), 1, protocolPlaintext)
	if !errors.Is(res.dialErr, peerauth.ErrWrongPeer) {
		t.Fatalf("wrong node: %+v", res)
	}
	// A node without credentials takes no peers.
	res = runHandshake(t, peerEnd(t, 2, secretAuth(t, s)), peerEnd(t, 1, peerAuth{}), 1, protocolPlaintext)
	if !errors.Is(res.acceptErr, errNoPeerAuth) {
		t.Fatalf("no credentials: %+v", res)
	}
}

// writeNodeCerts issues certificates for nodes under ca into dir and returns their files.
func writeNodeCerts(t *testing.T, dir string, ca *PeerCA, ids ...int32) map[int32]TLSFiles {
	must(t, os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM, 0o600))
	out := map[int32]TLSFiles{}
	for _, id := range ids {
		cert, key, err := ca.NodeCert(id, []string{"127.0.0.1"}, time.Hour)
		must(t, err)
		f := TLSFiles{CertFile: filepath.Join(dir, fmt.Sprintf("node-%d.pem", id)), KeyFile: filepath.Join(dir, fmt.Sprintf("node-%d.key", id)), CAFile: filepath.Join(dir, "ca.pem")}
		must(t, os.WriteFile(f.CertFile, cert, 0o600))
		must(t, os.WriteFile(f.KeyFile, key, 0o600))
		out[id] = f
	}
	return out
}

func tlsAuth(t *testing.T, f TLSFiles, id int32) peerAuth {
	p, err := loadPeerTLS(f, id)
	must(t, err)
	return peerAuth{tls: p}
}

func TestPeerHandshakeWithTLS(t *testing.T) {
	ca, err := NewPeerCA("test", time.Hour)
	must(t, err)
	files := writeNodeCerts(t, t.TempDir(), ca, 1, 2, 3)
	res := runHandshake(t, peerEnd(t, 2, tlsAuth(t, files[2], 2)), peerEnd(t, 1, tlsAuth(t, files[1], 1)), 1, protocolSSL)
	if res.dialErr != nil || res.acceptErr != nil || res.from != 2 || !res.frameOK {
		t.Fatalf("%+v", res)
	}
	// A certificate names its node: loading node 3's certificate as node 2 fails.
	if _, err := loadPeerTLS(files[3], 2); err == nil || !strings.Contains(err.Error(), "not node 2") {
		t.Fatalf("node 3's certificate loaded as node 2: %v", err)
	}
	// A node holding node 3's certificate cannot claim to be node 2.
	liar := peerEnd(t, 2, tlsAuth(t, files[3], 3))
	res = runHandshake(t, liar, peerEnd(t, 1, tlsAuth(t, files[1], 1)), 1, protocolSSL)
	if res.acceptErr == nil || !strings.Contains(res.acceptErr.Error(), "claims to be node 2") {
		t.Fatalf("a node claiming another's id: %+v", res)
	}
	// The dialer checks that it reached the node it dialled.
	res = runHandshake(t, peerEnd(t, 2, tlsAuth(t, files[2], 2)), peerEnd(t, 3, tlsAuth(t, files[3], 3)), 1, protocolSSL)
	if res.dialErr == nil {
		t.Fatalf("reached node 3 when dialling node 1: %+v", res)
	}
	// A certificate from another CA is refused.
	other, err := NewPeerCA("other", time.Hour)
	must(t, err)
	stranger := writeNodeCerts(t, t.TempDir(), other, 2)
	res = runHandshake(t, peerEnd(t, 2, tlsAuth(t, stranger[2], 2)), peerEnd(t, 1, tlsAuth(t, files[1], 1)), 1, protocolSSL)
	if res.acceptErr == nil || res.dialErr == nil {
		t.Fatalf("a certificate of another CA: %+v", res)
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
