package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/node"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// trusting is a TLS client configuration that trusts the CAs of the PEM file caFile.
func trusting(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool}
}

// brokerPKI is a CA and the client listener certificates it issued to brokers, as
// files in one directory: ca.pem, broker-<id>.pem and broker-<id>.key.
type brokerPKI struct {
	ca  *node.PeerCA
	dir string
}

func newBrokerPKI(t *testing.T, brokers int) *brokerPKI {
	t.Helper()
	ca, err := node.NewPeerCA("integration client CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerPKI{ca: ca, dir: t.TempDir()}
	if err := os.WriteFile(p.caFile(), ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= brokers; id++ {
		p.issue(t, id)
	}
	return p
}

func (p *brokerPKI) caFile() string { return filepath.Join(p.dir, "ca.pem") }

// settings point each broker ({id}) at its certificate.
func (p *brokerPKI) settings() map[string]string {
	return map[string]string{
		"listener.security.protocol.map": "SSL:SSL,PEER:PLAINTEXT",
		// Topics of one replica, whose produces wait for no follower: what is tested
		// here is the client listeners.
		"min.insync.replicas": "1",
		"tls.cert.file":       filepath.Join(p.dir, "broker-{id}.pem"),
		"tls.key.file":        filepath.Join(p.dir, "broker-{id}.key"),
	}
}

// issue writes a new certificate for broker id over its files, key first, and returns
// its serial number.
func (p *brokerPKI) issue(t *testing.T, id int) string {
	t.Helper()
	cert, key, err := p.ca.HostCert(fmt.Sprintf("broker %d", id), []string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, fmt.Sprintf("broker-%d.key", id)), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, fmt.Sprintf("broker-%d.pem", id)), cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return pemSerial(t, cert)
}

func pemSerial(t *testing.T, certPEM []byte) string {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block in a certificate just issued")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// servedSerial opens a TLS connection to addr and returns the serial number of the
// certificate the broker presented.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestClientTLS runs three brokers whose client listeners take only TLS. franz-go
// produces and consumes through them with the CA's trust; a plaintext client and one
// that does not trust the CA fail on their own, without harming the brokers; and a
// certificate rotated on disk is served to new connections, while files that do not
// load keep it and are logged once.
func TestClientTLS(t *testing.T) {
	pki := newBrokerPKI(t, 3)
	c := newClusterWith(t, 3, clusterOpts{clientListener: "SSL", settings: pki.settings()})
	trust := trusting(t, pki.caFile())
	cl := c.client(kgo.DialTLSConfig(trust))
	c.waitBrokers(cl, 3)
	// Partitions placed over the brokers, which clients reach at the addresses Metadata
	// gives.
	c.createTopic(cl, "tls", 3, 1)

	t.Run("produce and consume", func(t *testing.T) {
		produceAndConsume(t, c, cl, trust, "tls", 300)
	})

	t.Run("a plaintext client fails", func(t *testing.T) {
		plain, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RetryTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, plain)
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a plaintext client on TLS listeners: %v, want a failure of its own before the deadline", err)
		}
		failures := 0.0
		for _, p := range c.procs {
			failures += scrape(p.metricsAddr)["seedlog_tls_handshake_failures_total"]
		}
		if failures < 1 {
			t.Errorf("the brokers counted %v failed handshakes", failures)
		}
	})

	t.Run("a client that does not trust the CA fails", func(t *testing.T) {
		stranger, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DialTLSConfig(&tls.Config{RootCAs: x509.NewCertPool()}), kgo.RetryTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer stranger.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, stranger)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("a client without the CA: %v, want an unknown authority", err)
		}
	})

	// The brokers serve on, to a client that was connected all along and to a new one.
	for i := range c.procs {
		if !c.running(i) {
			t.Fatalf("broker %d stopped", c.procs[i].id)
		}
	}
	produceAndConsume(t, c, cl, trust, "tls", 10)

	t.Run("certificate reload", func(t *testing.T) {
		p := c.procs[0]
		rotated := pki.issue(t, p.id)
		c.eventually(10*time.Second, "broker 1 serving its rotated certificate", func() bool {
			return servedSerial(t, p.clientAddr, trust) == rotated
		})
		certFile := filepath.Join(pki.dir, fmt.Sprintf("broker-%d.pem", p.id))
		if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		const complaint = "the client TLS certificate files changed but do not load"
		c.eventually(10*time.Second, "broker 1 logging the broken certificate file", func() bool {
			if got := servedSerial(t, p.clientAddr, trust); got != rotated {
				t.Fatalf("broker 1 served certificate %s after its file broke, want the rotated %s", got, rotated)
			}
			return strings.Contains(tail(filepath.Join(p.dir, "broker.log"), 1000), complaint)
		})
		// More handshakes, over more than the broker's once-a-second look at the files.
		for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got := servedSerial(t, p.clientAddr, trust); got != rotated {
				t.Fatalf("broker 1 served certificate %s after its file broke, want the rotated %s", got, rotated)
			}
		}
		if n := strings.Count(tail(filepath.Join(p.dir, "broker.log"), 100000), complaint); n != 1 {
			t.Errorf("the broken certificate file was logged %d times, want once", n)
		}
		if m := scrape(p.metricsAddr); m["seedlog_tls_certificate_reload_failures_total"] != 1 || m["seedlog_tls_certificate_reloads_total"] != 1 {
			t.Errorf("reloads %v, failed reloads %v; want 1 and 1", m["seedlog_tls_certificate_reloads_total"], m["seedlog_tls_certificate_reload_failures_total"])
		}
	})
}

// produceAndConsume writes n records to topic with acks=all and reads them back with a
// new client of the same TLS configuration.
func produceAndConsume(t *testing.T, c *cluster, prod *kgo.Client, cfg *tls.Config, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	var want []string // unique to this call: the topic holds earlier calls' records too
	for i := range n {
		v := fmt.Sprintf("%s-%d-%d", topic, time.Now().UnixNano(), i)
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(v)})
		want = append(want, v)
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce over TLS: %v", err)
	}
	cons := c.client(kgo.DialTLSConfig(cfg), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	missing := map[string]bool{}
	for _, v := range want {
		missing[v] = true
	}
	for len(missing) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of the %d records produced over TLS not consumed", len(missing), n)
		}
		fs.EachRecord(func(r *kgo.Record) { delete(missing, string(r.Value)) })
	}
}

// TestDevWithClientTLS runs `seedlog dev --tls --peer-tls`: its bootstrap line comes
// once every broker answers over TLS, it prints the settings of each kind of client,
// and with them the seedlog commands and kcat (librdkafka) produce and consume over
// SSL, while a command without --tls fails in its --timeout, saying what it could not
// do.
func TestDevWithClientTLS(t *testing.T) {
	d := startDev(t, 3, "--tls", "--peer-tls")
	if d.tlsCA == "" {
		t.Fatalf("seedlog dev --tls printed no seedlog settings:\n%s", strings.Join(d.banner, "\n"))
	}
	kcatTLS := []string{"-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + d.tlsCA}
	banner := strings.Join(d.banner, "\n")
	for _, want := range []string{"kcat:     " + strings.Join(kcatTLS, " "), "franz-go: kgo.DialTLSConfig", "--from-beginning --tls --tls-ca " + d.tlsCA} {
		if !strings.Contains(banner, want) {
			t.Errorf("seedlog dev --tls did not print %q:\n%s", want, banner)
		}
	}
	tlsFlags := []string{"--tls", "--tls-ca", d.tlsCA}
	// One replica each: the partitions' leaders spread over the brokers, which the
	// clients reach at the addresses Metadata gives, and no produce waits for followers.
	d.must("", append([]string{"topic", "create", "devtls", "--partitions", "3", "--replication-factor", "1", "--config", "min.insync.replicas=1"}, tlsFlags...)...)
	waitLeaders(t, d.client(), "devtls", 3)
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "cli-%d\n", i)
	}
	d.must(in.String(), append([]string{"produce", "devtls"}, tlsFlags...)...)
	got := lines(d.must("", append([]string{"consume", "devtls", "--from-beginning", "--max-messages", "50"}, tlsFlags...)...))
	if len(got) != 50 {
		t.Fatalf("consumed %d records over TLS with the seedlog commands, want 50", len(got))
	}
	if r := d.seedlog("", "topic", "list", "--timeout", "1s"); r.code != 3 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a command without --tls: exit %d (want 3), %q", r.code, r.stderr)
	}

	t.Run("kcat", func(t *testing.T) {
		bin := kcatPath(t)
		var in strings.Builder
		var want []string
		for i := range 100 {
			line := fmt.Sprintf("k%d:kcat over SSL %d", i, i)
			in.WriteString(line + "\n")
			want = append(want, line)
		}
		kcat(t, bin, in.String(), append([]string{"-b", d.bootstrap, "-P", "-t", "devtls", "-K:"}, kcatTLS...)...)
		var got []string
		for _, l := range lines(kcat(t, bin, "", append([]string{"-b", d.bootstrap, "-C", "-t", "devtls", "-o", "beginning", "-e", "-q", "-f", "%k:%s\n"}, kcatTLS...)...)) {
			if strings.HasPrefix(l, "k") {
				got = append(got, l)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("kcat read back %d of its records over SSL, want the %d it wrote", len(got), len(want))
		}
	})
}
