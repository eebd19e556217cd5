package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// Node is a running seedlog node: the core state machine, driven by one goroutine, with
// TCP, disk, clock and metrics around it.
type Node struct {
	cfg   Config
	log   *slog.Logger
	clock clock
	core  *core.Node
	rec   disk.Recovered // handed to the core at Start, then dropped
	disk  *diskWorker
	// spans holds the segment files of fetched spans until client writers sent them.
	spans    *spanFiles
	peers    *peerNet
	peerAuth peerAuth
	// clientTLS serves the client listeners that use TLS; nil when none does.
	clientTLS *clientTLS
	metrics   *metrics
	// peerAdvertised is where other nodes reach this one, announced in handshakes.
	peerAdvertised string
	lock           *dataLock

	listeners []*boundListener
	metricsLn net.Listener
	httpSrv   *http.Server

	inputs chan input
	dones  chan []disk.Done
	calls  chan func()

	// budget bounds the client request bytes held (queued.max.request.bytes).
	budget    *requestBudget
	peerSlots *peerSlots
	refusals  *refusalLog

	// conns is owned by the loop goroutine.
	conns     map[core.ConnID]*clientConn
	nextConn  atomic.Uint64
	connCount atomic.Int64

	// sockets holds every open client and peer socket, to close them all at stop.
	socketsMu     sync.Mutex
	sockets       map[net.Conn]struct{}
	socketsClosed bool

	// lastNote, lastNoteAt and noteRepeats fold repeated notes; loop goroutine only.
	lastNote    core.Note
	lastNoteAt  time.Time
	noteRepeats int

	quit     chan struct{} // closed when the node stops
	kill     chan struct{} // closed by Stop
	killOnce sync.Once
	wg       sync.WaitGroup // every goroutine but the loop
	ran      atomic.Bool
}

// New prepares a node: it validates cfg, loads the peer and client TLS credentials,
// checks the descriptor limit, locks and recovers the data directory and binds every
// listener, so that configuration, credential and port problems surface before Run.
func New(cfg Config, logger *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	n := &Node{
		cfg:       cfg,
		log:       logger.With("node", cfg.NodeID),
		clock:     newClock(),
		metrics:   newMetrics(),
		inputs:    make(chan input, inputsMax),
		dones:     make(chan []disk.Done, 16),
		calls:     make(chan func()),
		budget:    newRequestBudget(cfg.QueuedRequestBytesMax),
		peerSlots: &peerSlots{max: cfg.PeerConnectionsMax},
		conns:     map[core.ConnID]*clientConn{},
		sockets:   map[net.Conn]struct{}{},
		quit:      make(chan struct{}),
		kill:      make(chan struct{}),
	}
	n.refusals = newRefusalLog(n.log)
	if err := n.open(); err != nil {
		n.discard()
		return nil, err
	}
	return n, nil
}

// open does the fallible part of New.
func (n *Node) open() error {
	cfg := n.cfg
	var err error
	if n.peerAuth, err = loadPeerAuth(&cfg); err != nil {
		return err
	}
	if _, ok := cfg.clientTLSListener(); ok {
		if n.clientTLS, err = newClientTLS(&cfg, n.log, n.metrics); err != nil {
			return err
		}
	}
	if warning, err := checkFileLimit(&cfg); err != nil {
		return err
	} else if warning != "" {
		n.log.Warn("open-file limit", "detail", warning)
	}
	if n.lock, err = openDataDir(cfg); err != nil {
		return err
	}
	if err := n.bind(); err != nil {
		return err
	}
	n.spans = newSpanFiles(time.Now, cfg.SpanFilesMax)
	fsys := spanFS{FS: storage.NewOSFS(cfg.DataDir), files: n.spans}
	exec, rec, err := diskexec.Open(fsys, diskexec.Config{Log: cfg.StorageConfig(), Files: n.spans})
	if err != nil {
		return fmt.Errorf("recovering %s: %w", cfg.DataDir, err)
	}
	addLogFiles(cfg.DataDir, &rec)
	n.rec = rec
	n.disk = newDiskWorker(exec, n.dones, n.quit, n.metrics)
	n.peerAdvertised = n.advertisedPeer()
	if n.core, err = core.New(cfg.CoreConfig(rand.Uint64(), registered(&n.cfg, n.listeners))); err != nil {
		return err
	}
	n.peers = newPeerNet(n)
	return nil
}

// bind opens the listeners. A port already taken is reported with the setting to change.
func (n *Node) bind() error {
	for _, l := range n.cfg.Listeners {
		ln, err := listen(l.Addr, "listeners "+l.Name)
		if err != nil {
			return err
		}
		n.listeners = append(n.listeners, &boundListener{cfg: l, ln: ln})
	}
	if a := n.cfg.MetricsListener; a != "" {
		var err error
		if n.metricsLn, err = listen(a, "metrics.listener"); err != nil {
			return err
		}
	}
	return nil
}

// PortError is a listener that could not bind.
type PortError struct {
	Addr    string
	Setting string
	Err     error
}

func (e *PortError) Error() string {
	return fmt.Sprintf("cannot listen on %s (%s): %v", e.Addr, e.Setting, e.Err)
}

func (e *PortError) Unwrap() error { return e.Err }

func listen(addr, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
		}
		return nil, &PortError{Addr: addr, Setting: setting, Err: err}
	}
	return ln, nil
}

// advertisedPeer is the address this node announces in its peer handshakes: the
// advertised address of its inter-broker listener (its controller listener when it is
// only a controller).
func (n *Node) advertisedPeer() string {
	for _, b := range n.listeners {
		if b.cfg.Name == n.cfg.peerListenerName() {
			host, port := n.cfg.advertise(b.cfg, b.ln.Addr())
			return net.JoinHostPort(host, strconv.Itoa(int(port)))
		}
	}
	return ""
}

// Listener returns the bound address of the listener named name, or "".
func (n *Node) Listener(name string) string {
	for _, b := range n.listeners {
		if b.cfg.Name == name {
			return b.ln.Addr().String()
		}
	}
	return ""
}

// ClientAddr is the bound address of the first client listener.
func (n *Node) ClientAddr() string {
	for _, b := range n.listeners {
		if !b.cfg.Peer {
			return b.ln.Addr().String()
		}
	}
	return ""
}

// PeerAddr is the bound address of the listener this node announces to peers.
func (n *Node) PeerAddr() string { return n.Listener(n.cfg.peerListenerName()) }

// MetricsAddr is the bound metrics address, empty when metrics are off.
func (n *Node) MetricsAddr() string {
	if n.metricsLn == nil {
		return ""
	}
	return n.metricsLn.Addr().String()
}

// ID is the node id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// Stop makes Run return at once, without a controlled shutdown. Safe to call any time,
// more than once, from any goroutine.
func (n *Node) Stop() { n.killOnce.Do(func() { close(n.kill) }) }

// Close releases a node that was never run: its listeners, data lock and open logs.
// On a running node it is Stop.
func (n *Node) Close() {
	if !n.ran.CompareAndSwap(false, true) {
		n.Stop()
		return
	}
	n.discard()
}

// discard releases what New acquired, for a node that never ran.
func (n *Node) discard() {
	n.closeNetwork()
	if n.disk != nil {
		n.disk.close()
	}
	if n.spans != nil {
		n.spans.close()
	}
	n.unlock()
}

// Run serves until ctx is cancelled, then shuts down in a controlled way: leadership
// moves to other brokers first, for at most the configured shutdown timeout. Run returns
// nil after a shutdown and the core's fatal error when the node stopped on its own (its
// durable state is unknown; a new Node recovers from disk). A Node runs once.
func (n *Node) Run(ctx context.Context) error {
	if !n.ran.CompareAndSwap(false, true) {
		return errors.New("node: Run called twice")
	}
	var ls []string
	for _, l := range n.listeners {
		ls = append(ls, fmt.Sprintf("%s://%s (%s)", l.cfg.Name, l.ln.Addr(), l.cfg.Protocol))
	}
	n.log.Info("starting", "listeners", strings.Join(ls, ", "), "peer_auth", n.peerAuthMode(), "data", n.cfg.DataDir,
		"broker", n.cfg.Broker, "controller", n.cfg.Controller)
	n.startGoroutines()
	err := n.loop(ctx)
	close(n.quit)
	n.closeConns()
	n.closeNetwork()
	n.wg.Wait()
	n.disk.close()
	n.spans.close() // no writer is left to send a span
	// Only now may another process take the data directory: the last batch is done.
	n.unlock()
	if err != nil {
		n.log.Error("stopped", "err", err)
	} else {
		n.log.Info("stopped")
	}
	return err
}

func (n *Node) startGoroutines() {
	n.disk.start(n.goFunc)
	for _, l := range n.listeners {
		serve := n.serveClient
		if l.cfg.Peer {
			serve = n.servePeer
		}
		n.goFunc(func() { n.acceptLoop(l, serve) })
	}
	if n.metricsLn != nil {
		n.httpSrv = &http.Server{Handler: n.metricsHandler(), ReadHeaderTimeout: 5 * time.Second}
		n.goFunc(func() { _ = n.httpSrv.Serve(n.metricsLn) })
	}
}

func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// closeNetwork closes the listeners, the metrics server and the peer links.
func (n *Node) closeNetwork() {
	for _, l := range n.listeners {
		l.ln.Close()
	}
	if n.metricsLn != nil {
		n.metricsLn.Close()
	}
	if n.httpSrv != nil {
		n.httpSrv.Close()
	}
	if n.peers != nil {
		n.peers.close()
	}
}

func (n *Node) unlock() {
	if n.lock != nil {
		n.lock.release()
		n.lock = nil
	}
}

// peerAuthMode names how peers authenticate, for the start-up log line.
func (n *Node) peerAuthMode() string {
	switch {
	case n.peerAuth.tls != nil:
		return "mutual TLS"
	case n.peerAuth.secret.Valid():
		return "cluster secret"
	}
	return "none (a lone node takes no peers)"
}
