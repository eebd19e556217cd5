package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fastSettings are the tests' settings on top of the broker's defaults, whose timeouts
// (core.DefaultTiming) the tests run as shipped. Requests forwarded to a controller give
// up after 1.5 s rather than 30 s, so that a test that fails says so sooner.
var fastSettings = map[string]string{
	// Above the 5s a follower waits before resending a fetch that got no answer (one
	// sent before the leader created its replica is dropped), so the ISR of a new topic
	// does not shrink while its followers start.
	"replica.lag.time.max.ms":        "8000",
	"replica.fetch.wait.max.ms":      "125",
	"request.timeout.ms":             "1500",
	"controlled.shutdown.timeout.ms": "5000",
	"offsets.topic.num.partitions":   "6",
	"default.replication.factor":     "3",
	"min.insync.replicas":            "2",
}

// proc is one broker process.
type proc struct {
	id         int
	dir        string
	clientAddr string
	peerAddr   string
	// metricsAddr serves the broker's /metrics.
	metricsAddr string
	// adminAddr is a PLAINTEXT client listener (clusterOpts.adminListener), "" without.
	adminAddr string
	cmd       *exec.Cmd
	exited    chan struct{}
	exitErr   error
	starts    int
}

// cluster is a set of broker processes, each a voter and a broker.
type cluster struct {
	t     testing.TB
	dir   string
	procs []*proc
	// wrap prefixes the broker command (prlimit, to start a broker with few descriptors).
	wrap []string
}

// freeAddr returns a free loopback address for a broker to bind later. It picks from
// below the kernel's ephemeral range (32768-60999 on Linux), where neither a client's
// outgoing connection nor another test's listener on port 0 can take the port between
// this check and the broker's bind. A port is handed out once per test binary: the
// check alone would give two brokers of one cluster, not yet started, the same port.
func freeAddr(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := freePortLow + rand.IntN(freePortHigh-freePortLow)
		if portsGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			portsGiven[port] = true
			return ln.Addr().String()
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

const freePortLow, freePortHigh = 20000, 32000

// freeDevPort returns a base port for `seedlog dev --port P` with n brokers: P..P+n-1
// for clients and the same shifted by the peer and metrics offsets (10000, 20000), all
// free, below the ephemeral range, and handed out once per test binary, for the reason
// freeAddr gives (--port 0 takes ephemeral ports, which a client may take first).
func freeDevPort(t *testing.T, n int) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
next:
	for range 1000 {
		base := 5000 + rand.IntN(7000-n)
		for _, off := range []int{0, 10000, 20000} {
			for i := range n {
				port := base + off + i
				if portsGiven[port] {
					continue next
				}
				ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
				if err != nil {
					continue next
				}
				ln.Close()
			}
		}
		for _, off := range []int{0, 10000, 20000} {
			for i := range n {
				portsGiven[base+off+i] = true
			}
		}
		return base
	}
	t.Fatal("no free block of ports for seedlog dev")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// clusterOpts adjust a cluster: settings on top of the fast ones ({id} in a value
// becomes the node id), a command prefix for every broker, and the name of the client
// listener (default PLAINTEXT; its protocol comes from listener.security.protocol.map).
type clusterOpts struct {
	settings       map[string]string
	wrap           []string
	clientListener string
	// adminListener adds a PLAINTEXT client listener named ADMIN to every broker.
	adminListener bool
	// extraBrokers adds brokers that are not voters after the n nodes, not started.
	extraBrokers int
}

// newCluster starts n brokers, each a voter, with the fast settings.
func newCluster(t testing.TB, n int) *cluster { return newClusterWith(t, n, clusterOpts{}) }

func newClusterWith(t testing.TB, n int, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), wrap: o.wrap}
	if os.Getenv("SEEDLOG_TEST_KEEP") != "" {
		dir, err := os.MkdirTemp("", "seedlog-"+strings.ReplaceAll(t.Name(), "/", "-")+"-")
		if err != nil {
			t.Fatal(err)
		}
		c.dir = dir
		t.Logf("keeping data and logs in %s", dir)
	}
	secret := filepath.Join(c.dir, "peer.secret")
	if err := os.WriteFile(secret, []byte("integration-test-cluster-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var voters []string
	for i := range n + o.extraBrokers {
		p := &proc{id: i + 1, dir: filepath.Join(c.dir, fmt.Sprintf("node-%d", i+1)), clientAddr: freeAddr(t), peerAddr: freeAddr(t), metricsAddr: freeAddr(t)}
		if i < n {
			voters = append(voters, fmt.Sprintf("%d@%s", p.id, p.peerAddr))
		}
		c.procs = append(c.procs, p)
	}
	clientListener := o.clientListener
	if clientListener == "" {
		clientListener = "PLAINTEXT"
	}
	for _, p := range c.procs {
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		listeners := clientListener + "://" + p.clientAddr + ",PEER://" + p.peerAddr
		if o.adminListener {
			p.adminAddr = freeAddr(t)
			listeners += ",ADMIN://" + p.adminAddr
		}
		props := map[string]string{
			"node.id":                  fmt.Sprint(p.id),
			"process.roles":            roles(p.id <= n),
			"controller.quorum.voters": strings.Join(voters, ","),
			"listeners":                listeners,
			"peer.secret.file":         secret,
			"metrics.listener":         p.metricsAddr,
			"log.dirs":                 filepath.Join(p.dir, "data"),
			"cluster.id":               "integration",
		}
		for k, v := range fastSettings {
			props[k] = v
		}
		for k, v := range o.settings {
			props[k] = strings.ReplaceAll(v, "{id}", fmt.Sprint(p.id))
		}
		var b strings.Builder
		for k, v := range props {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		if err := os.WriteFile(filepath.Join(p.dir, "broker.properties"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.shutdown)
	for i := range n {
		c.start(i)
	}
	return c
}

// roles is a test node's process.roles: voters are brokers too.
func roles(voter bool) string {
	if voter {
		return "broker,controller"
	}
	return "broker"
}

// start starts broker i (from 0), appending its output to its log file.
func (c *cluster) start(i int) {
	c.t.Helper()
	p := c.procs[i]
	logf, err := os.OpenFile(filepath.Join(p.dir, "broker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	p.starts++
	fmt.Fprintf(logf, "==== start %d at %s\n", p.starts, time.Now().Format(time.RFC3339Nano))
	level := os.Getenv("SEEDLOG_TEST_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	args := append(append([]string{}, c.wrap...), seedlogBin, "broker", "--config", filepath.Join(p.dir, "broker.properties"), "--log-level", level)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The brokers die with the test binary, whatever way it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("starting broker %d: %v", p.id, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() {
		p.exitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
}

func (c *cluster) running(i int) bool {
	p := c.procs[i]
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to broker i and waits for it to die.
func (c *cluster) kill(i int) {
	c.t.Helper()
	p := c.procs[i]
	if !c.running(i) {
		c.t.Fatalf("broker %d is not running (%v)", p.id, p.exitErr)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM to broker i and waits for a clean exit.
func (c *cluster) stop(i int) {
	c.t.Helper()
	p := c.procs[i]
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.exitErr != nil {
			c.t.Errorf("broker %d exited with %v after SIGTERM", p.id, p.exitErr)
		}
	case <-time.After(20 * time.Second):
		c.t.Errorf("broker %d still running 20s after SIGTERM", p.id)
		c.kill(i)
	}
}

// shutdown kills every broker; on failure it prints the tail of their logs.
func (c *cluster) shutdown() {
	for i, p := range c.procs {
		if c.running(i) {
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		} else if p.cmd != nil && p.exitErr != nil && !strings.Contains(p.exitErr.Error(), "killed") {
			c.t.Errorf("broker %d exited on its own: %v", p.id, p.exitErr)
		}
	}
	if c.t.Failed() {
		for _, p := range c.procs {
			c.t.Logf("---- broker %d log (tail) ----\n%s", p.id, tail(filepath.Join(p.dir, "broker.log"), 60))
		}
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func (c *cluster) seeds() []string {
	var out []string
	for _, p := range c.procs {
		out = append(out, p.clientAddr)
	}
	return out
}

// client returns a franz-go client on every broker of the cluster.
func (c *cluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(c.seeds()...), kgo.RetryTimeout(60 * time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond), kgo.MetadataMinAge(250 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// waitBrokers waits until metadata lists want brokers.
func (c *cluster) waitBrokers(cl *kgo.Client, want int) {
	c.t.Helper()
	c.eventually(60*time.Second, fmt.Sprintf("%d brokers in metadata", want), func() bool {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), cl)
		return err == nil && len(resp.Brokers) == want
	})
}

// createTopic creates a topic and waits until every partition has a leader and a full ISR.
func (c *cluster) createTopic(cl *kgo.Client, name string, partitions, rf int) {
	c.t.Helper()
	c.createTopicAsync(cl, name, partitions, rf)
	c.eventually(60*time.Second, "leaders and full ISRs of "+name, func() bool {
		ps := c.partitions(cl, name)
		ok := len(ps) == partitions
		for _, p := range ps {
			ok = ok && p.ErrorCode == 0 && p.Leader >= 0 && len(p.ISR) == rf
		}
		return ok
	})
}

// createTopicAsync asks for a topic until the cluster answers, without waiting for its
// partitions to get leaders.
func (c *cluster) createTopicAsync(cl *kgo.Client, name string, partitions, rf int) {
	c.t.Helper()
	c.eventually(2*time.Minute, "create topic "+name, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, int32(partitions), int16(rf)
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		resp, err := req.RequestWith(context.Background(), cl)
		return err == nil && len(resp.Topics) == 1 && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == 36)
	})
}

// partitions returns the metadata of a topic's partitions (nil on error).
func (c *cluster) partitions(cl *kgo.Client, topic string) []kmsg.MetadataResponseTopicPartition {
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		return nil
	}
	return resp.Topics[0].Partitions
}

// waitListening waits until addr accepts connections: a command-line client, unlike
// franz-go, does not retry a refused dial.
func (c *cluster) waitListening(addr string) {
	c.t.Helper()
	c.eventually(30*time.Second, addr+" listening", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

func (c *cluster) eventually(limit time.Duration, what string, ok func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			c.t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readPartition reads a partition from offset 0 up to its high watermark with a fresh
// client.
func readPartition(t *testing.T, seeds []string, topic string, p int32) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.FetchMaxWait(300*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(0)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	hw, next := int64(-1), int64(0)
	deadline := time.Now().Add(60 * time.Second)
	for hw < 0 || next < hw {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s/%d: at offset %d of high watermark %d after 60s", topic, p, next, hw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Err != nil {
				if !errors.Is(fp.Err, context.DeadlineExceeded) {
					t.Logf("reading %s/%d: %v", topic, p, fp.Err)
				}
				return
			}
			hw = fp.HighWatermark
			for _, r := range fp.Records {
				out = append(out, r)
				next = r.Offset + 1
			}
		})
	}
	return out
}
