package core

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/controller"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/txn"
)

// DefaultTxnVersion is transaction.version's default (see Config.TxnVersion).
const DefaultTxnVersion = 2

// Config is a node's configuration. The real node reads it from a file and flags; the
// simulator draws it per seed.
type Config struct {
	NodeID int32
	// Voters are the node ids of the controller quorum, sorted. A node whose id is among
	// them votes and may become the active controller.
	Voters []int32
	// Broker makes the node serve clients and host partitions. A node may be a voter, a
	// broker, or both (the default for small clusters).
	Broker bool
	// Listeners are the endpoints the broker registers: its client listeners, which
	// Metadata responses hand to clients by the name they connected on, and its
	// inter-broker listener. Empty: one PLAINTEXT listener at Host and Port.
	Listeners []Listener
	Host      string
	Port      int32
	Rack      string
	// ClusterID names the cluster in Metadata responses and registrations.
	ClusterID string
	// LogDir names the node's data directory, where its partition logs live, as
	// DescribeLogDirs reports it (log.dirs); the core never opens it.
	LogDir string
	// MetadataSnapshotRecords is how many committed metadata records pass between two
	// snapshots of the image (0: a default of 1000).
	MetadataSnapshotRecords int
	// QuorumFetchBytesMax bounds the batches of one quorum fetch response beyond the
	// first, and QuorumSnapshotChunkBytes one snapshot chunk (0: 1 MiB each). The
	// simulator shrinks them so that small clusters still split their transfers.
	QuorumFetchBytesMax      int
	QuorumSnapshotChunkBytes int
	// MessageBytesMax is the broker's static message.max.bytes (0: Kafka's 1048588): the
	// controller refuses a max.message.bytes (topic or cluster default) above it, and
	// partitions enforce at most it whatever the metadata says, since a batch's records
	// are decompressed up to that size on the node's loop.
	MessageBytesMax int32
	// BrokerPartitionsMax is max.broker.partitions (0: BrokerPartitionsMaxDefault): the
	// most partition replicas one broker may hold, cluster-wide. The active controller
	// refuses with POLICY_VIOLATION what would go past its own setting, so every node
	// should set the same (core/controller/brokercap.go).
	BrokerPartitionsMax int
	// ReplicaCreatesMax bounds the partition logs the broker creates at once (0:
	// ReplicaCreatesMaxDefault); more replicas new in the metadata wait their turn
	// (core/replicas.go, addReplicaPaced).
	ReplicaCreatesMax int
	// FetchBytesMax is fetch.max.bytes (0: Kafka's 57671680): the most record bytes one
	// client Fetch response reads, whatever the request asks.
	FetchBytesMax int32
	// FetchSessionSlots is max.incremental.fetch.session.cache.slots: the most fetch
	// sessions (KIP-227) the broker keeps (0: Kafka's 1000; negative: none, every fetch
	// is answered without a session). At most kafka.FetchSessionSlotsMax.
	FetchSessionSlots int
	// ReplicaFetchResponseBytesMax is replica.fetch.response.max.bytes (0: Kafka's
	// 10485760): the most record bytes a leader's answer to one follower fetch carries.
	ReplicaFetchResponseBytesMax int32
	// RetentionCheckInterval is log.retention.check.interval.ms: how often a partition
	// leader applies retention (0: Kafka's 5 minutes).
	RetentionCheckInterval time.Duration
	// CleanerBackoff is log.cleaner.backoff.ms: how often a replica of a compacted topic
	// checks whether its log is due for a cleaning pass (0: the partition default).
	CleanerBackoff time.Duration
	// CleanerStepBytes is log.cleaner.io.buffer.size: what one step of a compaction pass
	// reads and writes at most, so that other disk work runs between the steps (0: a
	// pass in one step).
	CleanerStepBytes int32
	// CleanerBytesPerSec is log.cleaner.io.max.bytes.per.second: the average rate of the
	// node's cleaning I/O across all its logs (0: no limit).
	CleanerBytesPerSec int64
	// OffsetsRetention is offsets.retention.minutes: how long a committed offset outlives
	// its group's last member, or, in a group that never had members, its commit (0:
	// Kafka's 7 days; the real node takes whole minutes, the simulator less).
	// OffsetsRetentionCheck is offsets.retention.check.interval.ms (0: Kafka's 10
	// minutes).
	OffsetsRetention      time.Duration
	OffsetsRetentionCheck time.Duration
	// TxnMaxTimeout is transaction.max.timeout.ms: the longest transaction timeout a
	// producer may ask for (0: Kafka's 15 minutes). TxnIDExpiration is
	// transactional.id.expiration.ms: how long a transactional id with no transaction
	// open or ending is kept after its last change (0: Kafka's 7 days).
	TxnMaxTimeout   time.Duration
	TxnIDExpiration time.Duration
	// TxnVersion is transaction.version: 2 advertises the feature of KIP-890 part 2
	// (an epoch bump at every transaction, Produce v12, EndTxn v5, TxnOffsetCommit v5)
	// to clients; 1 keeps the first transaction protocol. 0: DefaultTxnVersion.
	TxnVersion int16
	// InFlightPerConnMax is max.inflight.requests.per.connection (0:
	// InFlightPerConnMaxDefault): the requests of one connection that may await their
	// responses. A request beyond it closes the connection; the real node's reader stops
	// reading a connection at this bound, so only a shell that does not is ever refused.
	InFlightPerConnMax int
	// ConnectionsMax is max.connections (0: ConnectionsMaxDefault): the client
	// connections the node tracks at once. A request on one more closes it; the real
	// node closes connections beyond it on accept.
	ConnectionsMax int
	// StaticConfig holds the broker-level keys of topic configs (log.retention.ms,
	// min.insync.replicas, log.flush, ...) that this broker's configuration file or
	// flags set, with their values (metadata.StaticConfig: sorted, each key once). They
	// apply to topics below their own settings and the cluster-wide ones, and
	// DescribeConfigs reports them as STATIC_BROKER_CONFIG. A key that a typed field
	// also holds (Defaults.MinInsyncReplicas, Defaults.FlushAsync, MessageBytesMax)
	// must agree with it; a typed field off its default that is not listed counts as
	// set (see staticConfig).
	StaticConfig metadata.StaticConfig
	// SASLMechanisms is sasl.enabled.mechanisms: what listeners whose security protocol
	// is SASL_PLAINTEXT or SASL_SSL accept (empty: SCRAM-SHA-512, SCRAM-SHA-256 and
	// PLAIN). Credentials are the SCRAM credentials of the metadata; PLAIN checks its
	// password against them.
	SASLMechanisms []string
	// ReauthMax is connections.max.reauth.ms: an authenticated SASL session lasts this
	// long, and a connection that has not re-authenticated by then is closed at its next
	// request (0: sessions never expire).
	ReauthMax time.Duration
	// Authorizer switches ACL authorization on (authorizer.class.name); SuperUsers
	// (super.users) may do anything, and AllowEveryoneIfNoACL
	// (allow.everyone.if.no.acl.found) lets anyone act on a resource no ACL covers.
	Authorizer           bool
	SuperUsers           []string
	AllowEveryoneIfNoACL bool
	// QuotaWindowNum is quota.window.num and QuotaWindowSize quota.window.size.seconds:
	// client quotas measure rates over this many samples of this length (0: Kafka's 11
	// and 1 s).
	QuotaWindowNum  int
	QuotaWindowSize time.Duration
	// AutoLeaderRebalance, LeaderImbalancePercent and LeaderImbalanceCheckInterval are
	// auto.leader.rebalance.enable, leader.imbalance.per.broker.percentage and
	// leader.imbalance.check.interval.seconds (0: 300 s): the active controller moves
	// leaderships back to preferred replicas (core/controller/elect.go). The node's
	// settings default to Kafka's true, 10 and 300 s.
	AutoLeaderRebalance          bool
	LeaderImbalancePercent       int
	LeaderImbalanceCheckInterval time.Duration
	// Seed seeds the node's PRNG. It must differ per incarnation (each start), because
	// the broker draws its incarnation id from it.
	Seed uint64
	Timing
	Defaults
	Plants plant.Set
}

// Listener is an advertised endpoint. SecurityProtocol uses Kafka's codes (0
// PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL): the node demands SASL on listeners of
// the last two.
type Listener struct {
	Name             string
	Host             string
	Port             int32
	SecurityProtocol int16
}

// Timing holds every timeout. Zero values take the defaults of DefaultTiming.
type Timing struct {
	ElectionTimeout     time.Duration // quorum election timeout, randomized in [T, 2T)
	QuorumFetchMaxWait  time.Duration // the quorum leader holds an idle fetch this long
	QuorumFetchTimeout  time.Duration // no quorum fetch success this long -> election / resign
	HeartbeatInterval   time.Duration // broker heartbeat to the controller
	SessionTimeout      time.Duration // the controller fences a broker silent this long
	LeaseDuration       time.Duration // a heartbeat ack lets a broker lead this long
	ClockDriftMax       float64       // bound on any clock's rate error, e.g. 0.01 for 1%
	ReplicaLagMax       time.Duration // replica.lag.time.max.ms
	ReplicaFetchMaxWait time.Duration // follower fetch long-poll
	// ReplicaFetchIdleMaxWait is the longest long-poll an idle follower asks for: after
	// each answer that brought nothing it asks for twice its last, from
	// ReplicaFetchMaxWait up to this, but never more than an eighth of ReplicaLagMax.
	ReplicaFetchIdleMaxWait time.Duration
	RequestTimeout          time.Duration // forwarded requests and read barriers give up after this
}

// KafkaTiming follows Apache Kafka's defaults where Kafka has one; the lease, which Kafka
// lacks, is 4 s, inside the lease inequality with the 9 s session. It suits networks and
// disks slow enough that DefaultTiming's heartbeats would lapse; the simulator scales it.
var KafkaTiming = Timing{
	ElectionTimeout:     1000 * time.Millisecond,
	QuorumFetchMaxWait:  500 * time.Millisecond,
	QuorumFetchTimeout:  2000 * time.Millisecond,
	HeartbeatInterval:   2000 * time.Millisecond,
	SessionTimeout:      9000 * time.Millisecond,
	LeaseDuration:       4000 * time.Millisecond,
	ClockDriftMax:       0.01,
	ReplicaLagMax:       30000 * time.Millisecond,
	ReplicaFetchMaxWait: 500 * time.Millisecond,
	// Eight times the long-poll: an idle follower asks a few times a minute, and one
	// that idled is at most one wait behind a write (the leader answers a held fetch
	// at once when records come).
	ReplicaFetchIdleMaxWait: 4000 * time.Millisecond,
	RequestTimeout:          30000 * time.Millisecond,
}

// DefaultTiming is seedlog's: KafkaTiming for replication, requests and clocks, and the
// failover timeouts far shorter, so that produce resumes within about 2 s of a partition
// leader's crash (docs/durability.md, "Failover timing"). The lease inequality holds
// with room to spare: (750 ms + 500 ms) * 1.01 = 1262.5 ms < 1500 ms * 0.99 = 1485 ms.
var DefaultTiming = func() Timing {
	t := KafkaTiming
	t.ElectionTimeout = 250 * time.Millisecond
	t.QuorumFetchMaxWait = 125 * time.Millisecond
	t.QuorumFetchTimeout = 500 * time.Millisecond
	t.HeartbeatInterval = 250 * time.Millisecond
	t.SessionTimeout = 1500 * time.Millisecond
	t.LeaseDuration = 750 * time.Millisecond
	return t
}()

// Defaults are cluster-wide topic defaults.
type Defaults struct {
	Partitions        int32 // num.partitions
	ReplicationFactor int32 // default.replication.factor
	MinInsyncReplicas int32 // min.insync.replicas
	// FlushAsync acknowledges after the write reaches the page cache instead of after
	// fsync (log.flush=async). It gives up promise 1 of DESIGN.md.
	FlushAsync bool
	// OffsetsTopicPartitions is offsets.topic.num.partitions (Kafka's default: 50).
	OffsetsTopicPartitions int32
	// OffsetsTopicReplicationFactor is offsets.topic.replication.factor: the offsets
	// topic is created with it once that many brokers are live (FindCoordinator answers
	// COORDINATOR_NOT_AVAILABLE until then, as Kafka does). 0 creates it at once with as
	// many replicas as live brokers, up to 3.
	OffsetsTopicReplicationFactor int32
	// TxnTopicPartitions is transaction.state.log.num.partitions (Kafka's default: 50)
	// and TxnTopicReplicationFactor transaction.state.log.replication.factor, which
	// works as OffsetsTopicReplicationFactor does.
	TxnTopicPartitions        int32
	TxnTopicReplicationFactor int32
}

// Kafka's defaults for the byte limits of Config.
const (
	MessageBytesMaxDefault              = controller.MessageBytesMaxDefault // message.max.bytes
	ReplicaFetchResponseBytesMaxDefault = 10 << 20                          // replica.fetch.response.max.bytes
)

// ReplicaCreatesMaxDefault is Config.ReplicaCreatesMax's default. A creation costs about
// four syncs, so 32 of them hold the next produce's sync in the data lane for tens of
// milliseconds at most (the quorum's syncs run in a lane of their own). Creation is
// bound by those syncs: 256 created 10,000 partitions no sooner (BenchmarkManyPartitions).
const ReplicaCreatesMaxDefault = 32

// Default and largest max.broker.partitions (Config.BrokerPartitionsMax).
const (
	BrokerPartitionsMaxDefault = controller.BrokerPartitionsMaxDefault
	BrokerPartitionsMaxLimit   = controller.BrokerPartitionsMaxLimit
)

// Defaults of the connection limits of Config. Real clients pipeline a handful of
// requests per connection (franz-go and librdkafka default to 5 produce requests, plus
// metadata and fetches); a client past the in-flight bound is misbehaving.
const (
	InFlightPerConnMaxDefault = 64   // max.inflight.requests.per.connection
	ConnectionsMaxDefault     = 4096 // max.connections
)

// Kafka's defaults of the client quota windows (quota.window.num,
// quota.window.size.seconds).
const (
	QuotaWindowNumDefault  = 11
	QuotaWindowSizeDefault = time.Second
	QuotaWindowNumMax      = 1000
)

// DefaultDefaults are Kafka's defaults, except min.insync.replicas which seedlog raises
// to 2 where the replication factor allows (see the topic config table).
var DefaultDefaults = Defaults{Partitions: 1, ReplicationFactor: 1, MinInsyncReplicas: 1}

// withDefaults fills zero values.
func (c Config) withDefaults() Config {
	t, d := &c.Timing, DefaultTiming
	fill := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&t.ElectionTimeout, d.ElectionTimeout)
	fill(&t.QuorumFetchMaxWait, d.QuorumFetchMaxWait)
	fill(&t.QuorumFetchTimeout, d.QuorumFetchTimeout)
	fill(&t.HeartbeatInterval, d.HeartbeatInterval)
	fill(&t.SessionTimeout, d.SessionTimeout)
	fill(&t.LeaseDuration, d.LeaseDuration)
	fill(&t.ReplicaLagMax, d.ReplicaLagMax)
	fill(&t.ReplicaFetchMaxWait, d.ReplicaFetchMaxWait)
	fill(&t.ReplicaFetchIdleMaxWait, d.ReplicaFetchIdleMaxWait)
	fill(&t.RequestTimeout, d.RequestTimeout)
	if t.ClockDriftMax == 0 {
		t.ClockDriftMax = d.ClockDriftMax
	}
	if c.QuorumFetchBytesMax <= 0 {
		c.QuorumFetchBytesMax = 1 << 20
	}
	if c.QuorumSnapshotChunkBytes <= 0 {
		c.QuorumSnapshotChunkBytes = 1 << 20
	}
	if c.MessageBytesMax <= 0 {
		c.MessageBytesMax = MessageBytesMaxDefault
	}
	if c.BrokerPartitionsMax == 0 {
		c.BrokerPartitionsMax = BrokerPartitionsMaxDefault
	}
	if c.ReplicaCreatesMax <= 0 {
		c.ReplicaCreatesMax = ReplicaCreatesMaxDefault
	}
	if c.FetchBytesMax <= 0 {
		c.FetchBytesMax = kafka.FetchBytesMaxDefault
	}
	if c.FetchSessionSlots == 0 {
		c.FetchSessionSlots = kafka.FetchSessionSlotsDefault
	}
	if c.ReplicaFetchResponseBytesMax <= 0 {
		c.ReplicaFetchResponseBytesMax = ReplicaFetchResponseBytesMaxDefault
	}
	if c.InFlightPerConnMax == 0 {
		c.InFlightPerConnMax = InFlightPerConnMaxDefault
	}
	if c.ConnectionsMax == 0 {
		c.ConnectionsMax = ConnectionsMaxDefault
	}
	if c.ClusterID == "" {
		c.ClusterID = "seedlog"
	}
	if c.QuotaWindowNum == 0 {
		c.QuotaWindowNum = QuotaWindowNumDefault
	}
	if c.QuotaWindowSize == 0 {
		c.QuotaWindowSize = QuotaWindowSizeDefault
	}
	if c.LeaderImbalanceCheckInterval == 0 {
		c.LeaderImbalanceCheckInterval = 300 * time.Second
	}
	if c.Defaults.Partitions == 0 {
		c.Defaults.Partitions = DefaultDefaults.Partitions
	}
	if c.Defaults.ReplicationFactor == 0 {
		c.Defaults.ReplicationFactor = DefaultDefaults.ReplicationFactor
	}
	if c.Defaults.OffsetsTopicPartitions == 0 {
		c.Defaults.OffsetsTopicPartitions = 50
	}
	if c.Defaults.TxnTopicPartitions == 0 {
		c.Defaults.TxnTopicPartitions = 50
	}
	if c.TxnMaxTimeout == 0 {
		c.TxnMaxTimeout = 15 * time.Minute
	}
	if c.TxnIDExpiration == 0 {
		c.TxnIDExpiration = txn.DefaultIDExpiration
	}
	if c.TxnVersion == 0 {
		c.TxnVersion = DefaultTxnVersion
	}
	if c.Defaults.MinInsyncReplicas == 0 {
		c.Defaults.MinInsyncReplicas = DefaultDefaults.MinInsyncReplicas
	}
	return c
}

// typedStatic lists the broker-level keys of topic configs that typed fields of c hold,
// with the values they hold, sorted by key.
func (c Config) typedStatic() metadata.StaticConfig {
	flush := "sync"
	if c.Defaults.FlushAsync {
		flush = "async"
	}
	return metadata.StaticConfig{
		{Key: "log.flush", Value: flush},
		{Key: "message.max.bytes", Value: strconv.Itoa(int(c.MessageBytesMax))},
		{Key: "min.insync.replicas", Value: strconv.Itoa(int(c.Defaults.MinInsyncReplicas))},
	}
}

// staticConfig is the static layer of topic configs the node enforces and reports:
// StaticConfig, plus each typed field off its table default that StaticConfig does not
// list (the simulator and tests set typed fields alone). Validate has checked that
// listed keys agree with their typed fields. c has its defaults filled in.
func (c Config) staticConfig() metadata.StaticConfig {
	out := slices.Clone(c.StaticConfig)
	for _, e := range c.typedStatic() {
		d, _ := metadata.BrokerConfigDef(e.Key)
		if _, listed := c.StaticConfig.Lookup(e.Key); !listed && e.Value != d.Default {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b metadata.ConfigEntry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// IsVoter reports whether the node is in the controller quorum.
func (c Config) IsVoter() bool { return slices.Contains(c.Voters, c.NodeID) }
