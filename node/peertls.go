package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mutual TLS between peers. Every node holds a certificate signed by the cluster's CA
// that names it with the URI SAN seedlog:node:<id>. The acceptor requires a client
// certificate and takes the peer's id from it; the dialer checks that the certificate
// of the node it reached names the node it meant to reach. Host names play no part:
// nodes are often addressed by IP, and the id is what the protocols trust.

// nodeURIPrefix is the URI SAN prefix that carries a node id.
const nodeURIPrefix = "seedlog:node:"

// NodeURI is the URI SAN a node certificate carries.
func NodeURI(id int32) string { return nodeURIPrefix + strconv.Itoa(int(id)) }

// peerTLS holds a node's certificate and the pool of CAs it trusts for peers.
type peerTLS struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// loadPeerTLS reads the PEM files and checks that the certificate names node self.
func loadPeerTLS(f TLSFiles, self int32) (*peerTLS, error) {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("peer.tls.cert.file/peer.tls.key.file: %w", err)
	}
	pool, err := loadCAPool("peer.tls.ca.file", f.CAFile)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("peer.tls.cert.file: %w", err)
	}
	if id, ok := certNodeID(leaf); !ok || id != self {
		return nil, fmt.Errorf("peer.tls.cert.file names %s, not node %d (want the URI SAN %s)", describeCertID(leaf), self, NodeURI(self))
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("peer.tls.cert.file is not signed by peer.tls.ca.file: %w", err)
	}
	cert.Leaf = leaf
	return &peerTLS{cert: cert, pool: pool}, nil
}

// certNodeID reads the node id a certificate names.
func certNodeID(c *x509.Certificate) (int32, bool) {
	found, id := false, int32(-1)
	for _, u := range c.URIs {
		s, ok := strings.CutPrefix(u.String(), nodeURIPrefix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 || (found && int32(n) != id) {
			return -1, false // malformed, or two different ids
		}
		found, id = true, int32(n)
	}
	return id, found
}

func describeCertID(c *x509.Certificate) string {
	if id, ok := certNodeID(c); ok {
		return "node " + strconv.Itoa(int(id))
	}
	return "no node"
}

// server is the configuration of an accepting peer listener.
func (p *peerTLS) server() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
		MinVersion:   tls.VersionTLS13,
	}
}

// client is the configuration for dialling node to. Chain verification is done by hand
// because the standard check would match host names, which node certificates need not
// carry.
func (p *peerTLS) client(to int32) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{p.cert},
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return p.verifyNode(raw, to)
		},
	}
}

// verifyNode checks a presented chain against the pool and that its leaf names node to.
func (p *peerTLS) verifyNode(raw [][]byte, to int32) error {
	if len(raw) == 0 {
		return errors.New("the peer presented no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: p.pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if id, ok := certNodeID(certs[0]); !ok || id != to {
		return fmt.Errorf("dialled node %d, reached a certificate for %s", to, describeCertID(certs[0]))
	}
	return nil
}

// tlsPeerID is the node id the verified client certificate of a finished server
// handshake names.
func tlsPeerID(tc *tls.Conn) (int32, error) {
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return -1, errors.New("no client certificate")
	}
	id, ok := certNodeID(st.PeerCertificates[0])
	if !ok {
		return -1, fmt.Errorf("the client certificate names no node (want a URI SAN %s<id>)", nodeURIPrefix)
	}
	return id, nil
}

// PeerCA is a certificate authority for a cluster's node certificates, and for the
// certificates of client listeners and clients (HostCert).
type PeerCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertPEM is the CA certificate, for peer.tls.ca.file.
	CertPEM []byte
}

// NewPeerCA creates a self-signed CA valid for the given duration.
func NewPeerCA(name string, valid time.Duration) (*PeerCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(valid),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &PeerCA{cert: cert, key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// NodeCert issues node id's certificate and key (PEM), for the given host names and
// addresses (informational: peers check the id, not the host).
func (ca *PeerCA) NodeCert(id int32, hosts []string, valid time.Duration) (certPEM, keyPEM []byte, err error) {
	u, err := url.Parse(NodeURI(id))
	if err != nil {
		return nil, nil, err
	}
	tmpl := leafTemplate(fmt.Sprintf("seedlog node %d", id), hosts, valid)
	tmpl.URIs = []*url.URL{u}
	return ca.issue(tmpl)
}

// HostCert issues a certificate and key (PEM) named name for the given host names and
// addresses, which TLS clients check: a client listener's server certificate, or a
// client's certificate (the name is then the client's).
func (ca *PeerCA) HostCert(name string, hosts []string, valid time.Duration) (certPEM, keyPEM []byte, err error) {
	return ca.issue(leafTemplate(name, hosts, valid))
}

// leafTemplate is a certificate for both ends of a TLS connection, valid from an hour
// ago (clocks differ) for valid, naming hosts as IP or DNS SANs.
func leafTemplate(name string, hosts []string, valid time.Duration) *x509.Certificate {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(valid),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// issue signs tmpl with a fresh key and returns the certificate and key as PEM.
func (ca *PeerCA) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// KeyPEM is the CA's private key, PEM-encoded.
func (ca *PeerCA) KeyPEM() ([]byte, error) {
	kb, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
