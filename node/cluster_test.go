package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testCluster runs nodes in this process on 127.0.0.1, with timeouts at a quarter of the
// defaults so that elections and failovers take a second or two.
type testCluster struct {
	t     *testing.T
	cfgs  []Config
	nodes []*Node
	errs  []chan error
	ctx   context.Context
	stop  context.CancelFunc
	mu    sync.Mutex
}

// fastTiming scales seedlog's default timeouts to 25%, as the simulator's fastest setting.
func fastTiming(c *Config) {
	for _, kv := range [][2]string{
		{"controller.quorum.election.timeout.ms", "250"},
		{"controller.quorum.fetch.max.wait.ms", "125"},
		{"controller.quorum.fetch.timeout.ms", "500"},
		{"broker.heartbeat.interval.ms", "500"},
		{"broker.session.timeout.ms", "2250"},
		{"broker.lease.ms", "1000"},
		{"replica.lag.time.max.ms", "8000"}, // see the integration tests' fastSettings
		{"replica.fetch.wait.max.ms", "125"},
		// Below the session timeout: see the integration tests' fastSettings.
		{"request.timeout.ms", "1500"},
		{"controlled.shutdown.timeout.ms", "3000"},
		{"offsets.topic.num.partitions", "3"},
	} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			panic(err)
		}
	}
}

// freeAddr returns a free loopback address for a node to bind later, picked below the
// kernel's ephemeral range so that no outgoing connection or port-0 listener takes it
// meanwhile (the integration tests pick from 20000-32000, these from 10000-20000).
func freeAddr(t testing.TB) string {
	for range 1000 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(10000)))
		if err == nil {
			ln.Close()
			return ln.Addr().String()
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// testLogger logs warnings and errors through t.Log; SEEDLOG_TEST_LOG_LEVEL=debug (or
// info) logs more.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if v := os.Getenv("SEEDLOG_TEST_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			t.Fatalf("SEEDLOG_TEST_LOG_LEVEL: %v", err)
		}
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startCluster starts n nodes; the first min(n, voters) are voters. mutate may adjust
// each node's configuration.
func startCluster(t *testing.T, n, voters int, mutate func(i int, c *Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t}
	tc.ctx, tc.stop = context.WithCancel(context.Background())
	var voterList, peerAddrs []string
	for i := range n {
		peerAddrs = append(peerAddrs, "127.0.0.1:0")
		if i < voters {
			peerAddrs[i] = freeAddr(t)
			voterList = append(voterList, fmt.Sprintf("%d@%s", i+1, peerAddrs[i]))
		}
	}
	secret := testSecretFile(t)
	for i := range n {
		c := DefaultConfig()
		fastTiming(&c)
		must(t, c.Set("node.id", fmt.Sprint(i+1)))
		must(t, c.Set("controller.quorum.voters", strings.Join(voterList, ",")))
		must(t, c.Set("listeners", "PLAINTEXT://127.0.0.1:0,PEER://"+peerAddrs[i]))
		must(t, c.Set("peer.secret.file", secret))
		must(t, c.Set("log.dirs", t.TempDir()))
		must(t, c.Set("default.replication.factor", fmt.Sprint(min(n, 3))))
		roles := "broker"
		if i < voters {
			roles = "broker,controller"
		}
		must(t, c.Set("process.roles", roles))
		if mutate != nil {
			mutate(i, &c)
		}
		tc.cfgs = append(tc.cfgs, c)
		tc.nodes = append(tc.nodes, nil)
		tc.errs = append(tc.errs, nil)
	}
	for i := range n {
		tc.start(i)
	}
	t.Cleanup(tc.close)
	return tc
}

// start (re)starts node i from its data directory.
func (tc *testCluster) start(i int) {
	tc.t.Helper()
	n, err := New(tc.cfgs[i], testLogger(tc.t).With("test", tc.t.Name()))
	if err != nil {
		tc.t.Fatalf("node %d: %v", i+1, err)
	}
	// A restarted node keeps its ports, so that clients and peers find it again.
	var bound []string
	for _, b := range n.listeners {
		bound = append(bound, b.cfg.Name+"://"+b.ln.Addr().String())
	}
	must(tc.t, tc.cfgs[i].Set("listeners", strings.Join(bound, ",")))
	errc := make(chan error, 1)
	tc.mu.Lock()
	tc.nodes[i], tc.errs[i] = n, errc
	tc.mu.Unlock()
	go func() { errc <- n.Run(tc.ctx) }()
}

// kill stops node i at once (no controlled shutdown) and waits for it.
func (tc *testCluster) kill(i int) {
	tc.nodes[i].Stop()
	if err := <-tc.errs[i]; err != nil {
		tc.t.Errorf("node %d: %v", i+1, err)
	}
	tc.errs[i] = nil
}

func (tc *testCluster) close() {
	for i, n := range tc.nodes {
		if tc.errs[i] != nil {
			n.Stop()
		}
	}
	for i := range tc.nodes {
		if tc.errs[i] != nil {
			if err := <-tc.errs[i]; err != nil {
				tc.t.Errorf("node %d stopped with %v", i+1, err)
			}
		}
	}
	tc.stop()
}

func (tc *testCluster) bootstrap() []string {
	var out []string
	for i, n := range tc.nodes {
		if tc.errs[i] != nil {
			out = append(out, n.ClientAddr())
		}
	}
	return out
}

// client returns a franz-go client on the cluster, closed at the end of the test.
func (tc *testCluster) client(opts ...kgo.Opt) *kgo.Client {
	tc.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(tc.bootstrap()...), kgo.RetryTimeout(30 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic and waits until every partition has a leader.
func (tc *testCluster) createTopic(cl *kgo.Client, name string, partitions, rf int) {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req := kmsg.NewPtrCreateTopicsRequest()
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name, int32(partitions), int16(rf)
		req.Topics = append(req.Topics, t)
		req.TimeoutMillis = 10000
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Topics) == 1 && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == 36) {
			break // 36: TOPIC_ALREADY_EXISTS from an earlier attempt that timed out
		}
		if ctx.Err() != nil {
			tc.t.Fatalf("create topic %s: %v %+v", name, err, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tc.waitLeaders(cl, name, partitions)
}

func (tc *testCluster) waitLeaders(cl *kgo.Client, name string, partitions int) {
	tc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, mt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == partitions {
			ok := true
			for _, p := range resp.Topics[0].Partitions {
				ok = ok && p.ErrorCode == 0 && p.Leader >= 0
			}
			if ok {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	tc.t.Fatalf("topic %s: partitions without a leader after 30s", name)
}

// testSecretFile writes a cluster secret for the test's nodes.
func testSecretFile(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "peer.secret")
	must(t, os.WriteFile(path, []byte("0123456789abcdef0123456789abcdef-test-secret\n"), 0o600))
	return path
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
