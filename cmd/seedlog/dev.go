package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seedlog/seedlog/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Dev cluster layout: broker i (from 1) listens for clients on port+i-1 and for peers on
// port+i-1+devPeerPortOffset; with --metrics, serves metrics on port+i-1+devMetricsPortOffset.
const (
	devPortDefault       = 9092
	devPeerPortOffset    = 10000
	devMetricsPortOffset = 20000
	devVotersMax         = 3
	// devRestartDelay is how long a broker that stopped on a fatal error stays down
	// before it restarts and recovers from its disk.
	devRestartDelay = time.Second
	devClusterID    = "seedlog-dev"
)

type devOptions struct {
	brokers int
	dataDir string
	port    int
	metrics bool
	verbose bool
	peerTLS bool
	tls     bool // SSL client listeners
	sets    repeatFlag
}

func devCommand(args []string) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	var o devOptions
	fs.IntVar(&o.brokers, "brokers", 3, "number of brokers (the first 3 also form the controller quorum)")
	fs.StringVar(&o.dataDir, "data", "", "data directory to use and keep (default: a fresh temporary one, removed on exit)")
	fs.IntVar(&o.port, "port", devPortDefault, "client port of broker 1; broker i uses port+i-1, peers port+10000+i-1 (0: any free ports)")
	fs.BoolVar(&o.metrics, "metrics", false, "serve Prometheus metrics of broker i on port+20000+i-1")
	fs.BoolVar(&o.verbose, "v", false, "log at info level (default: warnings only)")
	fs.BoolVar(&o.peerTLS, "peer-tls", false, "authenticate peers with mutual TLS from a throwaway CA (default: a generated cluster secret)")
	fs.BoolVar(&o.tls, "tls", false, "make the client listeners SSL, with certificates from a throwaway CA in the data directory (prints the client settings)")
	fs.Var(&o.sets, "set", "a broker setting for every broker, key=value (repeatable), e.g. --set num.partitions=3")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog dev [--brokers N] [--data DIR] [--port P] [--tls] [--peer-tls] [--set key=value ...]")
	}
	if err != nil {
		return usageError("%v; see seedlog dev -h", err)
	}
	if len(pos) > 0 {
		return usageError("dev: unexpected argument %q; see seedlog dev -h", pos[0])
	}
	if o.brokers < 1 || o.brokers > 64 {
		return usageError("dev: --brokers must be in [1, 64], got %d", o.brokers)
	}
	if o.port != 0 && (o.port < 1 || o.port+o.brokers-1+devMetricsPortOffset > 65535) {
		return usageError("dev: --port %d leaves no room for %d brokers (peers use port+%d, metrics port+%d)", o.port, o.brokers, devPeerPortOffset, devMetricsPortOffset)
	}
	return runDev(o)
}

func runDev(o devOptions) int {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	dataDir, cleanup, err := devDataDir(o.dataDir)
	if err != nil {
		return problem("dev: %v", err)
	}
	defer cleanup()
	cfgs, clientTLS, err := devConfigs(o, dataDir)
	if err != nil {
		return usageError("dev: %v", err)
	}
	probeOpts, err := devProbeOpts(clientTLS)
	if err != nil {
		return problem("dev: %v", err)
	}
	nodes := make([]*node.Node, len(cfgs))
	for i, cfg := range cfgs {
		if nodes[i], err = node.New(cfg, logger); err != nil {
			for _, n := range nodes[:i] {
				n.Close()
			}
			return problem("dev: broker %d: %s", cfg.NodeID, startError(err, "--port"))
		}
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.ClientAddr())
	}
	bootstrap := strings.Join(addrs, ",")

	// The whole cluster stops at once, so there is nowhere to move leadership to: the
	// brokers stop without a controlled shutdown (everything acknowledged is on disk).
	var st stopper
	ctx, stop := stopOnSignals("seedlog dev: stopping; signal again to exit at once", func() { os.Exit(exitFailed) })
	defer stop()
	go func() {
		<-ctx.Done()
		st.stopAll()
	}()
	var wg sync.WaitGroup
	failed := make(chan string, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if msg := superviseDevBroker(ctx, n, cfgs[i], logger, &st); msg != "" {
				failed <- msg
			}
		}()
	}
	// The bootstrap line is the promise that the cluster takes work: it is printed (and
	// recorded for the client commands) once every broker is registered and unfenced
	// and a controller is active, so that the first command may ask for every broker.
	if err := waitDevReady(ctx, addrs, devReadyTimeout, probeOpts...); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "seedlog dev: %v; it may still come up (run with -v to see why not)\n", err)
	}
	if ctx.Err() == nil {
		removeBootstrap := writeDevBootstrap(bootstrap)
		defer removeBootstrap()
		fmt.Printf("seedlog dev: %d brokers, data in %s\n", len(nodes), dataDir)
		fmt.Printf("bootstrap: %s\n", bootstrap)
		clientFlags := ""
		if clientTLS != nil {
			clientTLS.printClientSettings(os.Stdout)
			clientFlags = " " + clientTLS.seedlogFlags()
		}
		if o.metrics {
			var ms []string
			for _, n := range nodes {
				ms = append(ms, "http://"+n.MetricsAddr()+"/metrics")
			}
			fmt.Printf("metrics: %s\n", strings.Join(ms, " "))
		}
		fmt.Printf("try: seedlog topic create demo --partitions 3%s; seedlog produce demo%s; seedlog consume demo --from-beginning%s (any Kafka client: -b %s); Ctrl-C stops\n",
			clientFlags, clientFlags, clientFlags, addrs[0])
	}
	wg.Wait()
	close(failed)
	code := exitOK
	for msg := range failed {
		fmt.Fprintln(os.Stderr, "seedlog: dev: "+msg)
		code = exitProblem
	}
	return code
}

// devReadyTimeout bounds how long the dev cluster waits for its brokers to register.
const devReadyTimeout = 60 * time.Second

// devProbeOpts are the client options of the dev command's own probes: TLS with the
// cluster's CA when its client listeners take TLS.
func devProbeOpts(clientTLS *devClientTLS) ([]kgo.Opt, error) {
	if clientTLS == nil {
		return nil, nil
	}
	return clientTLS.clientOpts()
}

// waitDevReady waits until the cluster's metadata lists every broker of addrs and an
// active controller. opts reach the client listeners (TLS).
func waitDevReady(ctx context.Context, addrs []string, timeout time.Duration, opts ...kgo.Opt) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	brokers := 0
	for {
		// A client of its own each time: kgo answers a metadata request from its cache
		// while that is fresh, which would hide brokers registered since.
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ClientID("seedlog-dev")}, opts...)...)
		if err != nil {
			return err
		}
		m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		cl.Close()
		if err == nil {
			brokers = len(m.Brokers)
			if brokers == len(addrs) && m.Controller >= 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d brokers registered after %v", brokers, len(addrs), timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopper stops every broker registered with it, including those registered after it
// was told to stop (a broker restarting at that moment).
type stopper struct {
	mu      sync.Mutex
	stopped bool
	stops   []func()
}

func (s *stopper) add(stop func()) {
	s.mu.Lock()
	if !s.stopped {
		s.stops = append(s.stops, stop)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	stop()
}

func (s *stopper) stopAll() {
	s.mu.Lock()
	s.stopped = true
	stops := s.stops
	s.mu.Unlock()
	for _, f := range stops {
		f()
	}
}

// superviseDevBroker runs one broker until ctx ends, restarting it after a fatal stop.
// It returns a message when the broker cannot be restarted.
func superviseDevBroker(ctx context.Context, n *node.Node, cfg node.Config, logger *slog.Logger, st *stopper) string {
	for {
		st.add(n.Stop)
		err := n.Run(context.Background()) // st stops it
		if err == nil || ctx.Err() != nil {
			return ""
		}
		fmt.Fprintf(os.Stderr, "seedlog dev: broker %d stopped (%v); restarting in %v\n", cfg.NodeID, err, devRestartDelay)
		select {
		case <-time.After(devRestartDelay):
		case <-ctx.Done():
			return ""
		}
		if n, err = node.New(cfg, logger); err != nil {
			return fmt.Sprintf("broker %d could not restart: %s", cfg.NodeID, startError(err, "--port"))
		}
	}
}

// devConfigs builds the configuration of every dev broker, and with --tls the client
// TLS material it made. Peers authenticate with a cluster secret, or with certificates
// from a throwaway CA (--peer-tls), made in the data directory on first use and kept
// with it.
func devConfigs(o devOptions, dataDir string) ([]node.Config, *devClientTLS, error) {
	ports, err := devPorts(o)
	if err != nil {
		return nil, nil, err
	}
	creds, err := devPeerCredentials(o, dataDir)
	if err != nil {
		return nil, nil, err
	}
	client, clientTLS, err := devClientListener(o, dataDir)
	if err != nil {
		return nil, nil, err
	}
	peerProtocol := "PLAINTEXT"
	if o.peerTLS {
		peerProtocol = "SSL"
	}
	voters := min(o.brokers, devVotersMax)
	var voterList, peerList []string
	for i := range o.brokers {
		entry := fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[i].peer)
		if i < voters {
			voterList = append(voterList, entry)
		} else {
			peerList = append(peerList, entry)
		}
	}
	var cfgs []node.Config
	for i := range o.brokers {
		cfg := node.DefaultConfig()
		set := map[string]string{
			"node.id":                        strconv.Itoa(i + 1),
			"process.roles":                  "broker",
			"controller.quorum.voters":       strings.Join(voterList, ","),
			"peers":                          strings.Join(peerList, ","),
			"listeners":                      fmt.Sprintf("%s://127.0.0.1:%d,PEER://127.0.0.1:%d", client.name, ports[i].client, ports[i].peer),
			"listener.security.protocol.map": fmt.Sprintf("%s:%s,PEER:%s", client.name, client.protocol, peerProtocol),
			"log.dirs":                       filepath.Join(dataDir, fmt.Sprintf("node-%d", i+1)),
			"cluster.id":                     devClusterID,
			"default.replication.factor":     strconv.Itoa(min(o.brokers, 3)),
			"min.insync.replicas":            strconv.Itoa(min(o.brokers, 2)),
			"offsets.topic.num.partitions":   "10",
			"controlled.shutdown.timeout.ms": "5000",
		}
		maps.Copy(set, creds(int32(i+1)))
		if clientTLS != nil {
			maps.Copy(set, clientTLS.settings(int32(i+1)))
		}
		if i < voters {
			set["process.roles"] = "broker,controller"
		}
		if o.metrics {
			set["metrics.listener"] = fmt.Sprintf("127.0.0.1:%d", ports[i].metrics)
		}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			if err := cfg.Set(k, set[k]); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		for _, kv := range o.sets {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, nil, fmt.Errorf("--set %q: want key=value", kv)
			}
			if err := cfg.Set(k, v); err != nil {
				return nil, nil, fmt.Errorf("--set %s", err)
			}
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, clientTLS, nil
}

// devListener is the name and security protocol of the dev brokers' client listener.
type devListener struct{ name, protocol string }

// devClientListener is the client listener of the dev brokers: PLAINTEXT, or with --tls
// SSL and the certificates it takes.
func devClientListener(o devOptions, dataDir string) (devListener, *devClientTLS, error) {
	if !o.tls {
		return devListener{"PLAINTEXT", "PLAINTEXT"}, nil, nil
	}
	d, err := ensureDevClientTLS(dataDir, o.brokers)
	if err != nil {
		return devListener{}, nil, fmt.Errorf("client TLS certificates: %w", err)
	}
	return devListener{"SSL", "SSL"}, &d, nil
}

// devPeerCredentials makes (or finds, in a kept data directory) the dev cluster's peer
// credentials and returns the settings that give node id its own.
func devPeerCredentials(o devOptions, dataDir string) (func(id int32) map[string]string, error) {
	if !o.peerTLS {
		path := filepath.Join(dataDir, "peer.secret")
		if err := ensureSecretFile(path); err != nil {
			return nil, err
		}
		return func(int32) map[string]string { return map[string]string{"peer.secret.file": path} }, nil
	}
	dir := filepath.Join(dataDir, "peer-tls")
	var ids []int32
	for i := range o.brokers {
		ids = append(ids, int32(i+1))
	}
	if err := ensureNodeCerts(dir, ids, nil, devCertValidity); err != nil {
		return nil, err
	}
	return func(id int32) map[string]string {
		return map[string]string{
			"peer.tls.ca.file":   filepath.Join(dir, "ca.pem"),
			"peer.tls.cert.file": filepath.Join(dir, fmt.Sprintf("node-%d.pem", id)),
			"peer.tls.key.file":  filepath.Join(dir, fmt.Sprintf("node-%d.key", id)),
		}
	}, nil
}

type devPortSet struct{ client, peer, metrics int }

// devPorts assigns ports: consecutive from --port, or free ones chosen by the kernel.
func devPorts(o devOptions) ([]devPortSet, error) {
	out := make([]devPortSet, o.brokers)
	for i := range out {
		if o.port != 0 {
			p := o.port + i
			out[i] = devPortSet{p, p + devPeerPortOffset, p + devMetricsPortOffset}
			continue
		}
		var err error
		for _, dst := range []*int{&out[i].client, &out[i].peer, &out[i].metrics} {
			if *dst, err = freePort(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func devDataDir(dir string) (string, func(), error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", nil, err
		}
		return abs, func() {}, os.MkdirAll(abs, 0o755)
	}
	tmp, err := os.MkdirTemp("", "seedlog-dev-")
	if err != nil {
		return "", nil, fmt.Errorf("temporary data directory: %w", err)
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// devBootstrapPath is where `seedlog dev` leaves its bootstrap address for the client
// commands: $XDG_RUNTIME_DIR/seedlog-dev/bootstrap, else the temporary directory's.
func devBootstrapPath() string {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "seedlog-dev", "bootstrap")
}

// writeDevBootstrap records the bootstrap address and returns a function that removes it
// (unless another dev cluster replaced it meanwhile).
func writeDevBootstrap(addrs string) func() {
	path := devBootstrapPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		err = os.WriteFile(path, []byte(addrs+"\n"), 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "seedlog dev: could not record the bootstrap address in %s: %v (use -b %s)\n", path, err, addrs)
		}
	}
	return func() {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == addrs {
			os.Remove(path)
		}
	}
}
