package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDevConfigsLayout checks the dev cluster's layout: the first three brokers vote,
// the rest are brokers reached through `peers`, ports follow --port, every
// configuration validates.
func TestDevConfigsLayout(t *testing.T) {
	cfgs, clientTLS, err := devConfigs(devOptions{brokers: 5, port: 30000, sets: repeatFlag{"num.partitions=4"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 5 || clientTLS != nil {
		t.Fatalf("%d configurations, client TLS %v", len(cfgs), clientTLS)
	}
	for i, c := range cfgs {
		if err := c.Validate(); err != nil {
			t.Errorf("broker %d: %v", i+1, err)
		}
		want := fmt.Sprintf("[{PLAINTEXT 127.0.0.1:%d PLAINTEXT false} {PEER 127.0.0.1:%d PLAINTEXT true}]", 30000+i, 40000+i)
		if c.NodeID != int32(i+1) || fmt.Sprint(c.Listeners) != want || c.PeerSecretFile == "" {
			t.Errorf("broker %d: id %d, listeners %v (want %s), secret %q", i+1, c.NodeID, c.Listeners, want, c.PeerSecretFile)
		}
		if voter := i < 3; c.Controller != voter || !c.Broker {
			t.Errorf("broker %d: controller %v broker %v", i+1, c.Controller, c.Broker)
		}
		if len(c.Voters) != 3 || len(c.Peers) != 2 || c.Peers[0].ID != 4 || c.Peers[1].Addr != "127.0.0.1:40004" {
			t.Errorf("broker %d: voters %v peers %v", i+1, c.Voters, c.Peers)
		}
		if c.Defaults.Partitions != 4 || c.Defaults.ReplicationFactor != 3 || c.Defaults.MinInsyncReplicas != 2 {
			t.Errorf("broker %d: defaults %+v", i+1, c.Defaults)
		}
		if !strings.HasSuffix(c.DataDir, fmt.Sprintf("node-%d", i+1)) {
			t.Errorf("broker %d: data dir %s", i+1, c.DataDir)
		}
	}
	tlsCfgs, _, err := devConfigs(devOptions{brokers: 3, port: 30000, peerTLS: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range tlsCfgs {
		if err := c.Validate(); err != nil || c.PeerProtocol() != "SSL" || c.PeerSecretFile != "" {
			t.Errorf("--peer-tls broker %d: %v, protocol %s", i+1, err, c.PeerProtocol())
		}
	}
	one, _, err := devConfigs(devOptions{brokers: 1, port: 30000}, t.TempDir())
	if err != nil || one[0].Defaults.ReplicationFactor != 1 || one[0].Defaults.MinInsyncReplicas != 1 {
		t.Errorf("one broker: %v %+v", err, one)
	}
	if _, _, err := devConfigs(devOptions{brokers: 3, port: 30000, sets: repeatFlag{"nosuch.key=1"}}, t.TempDir()); err == nil {
		t.Error("an unknown --set key was accepted")
	}
}

func TestClientCommandUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"topic"}, {"topic", "bogus"}, {"topic", "create"}, {"topic", "create", "a", "b"},
		{"topic", "create", "a", "--config", "novalue"}, {"topic", "delete"},
		{"topic", "alter-config", "a"}, {"topic", "alter-config", "a", "--set", "novalue"}, {"topic", "alter-config", "--set", "k=v"},
		{"produce"}, {"produce", "t", "--acks", "2"}, {"consume"}, {"consume", "a", "b"},
		{"group"}, {"group", "describe"}, {"group", "reset-offsets", "g", "--topic", "t"},
		{"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest"},
		{"group", "reset-offsets", "g", "--topic", "t", "--all-topics", "--to-earliest"},
		{"group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"},
		{"group", "delete"}, {"topic", "add-partitions", "t"}, {"topic", "delete-records", "t", "--before", "-2"},
		{"consume", "t", "--group", "g", "--partition", "0"}, {"consume", "t", "--offset", "3"},
		{"consume", "t", "--partition", "4294967296"}, {"consume", "t", "--format", "%v", "--print-key"},
		{"consume", "t", "--format", "%d{unknown}"}, {"topic", "delete-records", "t", "--partition", "4294967296"},
		{"produce", "t", "--header", "novalue"}, {"cluster"}, {"cluster", "bogus"},
		{"bench", "--acks", "7"}, {"bench", "--duration", "1s", "--warmup", "2s"}, {"bench", "extra"},
		{"bench", "--catch-up"}, {"bench", "--catch-up", "--topic", "t", "--bytes", "5"},
		{"bench", "--catch-up", "--topic", "t", "--consume"}, {"bench", "--catch-up", "--topic", "t", "--fetch-max-bytes", "0"},
		{"bench", "--bytes", "-1"},
		{"dev", "--brokers", "0"}, {"dev", "--port", "65000", "--brokers", "3"}, {"dev", "extra"},
		{"broker", "--node.id", "x"}, {"broker", "extra"}, {"broker", "--log-level", "loud"},
		{"quota"}, {"quota", "bogus"}, {"quota", "alter", "--producer-byte-rate", "5"},
		{"quota", "alter", "--user", "a"}, {"quota", "alter", "--user", "a", "--producer-byte-rate", "x"},
		{"quota", "alter", "--user", "a", "--default-user", "--remove", "producer_byte_rate"},
		{"quota", "describe", "extra"},
		{"cluster", "elect-leaders", "--partition", "0"}, {"cluster", "elect-leaders", "extra"},
		{"cluster", "reassign"}, {"cluster", "reassign", "--replicas", "1,2"}, {"cluster", "reassign", "--topic", "t"},
		{"cluster", "reassign", "--topic", "t", "--replicas", "1,x"}, {"cluster", "reassign", "--list", "--cancel", "--topic", "t"},
		{"cluster", "decommission"}, {"cluster", "decommission", "--broker", "1", "extra"},
	} {
		if code := dispatch(args); code != exitUsage {
			t.Errorf("seedlog %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
}

// TestDevConfigsWithClientTLS: with --tls the dev brokers' client listeners are SSL,
// each with a certificate of the dev CA valid for 127.0.0.1 and localhost; a kept data
// directory keeps its CA, and one that lacks a broker's certificate gets a new set.
func TestDevConfigsWithClientTLS(t *testing.T) {
	dir := t.TempDir()
	cfgs, clientTLS, err := devConfigs(devOptions{brokers: 2, port: 30000, tls: true, peerTLS: true}, dir)
	if err != nil || clientTLS == nil {
		t.Fatalf("%v, client TLS %v", err, clientTLS)
	}
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(clientTLS.caFile())
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("dev CA %s: %v", clientTLS.caFile(), err)
	}
	for i, c := range cfgs {
		if err := c.Validate(); err != nil {
			t.Fatalf("broker %d: %v", i+1, err)
		}
		want := fmt.Sprintf("[{SSL 127.0.0.1:%d SSL false} {PEER 127.0.0.1:%d SSL true}]", 30000+i, 40000+i)
		if fmt.Sprint(c.Listeners) != want {
			t.Errorf("broker %d: listeners %v, want %s", i+1, c.Listeners, want)
		}
		kp, err := tls.LoadX509KeyPair(c.ClientTLS.CertFile, c.ClientTLS.KeyFile)
		if err != nil {
			t.Fatalf("broker %d: %v", i+1, err)
		}
		leaf, err := x509.ParseCertificate(kp.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"127.0.0.1", "localhost"} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
				t.Errorf("broker %d's certificate for %s: %v", i+1, host, err)
			}
		}
	}
	if _, again, err := devConfigs(devOptions{brokers: 2, port: 30000, tls: true}, dir); err != nil || !sameFile(t, again.caFile(), caPEM) {
		t.Errorf("a kept data directory changed its CA (%v)", err)
	}
	if _, more, err := devConfigs(devOptions{brokers: 3, port: 30000, tls: true}, dir); err != nil || sameFile(t, more.caFile(), caPEM) {
		t.Errorf("a third broker did not get a new set of certificates (%v)", err)
	} else if _, err := os.Stat(more.certFile(3)); err != nil {
		t.Errorf("broker 3's certificate: %v", err)
	}
}

func sameFile(t *testing.T, path string, content []byte) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) == string(content)
}
