package node

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/storage"
)

// Config is a broker's configuration: what the properties file and the flags say, with
// every unset key at its default. The keys are listed in Settings and documented in doc.go.
type Config struct {
	NodeID     int32
	Broker     bool // process.roles contains broker
	Controller bool // process.roles contains controller
	// Voters are the controller quorum: node ids and the peer addresses they listen on.
	Voters []Voter
	// Listener is the client (Kafka protocol) address to bind.
	Listener string
	// PeerListener is the address to bind for other nodes. Empty: a voter binds its own
	// entry of Voters, any other node takes peer connections on the client listener.
	PeerListener string
	// AdvertisedHost and AdvertisedPort are what clients are told to connect to (zero:
	// the client listener's).
	AdvertisedHost string
	AdvertisedPort int32
	// Peers gives peer addresses of nodes that are not voters. Without an entry, a node
	// is reached through the client listener its broker registration advertises.
	Peers           []Voter
	DataDir         string
	MetricsListener string // empty: no metrics endpoint
	ClusterID       string
	Rack            string

	Timing   core.Timing
	Defaults core.Defaults

	SegmentBytes            int64
	IndexIntervalBytes      int
	MetadataSnapshotRecords int

	// FrameBytesMax caps one client request (socket.request.max.bytes); a larger frame
	// closes the connection.
	FrameBytesMax int
	// ConnectionsMax caps client connections; more are accepted and closed at once.
	ConnectionsMax int
	// InFlightPerConnMax caps the requests of one connection awaiting a response; the
	// reader stops reading until one is answered.
	InFlightPerConnMax int
	// PeerQueueMax caps the messages queued for one peer; more are dropped.
	PeerQueueMax int
	// ShutdownTimeout bounds a controlled shutdown's wait for leadership to move away.
	ShutdownTimeout time.Duration
}

// Voter is a node id and the address of its peer listener.
type Voter struct {
	ID   int32
	Addr string
}

// frameBytesLimit caps socket.request.max.bytes below the peer preamble read as a frame
// size, so the client listener can always tell a peer from a client.
const frameBytesLimit = 1 << 30

// Setting is one configuration key: its default, its documentation and how it applies.
type Setting struct {
	Key     string
	Default string
	Doc     string
	apply   func(c *Config, v string) error
}

// Settings lists every configuration key in documentation order.
func Settings() []Setting { return slices.Clone(settings) }

var settings = []Setting{
	{"node.id", "1", "this node's id, unique in the cluster", func(c *Config, v string) error {
		return parseInt32(v, &c.NodeID)
	}},
	{"process.roles", "broker,controller", "broker (serves clients, hosts partitions), controller (votes in the metadata quorum), or both", func(c *Config, v string) error {
		return parseRoles(c, v)
	}},
	{"controller.quorum.voters", "1@127.0.0.1:9093", "the metadata quorum: id@host:port of every voter's peer listener, comma-separated", func(c *Config, v string) error {
		var err error
		c.Voters, err = parseVoters(v)
		return err
	}},
	{"listeners", "127.0.0.1:9092", "client listener host:port (PLAINTEXT://host:port is accepted)", func(c *Config, v string) error {
		c.Listener = stripScheme(v)
		return checkHostPort(c.Listener)
	}},
	{"peer.listener", "", "peer listener host:port; empty: a voter binds its controller.quorum.voters address, other nodes share the client listener", func(c *Config, v string) error {
		c.PeerListener = stripScheme(v)
		if v == "" {
			return nil
		}
		return checkHostPort(c.PeerListener)
	}},
	{"peers", "", "id@host:port of the peer listeners of nodes outside the quorum (optional: without it they are reached through their advertised client address)", func(c *Config, v string) error {
		var err error
		c.Peers, err = parseVoters(v)
		return err
	}},
	{"advertised.listeners", "", "host:port clients are told to connect to; empty: the client listener's (a wildcard host becomes the machine's hostname)", func(c *Config, v string) error {
		return parseAdvertised(c, stripScheme(v))
	}},
	{"log.dirs", "./seedlog-data", "the data directory (one directory; logs, metadata and quorum state)", func(c *Config, v string) error {
		if strings.Contains(v, ",") {
			return fmt.Errorf("one data directory only, got %q", v)
		}
		c.DataDir = v
		return nonEmpty(v)
	}},
	{"metrics.listener", "", "host:port serving Prometheus metrics at /metrics; empty: off", func(c *Config, v string) error {
		c.MetricsListener = v
		if v == "" {
			return nil
		}
		return checkHostPort(v)
	}},
	{"cluster.id", "seedlog", "the cluster's id; peers from another cluster are refused", func(c *Config, v string) error {
		c.ClusterID = v
		return nonEmpty(v)
	}},
	{"broker.rack", "", "rack of this broker, for replica placement", func(c *Config, v string) error {
		c.Rack = v
		return nil
	}},

	{"controller.quorum.election.timeout.ms", ms(core.DefaultTiming.ElectionTimeout), "quorum election timeout, randomized in [T, 2T)", durationKey(func(c *Config) *time.Duration { return &c.Timing.ElectionTimeout })},
	{"controller.quorum.fetch.max.wait.ms", ms(core.DefaultTiming.QuorumFetchMaxWait), "how long the quorum leader holds an idle fetch", durationKey(func(c *Config) *time.Duration { return &c.Timing.QuorumFetchMaxWait })},
	{"controller.quorum.fetch.timeout.ms", ms(core.DefaultTiming.QuorumFetchTimeout), "no successful quorum fetch for this long starts an election", durationKey(func(c *Config) *time.Duration { return &c.Timing.QuorumFetchTimeout })},
	{"broker.heartbeat.interval.ms", ms(core.DefaultTiming.HeartbeatInterval), "broker heartbeat to the controller", durationKey(func(c *Config) *time.Duration { return &c.Timing.HeartbeatInterval })},
	{"broker.session.timeout.ms", ms(core.DefaultTiming.SessionTimeout), "the controller fences a broker silent this long", durationKey(func(c *Config) *time.Duration { return &c.Timing.SessionTimeout })},
	{"broker.lease.ms", ms(core.DefaultTiming.LeaseDuration), "a heartbeat acknowledgement lets a broker lead this long; must be below the session timeout", durationKey(func(c *Config) *time.Duration { return &c.Timing.LeaseDuration })},
	{"clock.drift.max", strconv.FormatFloat(core.DefaultTiming.ClockDriftMax, 'g', -1, 64), "bound on any clock's rate error (0.01 is 1%)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f >= 0.5 {
			return fmt.Errorf("want a fraction in (0, 0.5), got %q", v)
		}
		c.Timing.ClockDriftMax = f
		return nil
	}},
	{"replica.lag.time.max.ms", ms(core.DefaultTiming.ReplicaLagMax), "a follower not caught up for this long leaves the ISR", durationKey(func(c *Config) *time.Duration { return &c.Timing.ReplicaLagMax })},
	{"replica.fetch.wait.max.ms", ms(core.DefaultTiming.ReplicaFetchMaxWait), "follower fetch long-poll", durationKey(func(c *Config) *time.Duration { return &c.Timing.ReplicaFetchMaxWait })},
	{"request.timeout.ms", ms(core.DefaultTiming.RequestTimeout), "forwarded requests and read barriers give up after this", durationKey(func(c *Config) *time.Duration { return &c.Timing.RequestTimeout })},
	{"controlled.shutdown.timeout.ms", "30000", "on SIGINT/SIGTERM, wait at most this long for leadership to move away before stopping", durationKey(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},

	{"num.partitions", "1", "partitions of a topic created without a count", func(c *Config, v string) error {
		return parsePositive32(v, &c.Defaults.Partitions)
	}},
	{"default.replication.factor", "1", "replication factor of a topic created without one", func(c *Config, v string) error {
		return parsePositive32(v, &c.Defaults.ReplicationFactor)
	}},
	{"min.insync.replicas", "1", "acks=all needs this many in-sync replicas (topics may override it)", func(c *Config, v string) error {
		return parsePositive32(v, &c.Defaults.MinInsyncReplicas)
	}},
	{"log.flush", "sync", "sync: acknowledge after fsync (the durability promise); async: after the page cache (Kafka's default; UNSAFE: a power loss on every replica loses acknowledged records)", func(c *Config, v string) error {
		switch v {
		case "sync":
			c.Defaults.FlushAsync = false
		case "async":
			c.Defaults.FlushAsync = true
		default:
			return fmt.Errorf("want sync or async, got %q", v)
		}
		return nil
	}},
	{"offsets.topic.num.partitions", "50", "partitions of __consumer_offsets", func(c *Config, v string) error {
		return parsePositive32(v, &c.Defaults.OffsetsTopicPartitions)
	}},
	{"log.segment.bytes", strconv.Itoa(storage.DefaultSegmentBytesMax), "a log segment rolls at this size", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<14 || n > 1<<31-1 {
			return fmt.Errorf("want bytes in [16384, 2147483647], got %q", v)
		}
		c.SegmentBytes = n
		return nil
	}},
	{"log.index.interval.bytes", strconv.Itoa(storage.DefaultIndexIntervalBytes), "bytes between two offset index entries", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.IndexIntervalBytes)
	}},
	{"metadata.snapshot.records", "1000", "committed metadata records between two snapshots of the metadata image", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.MetadataSnapshotRecords)
	}},
	{"socket.request.max.bytes", strconv.Itoa(wire.FrameSizeDefaultMax), "largest client request; a larger one closes its connection", func(c *Config, v string) error {
		if err := parsePositiveInt(v, &c.FrameBytesMax); err != nil {
			return err
		}
		if c.FrameBytesMax >= frameBytesLimit {
			return fmt.Errorf("at most %d", frameBytesLimit-1)
		}
		return nil
	}},
	{"max.connections", "4096", "client connections served at once; more are closed on accept", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.ConnectionsMax)
	}},
	{"max.inflight.requests.per.connection", "64", "requests of one connection awaiting responses; the broker stops reading that connection beyond it", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.InFlightPerConnMax)
	}},
	{"peer.queue.max", "4096", "messages queued for one peer; more are dropped (the protocols retry)", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.PeerQueueMax)
	}},
}

// DefaultConfig is the configuration with every key at its default.
func DefaultConfig() Config {
	var c Config
	for _, s := range settings {
		if err := s.apply(&c, s.Default); err != nil {
			panic(fmt.Sprintf("node: default of %s: %v", s.Key, err))
		}
	}
	return c
}

// Properties is a parsed properties file: key=value lines, in file order.
type Properties struct {
	Keys   []string
	Values map[string]string
}

// ParseProperties reads Kafka-style properties: one key=value (or key: value) per
// line, # and ! start comments, blank lines are ignored. Line continuations and escapes
// are not supported: no seedlog value needs them.
func ParseProperties(r io.Reader) (Properties, error) {
	p := Properties{Values: map[string]string{}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		i := strings.IndexAny(s, "=:")
		if i <= 0 {
			return p, fmt.Errorf("line %d: want key=value, got %q", line, s)
		}
		k, v := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		if _, dup := p.Values[k]; dup {
			return p, fmt.Errorf("line %d: %s set twice", line, k)
		}
		p.Keys = append(p.Keys, k)
		p.Values[k] = v
	}
	return p, sc.Err()
}

// Apply sets every key of p on c. An unknown key is an error: a typo must not silently
// leave a setting at its default.
func (c *Config) Apply(p Properties) error {
	for _, k := range p.Keys {
		s, ok := lookupSetting(k)
		if !ok {
			return fmt.Errorf("unknown setting %q", k)
		}
		if err := s.apply(c, p.Values[k]); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// Set sets one key.
func (c *Config) Set(key, value string) error {
	return c.Apply(Properties{Keys: []string{key}, Values: map[string]string{key: value}})
}

func lookupSetting(key string) (Setting, bool) {
	for _, s := range settings {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// LoadConfig reads a properties file over the defaults. An empty path gives the defaults.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	if path == "" {
		return c, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	p, err := ParseProperties(f)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Apply(p); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// FlagOverrides registers one string flag per setting on fs (--node.id=2, ...) and
// returns a function that applies the flags that were given, after the file.
func FlagOverrides(fs *flag.FlagSet) func(c *Config) error {
	vals := map[string]*string{}
	for _, s := range settings {
		vals[s.Key] = fs.String(s.Key, "", s.Doc+" (default "+strconv.Quote(s.Default)+")")
	}
	return func(c *Config) error {
		var err error
		fs.Visit(func(f *flag.Flag) {
			if v, ok := vals[f.Name]; ok && err == nil {
				if e := c.Set(f.Name, *v); e != nil {
					err = fmt.Errorf("--%w", e) // e names the key
				}
			}
		})
		return err
	}
}

// Validate checks the settings against each other.
func (c *Config) Validate() error {
	if !c.Broker && !c.Controller {
		return errors.New("process.roles: no role")
	}
	if len(c.Voters) == 0 {
		return errors.New("controller.quorum.voters: empty")
	}
	if c.Controller != c.isVoter() {
		if c.Controller {
			return fmt.Errorf("process.roles includes controller but node %d is not in controller.quorum.voters", c.NodeID)
		}
		return fmt.Errorf("node %d is in controller.quorum.voters but process.roles lacks controller", c.NodeID)
	}
	if c.Timing.LeaseDuration >= c.Timing.SessionTimeout {
		return fmt.Errorf("broker.lease.ms (%v) must be below broker.session.timeout.ms (%v)", c.Timing.LeaseDuration, c.Timing.SessionTimeout)
	}
	if c.Defaults.MinInsyncReplicas > c.Defaults.ReplicationFactor {
		return fmt.Errorf("min.insync.replicas (%d) above default.replication.factor (%d)", c.Defaults.MinInsyncReplicas, c.Defaults.ReplicationFactor)
	}
	for _, p := range c.Peers {
		if slices.ContainsFunc(c.Voters, func(v Voter) bool { return v.ID == p.ID }) {
			return fmt.Errorf("peers: node %d is a voter; its address comes from controller.quorum.voters", p.ID)
		}
	}
	return nil
}

func (c *Config) isVoter() bool {
	return slices.ContainsFunc(c.Voters, func(v Voter) bool { return v.ID == c.NodeID })
}

// voterAddr returns the peer address of node id from the voters or peers list.
func (c *Config) peerAddr(id int32) (string, bool) {
	for _, l := range [][]Voter{c.Voters, c.Peers} {
		for _, v := range l {
			if v.ID == id {
				return v.Addr, true
			}
		}
	}
	return "", false
}

// peerBind is the address the peer listener binds; empty when peers share the client
// listener.
func (c *Config) peerBind() string {
	if c.PeerListener != "" {
		return c.PeerListener
	}
	if a, ok := c.peerAddr(c.NodeID); ok {
		return a
	}
	return ""
}

// CoreConfig is the state machine's configuration.
func (c *Config) CoreConfig(seed uint64, advertisedHost string, advertisedPort int32) core.Config {
	voters := make([]int32, len(c.Voters))
	for i, v := range c.Voters {
		voters[i] = v.ID
	}
	slices.Sort(voters)
	return core.Config{
		NodeID:                  c.NodeID,
		Voters:                  voters,
		Broker:                  c.Broker,
		Host:                    advertisedHost,
		Port:                    advertisedPort,
		Rack:                    c.Rack,
		ClusterID:               c.ClusterID,
		MetadataSnapshotRecords: c.MetadataSnapshotRecords,
		Seed:                    seed,
		Timing:                  c.Timing,
		Defaults:                c.Defaults,
	}
}

// StorageConfig is the configuration of the logs.
func (c *Config) StorageConfig() storage.LogConfig {
	return storage.LogConfig{
		SegmentBytesMax:    c.SegmentBytes,
		IndexIntervalBytes: c.IndexIntervalBytes,
		// A batch is never larger than the request that carried it. Refusing it on disk
		// would stop the node, so the storage bound follows the frame bound and the
		// per-topic max.message.bytes does the policing.
		BatchBytesMax: c.FrameBytesMax,
	}
}

func parseRoles(c *Config, v string) error {
	c.Broker, c.Controller = false, false
	for _, r := range strings.Split(v, ",") {
		switch strings.TrimSpace(r) {
		case "broker":
			c.Broker = true
		case "controller":
			c.Controller = true
		default:
			return fmt.Errorf("unknown role %q (want broker, controller)", r)
		}
	}
	return nil
}

// parseVoters reads id@host:port,id@host:port.
func parseVoters(v string) ([]Voter, error) {
	var out []Voter
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		id, addr, ok := strings.Cut(item, "@")
		if !ok {
			return nil, fmt.Errorf("want id@host:port, got %q", item)
		}
		var n int32
		if err := parseInt32(id, &n); err != nil || n < 0 {
			return nil, fmt.Errorf("bad node id in %q", item)
		}
		if err := checkHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		if slices.ContainsFunc(out, func(x Voter) bool { return x.ID == n }) {
			return nil, fmt.Errorf("node %d listed twice", n)
		}
		out = append(out, Voter{ID: n, Addr: addr})
	}
	slices.SortFunc(out, func(a, b Voter) int { return int(a.ID) - int(b.ID) })
	return out, nil
}

func parseAdvertised(c *Config, v string) error {
	c.AdvertisedHost, c.AdvertisedPort = "", 0
	if v == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || host == "" {
		return fmt.Errorf("want host:port, got %q", v)
	}
	c.AdvertisedHost, c.AdvertisedPort = host, int32(p)
	return nil
}

func stripScheme(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.Index(v, "://"); i >= 0 {
		return v[i+3:]
	}
	return v
}

func checkHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port in %q", v)
	}
	return nil
}

func nonEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func parseInt32(v string, dst *int32) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return fmt.Errorf("want an integer, got %q", v)
	}
	*dst = int32(n)
	return nil
}

func parsePositive32(v string, dst *int32) error {
	if err := parseInt32(v, dst); err != nil {
		return err
	}
	if *dst < 1 {
		return fmt.Errorf("want at least 1, got %q", v)
	}
	return nil
}

func parsePositiveInt(v string, dst *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return fmt.Errorf("want a positive integer, got %q", v)
	}
	*dst = n
	return nil
}

func durationKey(field func(c *Config) *time.Duration) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("want milliseconds >= 1, got %q", v)
		}
		*field(c) = time.Duration(n) * time.Millisecond
		return nil
	}
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
