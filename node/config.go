package node

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/storage"
)

// Config is a broker's configuration: what the properties file and the flags say, with
// every unset key at its default. The keys are listed in Settings and documented in doc.go.
type Config struct {
	NodeID     int32
	Broker     bool // process.roles contains broker
	Controller bool // process.roles contains controller
	// Voters are the controller quorum: node ids and the addresses of their controller
	// listeners.
	Voters []Voter
	// Listeners are the listeners to bind, in the order of the listeners setting: name,
	// address, and the security protocol and role Validate resolves for each.
	Listeners []Listener
	// Advertised gives the host:port announced for a listener (by name) where it
	// differs from the bound address.
	Advertised []Listener
	// ProtocolMap maps listener names to security protocols
	// (listener.security.protocol.map).
	ProtocolMap map[string]string
	// ControllerListenerNames name the listeners voters take peers on; the first is the
	// one controller.quorum.voters addresses. InterBrokerListener names the listener
	// brokers take peers on (empty: the first controller listener). Only these
	// listeners speak the peer protocol; every other listener serves Kafka clients.
	ControllerListenerNames []string
	InterBrokerListener     string
	// Peers gives peer addresses of nodes that are not voters. Without an entry, a node
	// is reached at the address its authenticated handshake announced, or at the
	// inter-broker listener its broker registration advertises.
	Peers []Voter
	// PeerSecretFile holds the cluster secret that authenticates peers on PLAINTEXT
	// peer listeners; PeerTLS the certificates for SSL peer listeners.
	PeerSecretFile string
	PeerTLS        TLSFiles
	// ClientTLS holds the certificate chain and key that the client listeners using
	// TLS (SSL, SASL_SSL) present, and the CAs that sign client certificates
	// (tls.cert.file, tls.key.file, tls.client.ca.file). ClientAuth says whether those
	// listeners ask clients for a certificate (ssl.client.auth); a handshake must end
	// within TLSHandshakeTimeout (tls.handshake.timeout.ms).
	ClientTLS           TLSFiles
	ClientAuth          ClientAuth
	TLSHandshakeTimeout time.Duration
	DataDir             string
	// MetricsListener serves /metrics (empty: off); a host-less address binds
	// 127.0.0.1. MetricsPprof adds Go's profiles under /debug/pprof/.
	MetricsListener string
	MetricsPprof    bool
	ClusterID       string
	Rack            string

	Timing   core.Timing
	Defaults core.Defaults
	// TopicDefaults holds the broker-level keys of topic configs (min.insync.replicas,
	// log.retention.ms, log.flush, ...) that the properties file or the flags set, with
	// their values as the core compares them (staticValue): this broker's static topic
	// defaults (core.Config.StaticConfig), which DescribeConfigs reports as
	// STATIC_BROKER_CONFIG, as Kafka reports what server.properties sets. Keys left at
	// their defaults are absent.
	TopicDefaults map[string]string

	SegmentBytes            int64
	IndexIntervalBytes      int
	MetadataSnapshotRecords int
	// OpenFilesMax is log.open.files.max: the segment files the logs keep open at once
	// (storage.FileCache), besides those written since their last fsync.
	OpenFilesMax int
	// SpanFilesMax is fetch.span.files.max: the segment files zero-copy fetch holds
	// open between reads and sends (spanFiles), besides the file cache's.
	SpanFilesMax int
	// SegmentAge is log.roll.ms: a segment whose records span longer rolls.
	SegmentAge time.Duration
	// CleanerBackoff is log.cleaner.backoff.ms and CleanerDedupeBytes
	// log.cleaner.dedupe.buffer.size: how often a compacted log is looked at, and the
	// memory of one compaction pass's offset map.
	CleanerBackoff     time.Duration
	CleanerDedupeBytes int64
	// CleanerStepBytes is log.cleaner.io.buffer.size and CleanerBytesPerSec
	// log.cleaner.io.max.bytes.per.second (0: no limit): what one cleaning step reads
	// and writes, and the average rate of the node's cleaning I/O.
	CleanerStepBytes   int
	CleanerBytesPerSec int64
	// RetentionCheckInterval is log.retention.check.interval.ms: how often a partition
	// leader applies its topic's retention.
	RetentionCheckInterval time.Duration
	// OffsetsRetention is offsets.retention.minutes: how long a committed offset outlives
	// its group's last member (or its commit, in a group that never had members);
	// OffsetsRetentionCheck is offsets.retention.check.interval.ms.
	OffsetsRetention      time.Duration
	OffsetsRetentionCheck time.Duration
	// TxnMaxTimeout is transaction.max.timeout.ms; TxnIDExpiration
	// transactional.id.expiration.ms.
	TxnMaxTimeout   time.Duration
	TxnIDExpiration time.Duration
	// TxnVersion is transaction.version (1 or 2; core.Config.TxnVersion).
	TxnVersion int16

	// FrameBytesMax caps one client request (socket.request.max.bytes); a larger frame
	// closes the connection.
	FrameBytesMax int
	// MessageBytesMax is the ceiling of any topic's max.message.bytes
	// (message.max.bytes): the largest batch, compressed or not, a broker accepts.
	MessageBytesMax int
	// FetchBytesMax and ReplicaFetchBytesMax cap the records of one client fetch
	// response and of one answer to a follower.
	FetchBytesMax        int
	ReplicaFetchBytesMax int
	// FetchSessionSlots is max.incremental.fetch.session.cache.slots: the fetch
	// sessions (KIP-227) the broker keeps at most; 0 keeps none.
	FetchSessionSlots int
	// QueuedRequestBytesMax caps the bytes of client requests read and not yet taken by
	// the loop, across all connections (queued.max.request.bytes).
	QueuedRequestBytesMax int64
	// MemoryLimitBytes is the soft limit the broker command gives the Go heap
	// (memory.limit.bytes); 0 picks QueuedRequestBytesMax plus 1 GiB.
	MemoryLimitBytes int64
	// ConnectionsMax caps client connections; more are accepted and closed at once.
	ConnectionsMax int
	// SASLMechanisms and ReauthMax are sasl.enabled.mechanisms and
	// connections.max.reauth.ms (see core.Config).
	SASLMechanisms []string
	ReauthMax      time.Duration
	// Authorizer, SuperUsers and AllowEveryoneIfNoACL are authorizer.class.name,
	// super.users and allow.everyone.if.no.acl.found (see core.Config).
	Authorizer           bool
	SuperUsers           []string
	AllowEveryoneIfNoACL bool
	// QuotaWindowNum and QuotaWindowSize are quota.window.num and
	// quota.window.size.seconds (see core.Config).
	QuotaWindowNum  int
	QuotaWindowSize time.Duration
	// AutoLeaderRebalance, LeaderImbalancePercent and LeaderImbalanceCheckInterval are
	// auto.leader.rebalance.enable, leader.imbalance.per.broker.percentage and
	// leader.imbalance.check.interval.seconds (see core.Config).
	AutoLeaderRebalance          bool
	LeaderImbalancePercent       int
	LeaderImbalanceCheckInterval time.Duration
	// PeerConnectionsMax caps incoming peer connections, handshakes included.
	PeerConnectionsMax int
	// BrokerPartitionsMax is max.broker.partitions: the most partition replicas any
	// broker may hold (see core.Config). A broker warns at start when its open-file
	// limit cannot hold that many replicas' files (fdlimit.go).
	BrokerPartitionsMax int
	// IdleTimeout closes a client connection with nothing in flight that sent nothing
	// for this long (connections.max.idle.ms).
	IdleTimeout time.Duration
	// FrameReadTimeout bounds the time from a frame's first byte to its last
	// (socket.request.read.timeout.ms): a connection that stalls mid-frame is closed.
	FrameReadTimeout time.Duration
	// InFlightPerConnMax caps the requests of one connection awaiting a response; the
	// reader stops reading until one is answered.
	InFlightPerConnMax int
	// PeerQueueMax caps the messages queued for one peer; more are dropped.
	PeerQueueMax int
	// ShutdownTimeout bounds a controlled shutdown's wait for leadership to move away.
	ShutdownTimeout time.Duration
}

// TLSFiles are PEM files: a certificate chain, its private key, and the CAs that sign
// the certificates of the other end (for peers, the cluster's node certificates; for
// clients, their client certificates).
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// ClientAuth is Kafka's ssl.client.auth: whether TLS client listeners ask clients for a
// certificate signed by tls.client.ca.file.
type ClientAuth string

const (
	ClientAuthNone      ClientAuth = "none"      // no client certificate asked for
	ClientAuthRequested ClientAuth = "requested" // verified when given; clients without one are served
	ClientAuthRequired  ClientAuth = "required"  // clients without a valid certificate are refused
)

// Voter is a node id and the address of its peer listener.
type Voter struct {
	ID   int32
	Addr string
}

// offsetsRetentionMinutesMax bounds offsets.retention.minutes: the core compares
// retention in milliseconds of the clock, which must not overflow (about a century).
const offsetsRetentionMinutesMax = int64(group.OffsetsRetentionMax / time.Minute)

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
	{"controller.quorum.voters", "1@127.0.0.1:9093", "the metadata quorum: id@host:port of every voter's controller listener, comma-separated", func(c *Config, v string) error {
		var err error
		c.Voters, err = parseVoters(v)
		return err
	}},
	{"listeners", "PLAINTEXT://127.0.0.1:9092,PEER://127.0.0.1:9093", "NAME://host:port of every listener, comma-separated; the peer listeners (controller.listener.names, inter.broker.listener.name) speak only the peer protocol, every other one serves Kafka clients", func(c *Config, v string) error {
		var err error
		c.Listeners, err = parseListeners(v)
		return err
	}},
	{"advertised.listeners", "", "NAME://host:port announced for a listener where it differs from the bound address (a wildcard host is replaced by the machine's hostname)", func(c *Config, v string) error {
		var err error
		c.Advertised, err = parseListeners(v)
		return err
	}},
	{"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,PEER:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT", "NAME:PROTOCOL for every listener name; PLAINTEXT peer listeners authenticate peers with peer.secret.file, SSL ones with mutual TLS (peer.tls.*); client listeners take PLAINTEXT, SSL (TLS with tls.cert.file), SASL_PLAINTEXT or SASL_SSL (clients authenticate with SASL, over TLS for SASL_SSL)", func(c *Config, v string) error {
		var err error
		c.ProtocolMap, err = parseProtocolMap(v)
		return err
	}},
	{"controller.listener.names", "PEER", "names of the listeners voters take peers on; controller.quorum.voters gives the address of the first", func(c *Config, v string) error {
		c.ControllerListenerNames = nil
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.ControllerListenerNames = append(c.ControllerListenerNames, name)
			}
		}
		if len(c.ControllerListenerNames) == 0 {
			return errors.New("must name at least one listener")
		}
		return nil
	}},
	{"inter.broker.listener.name", "", "the listener brokers take peers on (replication, controller answers); empty: the first controller listener", func(c *Config, v string) error {
		c.InterBrokerListener = strings.TrimSpace(v)
		return nil
	}},
	{"peers", "", "id@host:port of the inter-broker listeners of nodes outside the quorum (optional: without it they are reached at the address their handshake announces)", func(c *Config, v string) error {
		var err error
		c.Peers, err = parseVoters(v)
		return err
	}},
	{"peer.secret.file", "", "file holding the cluster secret (at least 32 bytes, e.g. from `openssl rand -hex 32`) that authenticates peers on PLAINTEXT peer listeners; required unless the cluster is this one node or the peer listeners use SSL", func(c *Config, v string) error {
		c.PeerSecretFile = v
		return nil
	}},
	{"peer.tls.cert.file", "", "PEM certificate chain of this node for SSL peer listeners; it must carry the URI SAN seedlog:node:<node.id>", func(c *Config, v string) error {
		c.PeerTLS.CertFile = v
		return nil
	}},
	{"peer.tls.key.file", "", "PEM private key of peer.tls.cert.file", func(c *Config, v string) error {
		c.PeerTLS.KeyFile = v
		return nil
	}},
	{"peer.tls.ca.file", "", "PEM bundle of the CAs that sign the cluster's node certificates", func(c *Config, v string) error {
		c.PeerTLS.CAFile = v
		return nil
	}},
	{"tls.cert.file", "", "PEM certificate chain that the client listeners mapped to SSL or SASL_SSL present; its SANs must hold the names and addresses clients reach the broker by", func(c *Config, v string) error {
		c.ClientTLS.CertFile = strings.TrimSpace(v)
		return nil
	}},
	{"tls.key.file", "", "PEM private key of tls.cert.file; both files are checked for changes at most once a second, and new handshakes take a new pair once both files hold it", func(c *Config, v string) error {
		c.ClientTLS.KeyFile = strings.TrimSpace(v)
		return nil
	}},
	{"tls.client.ca.file", "", "PEM bundle of the CAs that sign client certificates; needed when ssl.client.auth is requested or required", func(c *Config, v string) error {
		c.ClientTLS.CAFile = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.client.auth", string(ClientAuthNone), "client certificates on TLS client listeners: none (not asked for), requested (verified when given) or required (clients without one signed by tls.client.ca.file are refused)", func(c *Config, v string) error {
		switch a := ClientAuth(strings.TrimSpace(v)); a {
		case ClientAuthNone, ClientAuthRequested, ClientAuthRequired:
			c.ClientAuth = a
			return nil
		}
		return fmt.Errorf("want none, requested or required, got %q", v)
	}},
	{"tls.handshake.timeout.ms", "10000", "a client's TLS handshake must end within this long of its connection, or the connection is closed", durationKey(func(c *Config) *time.Duration { return &c.TLSHandshakeTimeout })},
	{"log.dirs", "./seedlog-data", "the data directory (one directory; logs, metadata and quorum state)", func(c *Config, v string) error {
		if strings.Contains(v, ",") {
			return fmt.Errorf("one data directory only, got %q", v)
		}
		c.DataDir = v
		return nonEmpty(v)
	}},
	{"metrics.listener", "", "host:port serving Prometheus metrics at /metrics (:port binds 127.0.0.1; give 0.0.0.0:port to serve every interface); empty: off", func(c *Config, v string) error {
		c.MetricsListener = v
		if v == "" {
			return nil
		}
		if err := checkHostPort(v); err != nil {
			return err
		}
		if host, port, _ := net.SplitHostPort(v); host == "" {
			c.MetricsListener = net.JoinHostPort("127.0.0.1", port)
		}
		return nil
	}},
	{"metrics.pprof.enable", "false", "also serve Go's profiles at /debug/pprof/ on metrics.listener (they reveal the broker's internals: keep the listener private)", func(c *Config, v string) error {
		return parseBool(v, &c.MetricsPprof)
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
	{"broker.lease.ms", ms(core.DefaultTiming.LeaseDuration), "a heartbeat acknowledgement lets a broker lead this long; must exceed the heartbeat interval, and (broker.lease.ms + controller.quorum.fetch.timeout.ms) * (1 + clock.drift.max) must be below broker.session.timeout.ms * (1 - clock.drift.max)", durationKey(func(c *Config) *time.Duration { return &c.Timing.LeaseDuration })},
	{"clock.drift.max", strconv.FormatFloat(core.DefaultTiming.ClockDriftMax, 'g', -1, 64), "bound on any clock's rate error (0.01 is 1%)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f < 0.5) { // NaN fails too
			return fmt.Errorf("want a fraction in (0, 0.5), got %q", v)
		}
		c.Timing.ClockDriftMax = f
		return nil
	}},
	{"replica.lag.time.max.ms", ms(core.DefaultTiming.ReplicaLagMax), "a follower not caught up for this long leaves the ISR", durationKey(func(c *Config) *time.Duration { return &c.Timing.ReplicaLagMax })},
	{"replica.fetch.wait.max.ms", ms(core.DefaultTiming.ReplicaFetchMaxWait), "follower fetch long-poll", durationKey(func(c *Config) *time.Duration { return &c.Timing.ReplicaFetchMaxWait })},
	{"replica.fetch.idle.wait.max.ms", ms(core.DefaultTiming.ReplicaFetchIdleMaxWait), "an idle follower doubles its long-poll after each answer that brought nothing, up to this (and at most replica.lag.time.max.ms/8)", durationKey(func(c *Config) *time.Duration { return &c.Timing.ReplicaFetchIdleMaxWait })},
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
	topicDefault("log.retention.ms", "age beyond which a topic's old segments are deleted, for topics that do not set retention.ms; -1 for no limit"),
	topicDefault("log.retention.bytes", "size per partition beyond which a topic's old segments are deleted, for topics that do not set retention.bytes; -1 for no limit"),
	topicDefault("log.cleanup.policy", "cleanup.policy of topics that do not set one: delete, compact (the log cleaner keeps the latest record of each key), or both"),
	topicDefault("log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio of topics that do not set one: the dirty share of a compacted log that starts a cleaning pass"),
	topicDefault(metadata.ReplicationThrottleConfig, "bytes per second a leader sends, over all its partitions, to the replicas reassignments add "+
		"(until they are in sync); the cluster-wide dynamic value (seedlog cluster reassign --throttle) takes precedence"),
	topicDefault("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms of topics that do not set one: records younger stay uncompacted"),
	topicDefault("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms of topics that do not set one: records older are compacted whatever the dirty ratio"),
	topicDefault("log.cleaner.delete.retention.ms", "delete.retention.ms of topics that do not set one: how long a tombstone stays after the cleaner first passed it"),
	topicDefault("compression.type", "compression.type of topics that do not set one: producer, or a codec the leader recompresses every batch with (uncompressed, gzip, snappy, lz4, zstd)"),
	topicDefault("log.index.size.max.bytes", "segment.index.bytes of topics that do not set one: a segment rolls before its offset or time index grows past this"),
	topicDefault("log.roll.jitter.ms", "segment.jitter.ms of topics that do not set one: log.roll.ms is shortened by up to this, by an amount fixed per partition"),
	topicDefault("log.message.timestamp.before.max.ms", "message.timestamp.before.max.ms of topics that do not set one: a record stamped further before the leader's clock is refused"),
	topicDefault("log.message.timestamp.after.max.ms", "message.timestamp.after.max.ms of topics that do not set one: a record stamped further after the leader's clock is refused"),
	topicDefault("log.message.timestamp.type", "message.timestamp.type of topics that do not set one: CreateTime or LogAppendTime"),
	topicDefault("unclean.leader.election.enable", "must be false: seedlog never elects a leader from outside the ISR"),
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
	{"offsets.topic.replication.factor", "0", "replicas of __consumer_offsets, created once that many brokers are live; 0: as many as are live, up to 3", func(c *Config, v string) error {
		return parseInt32(v, &c.Defaults.OffsetsTopicReplicationFactor)
	}},
	{"offsets.retention.minutes", "10080", "a group's committed offsets are deleted this long after its last member left (offsets of a group with members never are; in a group that never had members, this long after each commit)", func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 || n > offsetsRetentionMinutesMax {
			return fmt.Errorf("want minutes in [1, %d], got %q", offsetsRetentionMinutesMax, v)
		}
		c.OffsetsRetention = time.Duration(n) * time.Minute
		return nil
	}},
	{"transaction.state.log.num.partitions", "50", "partitions of __transaction_state", func(c *Config, v string) error {
		return parsePositive32(v, &c.Defaults.TxnTopicPartitions)
	}},
	{"transaction.state.log.replication.factor", "0", "replicas of __transaction_state, created once that many brokers are live; 0: as many as are live, up to 3", func(c *Config, v string) error {
		return parseInt32(v, &c.Defaults.TxnTopicReplicationFactor)
	}},
	{"transaction.max.timeout.ms", "900000", "the longest transaction timeout a producer may ask for", durationKey(func(c *Config) *time.Duration { return &c.TxnMaxTimeout })},
	{"transaction.version", strconv.Itoa(core.DefaultTxnVersion), "2: transactions bump the producer epoch at every end (KIP-890 part 2, advertised to clients as the feature transaction.version); 1: the first transaction protocol", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 16)
		if err != nil {
			return err
		}
		if n != 1 && n != 2 {
			return fmt.Errorf("want 1 or 2")
		}
		c.TxnVersion = int16(n)
		return nil
	}},
	{"transactional.id.expiration.ms", "604800000", "a transactional id with no transaction open is removed this long after its last change", durationKey(func(c *Config) *time.Duration { return &c.TxnIDExpiration })},
	{"offsets.retention.check.interval.ms", "600000", "how often group coordinators delete the committed offsets offsets.retention.minutes no longer keeps", durationKey(func(c *Config) *time.Duration { return &c.OffsetsRetentionCheck })},
	{"log.open.files.max", strconv.Itoa(OpenFilesMaxDefault), "segment files the logs keep open at once; past it the least recently used are closed and opened again when read (a file written since its last fsync stays open until it); seedlog's own setting", func(c *Config, v string) error {
		if err := parsePositiveInt(v, &c.OpenFilesMax); err != nil {
			return err
		}
		if c.OpenFilesMax < storage.FileCacheBoundMin {
			return fmt.Errorf("want at least %d, got %q", storage.FileCacheBoundMin, v)
		}
		return nil
	}},
	{"fetch.span.files.max", strconv.Itoa(SpanFilesMaxDefault), "segment files consumer fetches hold open between their read and their send with sendfile, besides log.open.files.max; past it the least recently used idle one is closed, and when none is idle records are copied instead; seedlog's own setting", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > spanFilesMaxMax {
			return fmt.Errorf("want an integer in [1, %d], got %q", spanFilesMaxMax, v)
		}
		c.SpanFilesMax = n
		return nil
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
	{"log.roll.ms", ms(7 * 24 * time.Hour), "a log segment rolls once its records span this long (by their timestamps)", durationKey(func(c *Config) *time.Duration { return &c.SegmentAge })},
	{"log.cleaner.backoff.ms", ms(15 * time.Second), "how often each replica of a compacted topic checks whether its log is due for a cleaning pass", durationKey(func(c *Config) *time.Duration { return &c.CleanerBackoff })},
	{"log.cleaner.dedupe.buffer.size", strconv.Itoa(storage.DefaultDedupeBytes), "memory of a cleaning pass's key map (24 bytes a key); a pass maps as many dirty segments as fit", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<16 || n > 1<<36 {
			return fmt.Errorf("want bytes in [65536, 68719476736], got %q", v)
		}
		c.CleanerDedupeBytes = n
		return nil
	}},
	{"log.cleaner.io.buffer.size", "524288", "what one step of a cleaning pass reads and writes before the node's other disk work has its turn", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1<<10 || n > 1<<31-1 {
			return fmt.Errorf("want bytes in [1024, 2147483647], got %q", v)
		}
		c.CleanerStepBytes = n
		return nil
	}},
	{"log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308", "average rate of the node's cleaning reads and writes, all logs together (Kafka's default: no limit)", func(c *Config, v string) error {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || !(rate >= 1) {
			return fmt.Errorf("want bytes per second, at least 1, got %q", v)
		}
		c.CleanerBytesPerSec = 0 // beyond what int64 holds: no limit
		if rate < math.MaxInt64 {
			c.CleanerBytesPerSec = int64(math.Ceil(rate))
		}
		return nil
	}},
	{"log.retention.check.interval.ms", ms(5 * time.Minute), "how often a partition leader deletes the segments its topic's retention no longer keeps", durationKey(func(c *Config) *time.Duration { return &c.RetentionCheckInterval })},
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
	{"message.max.bytes", "1048588", "the largest record batch any topic accepts: the ceiling of max.message.bytes, and of a batch's size once decompressed", func(c *Config, v string) error {
		return parsePositiveInt32(v, &c.MessageBytesMax)
	}},
	{"fetch.max.bytes", "57671680", "records in one client fetch response at most, whatever the client asks for (one batch always fits)", func(c *Config, v string) error {
		return parsePositiveInt32(v, &c.FetchBytesMax)
	}},
	{"max.incremental.fetch.session.cache.slots", "1000", "fetch sessions (KIP-227) kept at most, each of at most 1000 partitions; 0: none, consumers send full fetches", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > kafka.FetchSessionSlotsMax {
			return fmt.Errorf("want an integer in [0, %d], got %q", kafka.FetchSessionSlotsMax, v)
		}
		c.FetchSessionSlots = n
		return nil
	}},
	{"replica.fetch.response.max.bytes", "10485760", "records in one answer to a follower at most (one batch always fits)", func(c *Config, v string) error {
		return parsePositiveInt32(v, &c.ReplicaFetchBytesMax)
	}},
	{"queued.max.request.bytes", "536870912", "bytes of client requests being read or waiting for the broker, across all connections; reading pauses at the limit and connections stalled mid-request are closed to make room", func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1<<20 {
			return fmt.Errorf("want bytes >= 1048576, got %q", v)
		}
		c.QueuedRequestBytesMax = n
		return nil
	}},
	{"memory.limit.bytes", "0", "soft limit of the broker's Go heap, which collects garbage harder near it (GOMEMLIMIT in the environment wins); 0: queued.max.request.bytes plus 1 GiB. Request memory is bounded by queued.max.request.bytes; this bounds the garbage it leaves", func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || (n != 0 && n < 64<<20) {
			return fmt.Errorf("want 0 or bytes >= 67108864, got %q", v)
		}
		c.MemoryLimitBytes = n
		return nil
	}},
	{"max.connections", strconv.Itoa(core.ConnectionsMaxDefault), "client connections served at once; more are closed on accept", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.ConnectionsMax)
	}},
	{"peer.connections.max", "256", "incoming peer connections at once, handshakes included; at the limit the oldest unfinished handshake is closed", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.PeerConnectionsMax)
	}},
	{"max.broker.partitions", strconv.Itoa(core.BrokerPartitionsMaxDefault), "partition replicas any one broker may hold, cluster-wide (set the same on every node: the active controller enforces its own); creating topics or partitions and reassignments beyond it are refused with POLICY_VIOLATION. A broker needs an open file per replica written between two fsyncs besides log.open.files.max, and warns at start when its open-file limit cannot hold them", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.BrokerPartitionsMax)
	}},
	{"sasl.enabled.mechanisms", "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN", "SASL mechanisms accepted on SASL_PLAINTEXT and SASL_SSL listeners, comma-separated; PLAIN checks the password against the user's SCRAM credentials (use it over TLS only)", func(c *Config, v string) error {
		c.SASLMechanisms = nil
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				c.SASLMechanisms = append(c.SASLMechanisms, m)
			}
		}
		if len(c.SASLMechanisms) == 0 {
			return errors.New("want at least one mechanism")
		}
		return nil
	}},
	{"connections.max.reauth.ms", "0", "an authenticated SASL session lasts this long: a client must re-authenticate before, or its connection is closed at its next request (0: sessions never expire)", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "0" {
			c.ReauthMax = 0
			return nil
		}
		return durationKey(func(c *Config) *time.Duration { return &c.ReauthMax })(c, v)
	}},
	{"authorizer.class.name", "", "empty: no authorization; " + standardAuthorizer + " (or seedlog): every request is checked against the cluster's ACLs", func(c *Config, v string) error {
		switch strings.TrimSpace(v) {
		case "":
			c.Authorizer = false
		case standardAuthorizer, "kafka.security.authorizer.AclAuthorizer", "seedlog":
			c.Authorizer = true
		default:
			return fmt.Errorf("want empty or %s, got %q", standardAuthorizer, v)
		}
		return nil
	}},
	{"super.users", "", "principals allowed everything, semicolon-separated (User:admin;User:ANONYMOUS)", func(c *Config, v string) error {
		c.SuperUsers = nil
		for p := range strings.SplitSeq(v, ";") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
				return fmt.Errorf("%q: want TYPE:NAME, such as User:admin", p)
			}
			c.SuperUsers = append(c.SuperUsers, p)
		}
		return nil
	}},
	{"allow.everyone.if.no.acl.found", "false", "with an authorizer, let every principal act on a resource no ACL covers", func(c *Config, v string) error {
		return parseBool(v, &c.AllowEveryoneIfNoACL)
	}},
	{"auto.leader.rebalance.enable", "true", "move leaderships back to each partition's preferred (first) replica when a broker leads too few of its own", func(c *Config, v string) error {
		return parseBool(v, &c.AutoLeaderRebalance)
	}},
	{"leader.imbalance.per.broker.percentage", "10", "the share, in percent, of a broker's preferred partitions led elsewhere that starts a rebalance", func(c *Config, v string) error {
		pct, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || pct < 0 || pct > 100 {
			return fmt.Errorf("want a whole number from 0 to 100, got %q", v)
		}
		c.LeaderImbalancePercent = pct
		return nil
	}},
	{"leader.imbalance.check.interval.seconds", "300", "how often the active controller checks leader balance", func(c *Config, v string) error {
		var secs int
		if err := parsePositiveInt(v, &secs); err != nil {
			return err
		}
		if secs > 365*24*3600 {
			return fmt.Errorf("at most a year (%d), got %q", 365*24*3600, v)
		}
		c.LeaderImbalanceCheckInterval = time.Duration(secs) * time.Second
		return nil
	}},
	{"quota.window.num", "11", "client quotas (seedlog quota alter) measure each rate over this many samples", func(c *Config, v string) error {
		if err := parsePositiveInt(v, &c.QuotaWindowNum); err != nil {
			return err
		}
		if c.QuotaWindowNum > core.QuotaWindowNumMax {
			return fmt.Errorf("at most %d, got %q", core.QuotaWindowNumMax, v)
		}
		return nil
	}},
	{"quota.window.size.seconds", "1", "the length of one client quota sample", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 3600 {
			return fmt.Errorf("want seconds in [1, 3600], got %q", v)
		}
		c.QuotaWindowSize = time.Duration(n) * time.Second
		return nil
	}},
	{"connections.max.idle.ms", "600000", "a client connection with nothing in flight that sends nothing for this long is closed", durationKey(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"socket.request.read.timeout.ms", "30000", "a request must arrive whole within this long of its first byte, or its connection is closed", durationKey(func(c *Config) *time.Duration { return &c.FrameReadTimeout })},
	{"max.inflight.requests.per.connection", strconv.Itoa(core.InFlightPerConnMaxDefault), "requests of one connection awaiting responses (an acks=0 produce until the broker processed it); the broker stops reading that connection beyond it", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.InFlightPerConnMax)
	}},
	{"peer.queue.max", "4096", "messages queued for one peer; more are dropped (the protocols retry)", func(c *Config, v string) error {
		return parsePositiveInt(v, &c.PeerQueueMax)
	}},
}

// topicDefault is the setting of a broker-level key of the config table that only sets
// the default of its topic config, or (leader.replication.throttled.rate) is a
// broker-only key: nothing but the core's static config holds it.
func topicDefault(key, doc string) Setting {
	d, ok := metadata.BrokerConfigDef(key)
	if !ok {
		panic(fmt.Sprintf("node: %s is not the broker-level key of a topic config", key))
	}
	return Setting{key, d.Default, doc, func(c *Config, v string) error { return d.Check(v) }}
}

// staticValue is the value of broker-level key k as the core compares it with its typed
// fields (core.Config.StaticConfig), once v, given for k, is applied to c.
func (c *Config) staticValue(k, v string) string {
	switch k {
	case "min.insync.replicas":
		return strconv.Itoa(int(c.Defaults.MinInsyncReplicas))
	case "log.flush":
		if c.Defaults.FlushAsync {
			return "async"
		}
		return "sync"
	case "message.max.bytes":
		return strconv.Itoa(c.MessageBytesMax)
	case "log.segment.bytes":
		return strconv.FormatInt(c.SegmentBytes, 10)
	case "log.roll.ms":
		return ms(c.SegmentAge)
	}
	return strings.TrimSpace(v)
}

// staticConfig is TopicDefaults as the core takes it: sorted by key.
func (c *Config) staticConfig() metadata.StaticConfig {
	var out metadata.StaticConfig
	for _, k := range slices.Sorted(maps.Keys(c.TopicDefaults)) {
		out = append(out, metadata.ConfigEntry{Key: k, Value: c.TopicDefaults[k]})
	}
	return out
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
	// Copies of a Config share the map: a copy must not change the original's.
	c.TopicDefaults = maps.Clone(c.TopicDefaults)
	for _, k := range p.Keys {
		s, ok := lookupSetting(k)
		if !ok {
			return fmt.Errorf("unknown setting %q", k)
		}
		if err := s.apply(c, p.Values[k]); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if _, ok := metadata.BrokerConfigDef(k); ok {
			if c.TopicDefaults == nil {
				c.TopicDefaults = map[string]string{}
			}
			c.TopicDefaults[k] = c.staticValue(k, p.Values[k])
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

// Validate checks the settings against each other and resolves each listener's
// protocol and role. Everything it accepts, New can start.
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
	// Everything the core relies on, checked by the core itself on the configuration
	// this node will build: what passes here boots without panicking.
	if err := c.CoreConfig(0, nil).Validate(); err != nil {
		return err
	}
	if c.MessageBytesMax > c.FrameBytesMax {
		return fmt.Errorf("message.max.bytes (%d) above socket.request.max.bytes (%d): no request could carry such a batch", c.MessageBytesMax, c.FrameBytesMax)
	}
	if int64(c.FrameBytesMax) > c.QueuedRequestBytesMax {
		return fmt.Errorf("socket.request.max.bytes (%d) above queued.max.request.bytes (%d): a request that large could never be read", c.FrameBytesMax, c.QueuedRequestBytesMax)
	}
	for _, p := range c.Peers {
		if slices.ContainsFunc(c.Voters, func(v Voter) bool { return v.ID == p.ID }) {
			return fmt.Errorf("peers: node %d is a voter; its address comes from controller.quorum.voters", p.ID)
		}
	}
	if err := c.resolveListeners(); err != nil {
		return err
	}
	if err := c.checkClientTLS(); err != nil {
		return err
	}
	return c.checkPeerAuth()
}

// MemoryLimit is the soft heap limit to apply: memory.limit.bytes, or its default.
func (c *Config) MemoryLimit() int64 {
	if c.MemoryLimitBytes > 0 {
		return c.MemoryLimitBytes
	}
	return c.QueuedRequestBytesMax + 1<<30
}

// LoneNode reports whether the cluster is this node alone: the only voter, with no
// other node configured. Only such a node may run without peer authentication.
func (c *Config) LoneNode() bool {
	return len(c.Voters) == 1 && c.Voters[0].ID == c.NodeID && len(c.Peers) == 0
}

// checkPeerAuth refuses a cluster of several nodes whose peers would not prove who they
// are.
func (c *Config) checkPeerAuth() error {
	tlsSet := c.PeerTLS != (TLSFiles{})
	if tlsSet && (c.PeerTLS.CertFile == "" || c.PeerTLS.KeyFile == "" || c.PeerTLS.CAFile == "") {
		return errors.New("peer.tls.cert.file, peer.tls.key.file and peer.tls.ca.file go together: set all three")
	}
	switch c.PeerProtocol() {
	case protocolSSL:
		if !tlsSet {
			return errors.New("the peer listeners use SSL: set peer.tls.cert.file, peer.tls.key.file and peer.tls.ca.file")
		}
	default:
		if c.PeerSecretFile == "" && !c.LoneNode() {
			return errors.New("peers are not authenticated: a cluster of several nodes needs peer.secret.file " +
				"(the same secret on every node; create one with `seedlog peer-auth secret FILE`) " +
				"or SSL peer listeners with peer.tls.* (`seedlog peer-auth certs`)")
		}
	}
	return nil
}

func (c *Config) isVoter() bool {
	return slices.ContainsFunc(c.Voters, func(v Voter) bool { return v.ID == c.NodeID })
}

// peerAddr returns the peer address of node id from the voters or peers list.
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

// CoreConfig is the state machine's configuration. listeners are the advertised
// listeners the broker registers, client listeners first.
func (c *Config) CoreConfig(seed uint64, listeners []core.Listener) core.Config {
	voters := make([]int32, len(c.Voters))
	for i, v := range c.Voters {
		voters[i] = v.ID
	}
	slices.Sort(voters)
	cc := core.Config{
		NodeID:                       c.NodeID,
		Voters:                       voters,
		Broker:                       c.Broker,
		Listeners:                    listeners,
		Rack:                         c.Rack,
		ClusterID:                    c.ClusterID,
		LogDir:                       absDir(c.DataDir),
		MetadataSnapshotRecords:      c.MetadataSnapshotRecords,
		Seed:                         seed,
		Timing:                       c.Timing,
		Defaults:                     c.Defaults,
		StaticConfig:                 c.staticConfig(),
		MessageBytesMax:              int32(c.MessageBytesMax),
		FetchBytesMax:                int32(c.FetchBytesMax),
		FetchSessionSlots:            fetchSessionSlots(c.FetchSessionSlots),
		ReplicaFetchResponseBytesMax: int32(c.ReplicaFetchBytesMax),
		RetentionCheckInterval:       c.RetentionCheckInterval,
		CleanerBackoff:               c.CleanerBackoff,
		CleanerStepBytes:             int32(c.CleanerStepBytes),
		CleanerBytesPerSec:           c.CleanerBytesPerSec,
		OffsetsRetention:             c.OffsetsRetention,
		OffsetsRetentionCheck:        c.OffsetsRetentionCheck,
		TxnMaxTimeout:                c.TxnMaxTimeout,
		TxnIDExpiration:              c.TxnIDExpiration,
		TxnVersion:                   c.TxnVersion,
		InFlightPerConnMax:           c.InFlightPerConnMax,
		ConnectionsMax:               c.ConnectionsMax,
		BrokerPartitionsMax:          c.BrokerPartitionsMax,
		SASLMechanisms:               c.SASLMechanisms,
		ReauthMax:                    c.ReauthMax,
		Authorizer:                   c.Authorizer,
		SuperUsers:                   c.SuperUsers,
		AllowEveryoneIfNoACL:         c.AllowEveryoneIfNoACL,
		QuotaWindowNum:               c.QuotaWindowNum,
		QuotaWindowSize:              c.QuotaWindowSize,
		AutoLeaderRebalance:          c.AutoLeaderRebalance,
		LeaderImbalancePercent:       c.LeaderImbalancePercent,
		LeaderImbalanceCheckInterval: c.LeaderImbalanceCheckInterval,
	}
	if len(listeners) > 0 {
		cc.Host, cc.Port = listeners[0].Host, listeners[0].Port
	}
	return cc
}

// absDir is dir made absolute, as Kafka reports log dirs; dir itself when that fails.
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// StorageConfig is the configuration of the logs, with a file cache of its own: the
// logs of one executor share it.
func (c *Config) StorageConfig() storage.LogConfig {
	return storage.LogConfig{
		SegmentBytesMax:    c.SegmentBytes,
		IndexIntervalBytes: c.IndexIntervalBytes,
		DedupeBytes:        c.CleanerDedupeBytes,
		SegmentAgeMax:      c.SegmentAge,
		// A batch is never larger than the request that carried it. Refusing it on disk
		// would stop the node, so the storage bound follows the frame bound and
		// max.message.bytes does the policing.
		BatchBytesMax: c.FrameBytesMax,
		Files:         storage.NewFileCache(c.OpenFilesMax, plant.Set{}),
	}
}

// OpenFilesMaxDefault is log.open.files.max's default: an idle broker's thousands of
// replicas hold this many descriptors, not one per segment.
const OpenFilesMaxDefault = 2048

// SpanFilesMaxDefault is fetch.span.files.max's default: consumers reading a thousand
// partitions at once keep sendfile, and the defaults still fit 20,000 descriptors
// (fdlimit_test.go). spanFilesMaxMax keeps a typo from asking for millions.
const (
	SpanFilesMaxDefault = 1024
	spanFilesMaxMax     = 1 << 20
)

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

// standardAuthorizer is Kafka's authorizer class, accepted so that Kafka configurations
// carry over: seedlog's own authorizer implements its model.
const standardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

func parseBool(v string, dst *bool) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("want true or false, got %q", v)
	}
	*dst = b
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

// fetchSessionSlots is the core's form of max.incremental.fetch.session.cache.slots,
// whose 0 means none (the core's 0 means its default).
func fetchSessionSlots(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// parsePositiveInt32 parses a positive int that the core holds as an int32.
func parsePositiveInt32(v string, dst *int) error {
	if err := parsePositiveInt(v, dst); err != nil {
		return err
	}
	if *dst > math.MaxInt32 {
		return fmt.Errorf("at most %d, got %q", math.MaxInt32, v)
	}
	return nil
}

func durationKey(field func(c *Config) *time.Duration) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 || n > core.TimingMsMax {
			return fmt.Errorf("want milliseconds in [1, %d], got %q", core.TimingMsMax, v)
		}
		*field(c) = time.Duration(n) * time.Millisecond
		return nil
	}
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
