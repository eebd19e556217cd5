package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/node"
)

// TestSecurityFlagCombinationsExitTwo: security flags that cannot work together are
// usage errors, found before any connection is tried.
func TestSecurityFlagCombinationsExitTwo(t *testing.T) {
	t.Setenv(saslPasswordEnv, "")
	for _, args := range [][]string{
		{"topic", "list", "--tls-ca", "ca.pem"},
		{"topic", "list", "--tls-server-name", "broker.example"},
		{"topic", "list", "--tls", "--tls-cert", "c.pem"},
		{"topic", "list", "--tls", "--tls-key", "c.key"},
		{"produce", "t", "--tls-cert", "c.pem", "--tls-key", "c.key"},
		{"topic", "list", "--sasl-user", "alice"},
		{"topic", "list", "--sasl-password", "secret"},
		{"topic", "list", "--sasl-mechanism", "GSSAPI", "--sasl-user", "alice", "--sasl-password", "secret"},
		{"topic", "list", "--sasl-mechanism", "PLAIN", "--sasl-user", "alice"},
		{"topic", "list", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-password", "secret"},
		{"consume", "t", "--sasl-mechanism", "SCRAM-SHA-256"},
		{"group", "list", "--tls-ca", "ca.pem"},
		{"cluster", "describe", "--tls-key", "k"},
		{"bench", "--sasl-user", "alice"},
	} {
		if code := dispatch(append(args, "-b", "127.0.0.1:1")); code != exitUsage {
			t.Errorf("seedlog %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
}

// TestSASLFlags: the mechanism's name is taken in any case, the password comes from
// the flag or else from the environment, and the mechanism opens with the user's
// credentials.
func TestSASLFlags(t *testing.T) {
	t.Setenv(saslPasswordEnv, "from-env")
	for _, tt := range []struct {
		mechanism, flagPassword string
		wantFirst               string // the mechanism's first message, or its prefix for SCRAM
	}{
		{"plain", "", "\x00alice\x00from-env"},
		{"PLAIN", "from-flag", "\x00alice\x00from-flag"},
		{"scram-sha-256", "", "n,,n=alice,r="},
		{"SCRAM-SHA-512", "from-flag", "n,,n=alice,r="},
	} {
		s := securityOptions{saslMechanism: tt.mechanism, saslUser: "alice", saslPassword: tt.flagPassword}
		if err := s.resolve(); err != nil {
			t.Fatalf("%s: %v", tt.mechanism, err)
		}
		m := s.mechanism()
		if m == nil || m.Name() != strings.ToUpper(tt.mechanism) {
			t.Fatalf("%s: mechanism %v", tt.mechanism, m)
		}
		_, first, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
		if err != nil || !strings.HasPrefix(string(first), tt.wantFirst) {
			t.Errorf("%s: first message %q (%v), want %q", tt.mechanism, first, err, tt.wantFirst)
		}
		if want := map[bool]string{true: "from-env", false: "from-flag"}[tt.flagPassword == ""]; s.saslPassword != want {
			t.Errorf("%s: password %q, want %q", tt.mechanism, s.saslPassword, want)
		}
	}
}

// tlsBroker is a one-node cluster in this process whose client listener takes TLS and
// requires a client certificate, with the files a client needs.
type tlsBroker struct {
	addr                      string
	caFile, certFile, keyFile string
}

func startTLSBroker(t *testing.T) tlsBroker {
	t.Helper()
	dir := t.TempDir()
	ca, err := node.NewPeerCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(name string, hosts []string) (string, string) {
		cert, key, err := ca.HostCert(name, hosts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", cert), write(name+".key", key)
	}
	b := tlsBroker{caFile: write("ca.pem", ca.CertPEM)}
	serverCert, serverKey := issue("broker", []string{"127.0.0.1", "localhost"})
	b.certFile, b.keyFile = issue("client", nil)
	peer := freeLoopback(t)
	b.addr = startBroker(t, map[string]string{
		"controller.quorum.voters":       "1@" + peer,
		"listeners":                      "SSL://127.0.0.1:0,PEER://" + peer,
		"listener.security.protocol.map": "SSL:SSL,PEER:PLAINTEXT",
		"tls.cert.file":                  serverCert,
		"tls.key.file":                   serverKey,
		"tls.client.ca.file":             b.caFile,
		"ssl.client.auth":                "required",
		"log.dirs":                       filepath.Join(dir, "data"),
	}).ClientAddr()
	return b
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestTLSFlagsReachABroker: with --tls, the CA and a client certificate, a client
// command is served by a broker that requires client certificates; without the
// certificate, without TLS, with a CA file that cannot be read, or checking the wrong
// server name, it could not run (exit 3).
func TestTLSFlagsReachABroker(t *testing.T) {
	b := startTLSBroker(t)
	ok := []string{"cluster", "describe", "-b", b.addr, "--timeout", "20s", "--tls", "--tls-ca", b.caFile, "--tls-cert", b.certFile, "--tls-key", b.keyFile}
	if code := dispatch(ok); code != exitOK {
		t.Fatalf("seedlog %s: exit %d", strings.Join(ok, " "), code)
	}
	if code := dispatch(append(ok, "--tls-server-name", "localhost")); code != exitOK {
		t.Errorf("--tls-server-name localhost, a name of the certificate: exit %d", code)
	}
	for what, args := range map[string][]string{
		"no client certificate": {"--tls", "--tls-ca", b.caFile},
		"no TLS":                {},
		"a CA file missing":     {"--tls", "--tls-ca", b.caFile + ".missing", "--tls-cert", b.certFile, "--tls-key", b.keyFile},
		"another server name":   {"--tls", "--tls-ca", b.caFile, "--tls-cert", b.certFile, "--tls-key", b.keyFile, "--tls-server-name", "elsewhere.example"},
		"the system's CAs only": {"--tls", "--tls-cert", b.certFile, "--tls-key", b.keyFile},
	} {
		args = append([]string{"cluster", "describe", "-b", b.addr, "--timeout", "1s"}, args...)
		if code := dispatch(args); code != exitProblem {
			t.Errorf("%s: exit %d, want %d (seedlog %s)", what, code, exitProblem, strings.Join(args, " "))
		}
	}
}
