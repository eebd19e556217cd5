package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientPKI is a CA with the files of a client listener's certificate and of a
// client's certificate, all in one directory.
type clientPKI struct {
	ca     *PeerCA
	dir    string
	server TLSFiles // tls.cert.file, tls.key.file, and the CA as tls.client.ca.file
	client TLSFiles // a client certificate of the same CA
}

func newClientPKI(t *testing.T) *clientPKI {
	t.Helper()
	ca, err := NewPeerCA("test client CA", time.Hour)
	must(t, err)
	p := &clientPKI{ca: ca, dir: t.TempDir()}
	caFile := filepath.Join(p.dir, "ca.pem")
	must(t, os.WriteFile(caFile, ca.CertPEM, 0o600))
	p.server = p.issue(t, "server", "broker", []string{"127.0.0.1", "localhost"})
	p.server.CAFile = caFile
	p.client = p.issue(t, "client", "test client", nil)
	p.client.CAFile = caFile
	return p
}

// issue writes a certificate and key named name under the PKI's CA.
func (p *clientPKI) issue(t *testing.T, file, name string, hosts []string) TLSFiles {
	t.Helper()
	cert, key, err := p.ca.HostCert(name, hosts, time.Hour)
	must(t, err)
	f := TLSFiles{CertFile: filepath.Join(p.dir, file+".pem"), KeyFile: filepath.Join(p.dir, file+".key")}
	must(t, os.WriteFile(f.CertFile, cert, 0o600))
	must(t, os.WriteFile(f.KeyFile, key, 0o600))
	return f
}

// clientConfig is a TLS client configuration that trusts the PKI's CA and, when cert
// is set, presents that certificate.
func (p *clientPKI) clientConfig(t *testing.T, cert *TLSFiles) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.ca.CertPEM)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		must(t, err)
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg
}

// tlsConfigFor sets c up with one client listener named SSL (protocol proto) and the
// PKI's server certificate.
func tlsConfigFor(t *testing.T, c *Config, p *clientPKI, proto string) {
	t.Helper()
	peer := "127.0.0.1:9093"
	if l, ok := c.listener("PEER"); ok {
		peer = l.Addr
	}
	must(t, c.Set("listeners", "SSL://127.0.0.1:0,PEER://"+peer))
	must(t, c.Set("listener.security.protocol.map", "SSL:"+proto+",PEER:PLAINTEXT"))
	must(t, c.Set("tls.cert.file", p.server.CertFile))
	must(t, c.Set("tls.key.file", p.server.KeyFile))
}

// TestClientTLSSettingsAreChecked: Validate refuses client TLS settings that cannot
// work, in one line naming the setting and what to do, and accepts those that can.
func TestClientTLSSettingsAreChecked(t *testing.T) {
	p := newClientPKI(t)
	other := newClientPKI(t)
	garbage := filepath.Join(p.dir, "garbage.pem")
	must(t, os.WriteFile(garbage, []byte("not PEM\n"), 0o600))
	missing := filepath.Join(p.dir, "missing.pem")
	base := func() Config {
		c := DefaultConfig()
		tlsConfigFor(t, &c, p, protocolSSL)
		return c
	}
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string // "" for a valid configuration
	}{
		{"SSL listener with a certificate", nil, ""},
		{"SSL listener without a certificate", map[string]string{"tls.cert.file": "", "tls.key.file": ""}, "listener SSL uses SSL: set tls.cert.file and tls.key.file"},
		{"certificate without a key", map[string]string{"tls.key.file": ""}, "tls.cert.file and tls.key.file go together"},
		{"missing certificate file", map[string]string{"tls.cert.file": missing}, "tls.cert.file: open " + missing + ": no such file or directory; point it at a readable PEM certificate chain"},
		{"missing key file", map[string]string{"tls.key.file": missing}, "tls.key.file: open " + missing},
		{"certificate that is not PEM", map[string]string{"tls.cert.file": garbage}, "give a PEM certificate chain and its own private key"},
		{"key of another certificate", map[string]string{"tls.key.file": other.server.KeyFile}, "its own private key"},
		{"client auth required without a CA", map[string]string{"ssl.client.auth": "required"}, "ssl.client.auth=required: set tls.client.ca.file"},
		{"client auth requested without a CA", map[string]string{"ssl.client.auth": "requested"}, "ssl.client.auth=requested: set tls.client.ca.file"},
		{"client CA without client auth", map[string]string{"tls.client.ca.file": p.server.CAFile}, "ssl.client.auth=none asks clients for no certificate"},
		{"client CA that is not PEM", map[string]string{"tls.client.ca.file": garbage, "ssl.client.auth": "required"}, "tls.client.ca.file " + garbage + " holds no PEM certificate"},
		{"missing client CA", map[string]string{"tls.client.ca.file": missing, "ssl.client.auth": "required"}, "tls.client.ca.file: open " + missing},
		{"client auth required with a CA", map[string]string{"tls.client.ca.file": p.server.CAFile, "ssl.client.auth": "required"}, ""},
		{"certificate without a TLS listener", map[string]string{"listener.security.protocol.map": "SSL:PLAINTEXT,PEER:PLAINTEXT"}, ""},
		{"SASL on the peer listener", map[string]string{"listener.security.protocol.map": "SSL:SSL,PEER:SASL_PLAINTEXT"}, "listener PEER: peers authenticate with peer.secret.file (PLAINTEXT) or mutual TLS (SSL), not SASL_PLAINTEXT"},
	} {
		c := base()
		for k, v := range tc.set {
			must(t, c.Set(k, v))
		}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: the error takes more than one line: %q", tc.name, err)
		}
	}
	c := DefaultConfig()
	for _, bad := range [][2]string{{"ssl.client.auth", "always"}, {"listener.security.protocol.map", "SSL:TLS"}, {"tls.handshake.timeout.ms", "0"}} {
		if err := c.Set(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: %v", bad[0], bad[1], err)
		}
	}
}

// TestSASLListenersAreAccepted: client listeners mapped to SASL_PLAINTEXT and SASL_SSL
// validate (the core demands SASL on them), the SSL one with its TLS settings.
func TestSASLListenersAreAccepted(t *testing.T) {
	p := newClientPKI(t)
	for _, proto := range []string{protocolSASLPlaintext, protocolSASLSSL} {
		c := DefaultConfig()
		tlsConfigFor(t, &c, p, proto)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", proto, err)
		}
	}
}

// TestRegisteredSecurityProtocols: a broker registers each client listener with
// Kafka's code of its protocol, which Metadata hands to clients and by which the core
// knows where to demand SASL.
func TestRegisteredSecurityProtocols(t *testing.T) {
	c := DefaultConfig()
	var bound []*boundListener
	for _, l := range []Listener{
		{Name: "A", Protocol: protocolPlaintext}, {Name: "B", Protocol: protocolSSL},
		{Name: "C", Protocol: protocolSASLPlaintext}, {Name: "D", Protocol: protocolSASLSSL},
		{Name: "PEER", Protocol: protocolSSL, Peer: true},
	} {
		l.Addr = "127.0.0.1:0"
		ln, err := net.Listen("tcp", l.Addr)
		must(t, err)
		defer ln.Close()
		bound = append(bound, &boundListener{cfg: l, ln: ln})
	}
	got := map[string]int16{}
	for _, l := range registered(&c, bound) {
		got[l.Name] = l.SecurityProtocol
	}
	want := map[string]int16{"A": 0, "B": 1, "C": 2, "D": 3, "PEER": 1}
	for name, code := range want {
		if c, ok := got[name]; !ok || c != code {
			t.Errorf("listener %s registered with code %d (%v), want %d", name, c, ok, code)
		}
	}
}

// TestClientTLSListener: franz-go produces and fetches over an SSL client listener; a
// stranger that opens a connection and sends nothing is closed after
// tls.handshake.timeout.ms, and a plaintext Kafka client is refused at its first bytes;
// both are counted, and the listener serves TLS clients on.
func TestClientTLSListener(t *testing.T) {
	p := newClientPKI(t)
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		tlsConfigFor(t, c, p, protocolSSL)
		must(t, c.Set("tls.handshake.timeout.ms", "300"))
	})
	n := tc.nodes[0]
	cl := tc.client(kgo.DialTLSConfig(p.clientConfig(t, nil)))
	tc.createTopic(cl, "tls", 1, 1)
	produceN(t, cl, "tls", 0, "v", 50)
	checkDense(t, readAll(t, cl, "tls", 0, 50), "v")

	silent := dialRaw(t, n.ClientAddr())
	silent.expectClosed("a connection that never starts its TLS handshake")
	waitUntil(t, "the handshake timeout to be counted", func() bool { return testutil.ToFloat64(n.metrics.tlsHandshakeFailed.c) == 1 })

	plain := dialRaw(t, n.ClientAddr())
	plain.write(plain.encode(kmsg.NewPtrApiVersionsRequest()))
	plain.expectClosed("a plaintext Kafka request on a TLS listener")
	waitUntil(t, "the plaintext request to be counted", func() bool { return testutil.ToFloat64(n.metrics.tlsHandshakeFailed.c) == 2 })

	produceN(t, cl, "tls", 0, "v", 50)
	if got := testutil.ToFloat64(n.metrics.connsOpened.c); got < 1 {
		t.Errorf("%v client connections opened", got)
	}
}

// TestClientCertificates: with ssl.client.auth=required only clients with a
// certificate of tls.client.ca.file get in; with requested, clients without one get in
// too, but a certificate of another CA is still refused.
func TestClientCertificates(t *testing.T) {
	p := newClientPKI(t)
	stranger := newClientPKI(t)
	for _, tt := range []struct {
		auth               ClientAuth
		none, own, otherCA bool // whether each client gets in
	}{
		{ClientAuthRequired, false, true, false},
		{ClientAuthRequested, true, true, false},
	} {
		t.Run(string(tt.auth), func(t *testing.T) {
			tc := startCluster(t, 1, 1, func(_ int, c *Config) {
				tlsConfigFor(t, c, p, protocolSSL)
				must(t, c.Set("tls.client.ca.file", p.server.CAFile))
				must(t, c.Set("ssl.client.auth", string(tt.auth)))
			})
			addr := tc.nodes[0].ClientAddr()
			for _, cl := range []struct {
				name string
				cert *TLSFiles
				want bool
			}{{"no certificate", nil, tt.none}, {"a certificate of the CA", &p.client, tt.own}, {"a certificate of another CA", &stranger.client, tt.otherCA}} {
				if got := kafkaOverTLS(addr, p.clientConfig(t, cl.cert)) == nil; got != cl.want {
					t.Errorf("a client with %s: served %v, want %v", cl.name, got, cl.want)
				}
			}
		})
	}
}

// kafkaOverTLS opens a TLS connection to addr and asks for the API versions; nil when
// it was answered.
func kafkaOverTLS(addr string, cfg *tls.Config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(cfg), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	return err
}

// TestClientCertificateReload: new handshakes take a rotated certificate; files that do
// not load keep the previous certificate and are logged and counted once.
func TestClientCertificateReload(t *testing.T) {
	p := newClientPKI(t)
	c := DefaultConfig()
	tlsConfigFor(t, &c, p, protocolSSL)
	var logs bytes.Buffer
	var logMu sync.Mutex
	m := newMetrics()
	ct, err := newClientTLS(&c, slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)), m)
	must(t, err)
	ct.checkEvery = 0
	serial := func() string {
		cert, err := ct.certificate(nil)
		must(t, err)
		return leafSerial(cert)
	}
	first := serial()

	rotated := p.issue(t, "rotated", "broker", []string{"127.0.0.1"})
	replaceCert(t, p.server, rotated)
	second := serial()
	if second == first {
		t.Fatalf("the certificate was not reloaded after its files changed (serial %s)", first)
	}
	must(t, os.WriteFile(p.server.CertFile, []byte("-----BEGIN CERTIFICATE-----\ntruncated"), 0o600))
	for range 5 {
		if got := serial(); got != second {
			t.Fatalf("a broken certificate file replaced the certificate: serial %s, want %s", got, second)
		}
	}
	must(t, os.Remove(p.server.KeyFile))
	for range 5 {
		if got := serial(); got != second {
			t.Fatalf("a missing key file replaced the certificate: serial %s, want %s", got, second)
		}
	}
	logMu.Lock()
	errorLines := strings.Count(logs.String(), "level=ERROR")
	logMu.Unlock()
	if errorLines != 2 || testutil.ToFloat64(m.tlsCertReloadFailed.c) != 2 {
		t.Errorf("two broken versions of the files logged %d times and counted %v, want 2 each:\n%s", errorLines, testutil.ToFloat64(m.tlsCertReloadFailed.c), logs.String())
	}
	third := p.issue(t, "third", "broker", []string{"127.0.0.1"})
	replaceCert(t, p.server, third)
	if got := serial(); got == second || got == first {
		t.Errorf("repaired files were not loaded: serial %s", got)
	}
	if got := testutil.ToFloat64(m.tlsCertReloads.c); got != 2 {
		t.Errorf("%v reloads counted, want 2", got)
	}
}

// replaceCert copies the files of from over those of to.
func replaceCert(t *testing.T, to, from TLSFiles) {
	t.Helper()
	for _, pair := range [][2]string{{from.KeyFile, to.KeyFile}, {from.CertFile, to.CertFile}} {
		b, err := os.ReadFile(pair[0])
		must(t, err)
		must(t, os.WriteFile(pair[1], b, 0o600))
	}
}

// A verified client certificate names the connection's principal as Kafka's default
// principal builder does; a connection without one has none (the core makes it
// User:ANONYMOUS, or the user it authenticates as with SASL).
func TestCertPrincipal(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Example"}}}
	if got := certPrincipal(tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}); got != "User:CN=alice,O=Example" {
		t.Errorf("principal %q", got)
	}
	if got := certPrincipal(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}); got != "" {
		t.Errorf("an unverified certificate named principal %q", got)
	}
}
