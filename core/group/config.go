package group

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/seedlog/seedlog/core/plant"
)

// Log is the coordinator's __consumer_offsets partition, provided by the node.
type Log interface {
	// Append writes one batch of key/value records with acks=all semantics and calls done
	// once, with the base offset when every record is durable on the ISR (below the HW),
	// or an error (not leader any more, timeout, too few replicas...). done may run before
	// Append returns. Wrap ErrNotLeader or ErrTooLarge in the error when they apply: they
	// decide which Kafka error code the client sees.
	Append(now int64, recs []KV, done func(baseOffset int64, err error))
	// AppendTxn is Append for the offsets a transaction commits: one batch of the
	// producer's, marked transactional, with base sequence -1 (the coordinator writes
	// it, not the producer, so no sequence applies). The partition opens a transaction
	// for pid with it, which the producer's marker ends. Wrap ErrInvalidProducerEpoch
	// when the partition knows a newer epoch of pid. guard is TxnCommit.Guard, the
	// broker's verification of the transaction (KIP-890), handed back untouched.
	AppendTxn(now int64, pid int64, epoch int16, guard any, recs []KV, done func(baseOffset int64, err error))
	// Load reads every batch below the high watermark from the log start, calling batch
	// for each chunk of whole batches in order (record batches, possibly compressed), then
	// done(nil) or done(err). The coordinator does not keep b after batch returns.
	Load(now int64, batch func(b []byte), done func(err error))
}

// KV is one record for the log. A nil Value is a tombstone.
type KV struct{ Key, Value []byte }

// Errors a Log may wrap to tell the coordinator why an append failed. Any other error
// reads as "the partition cannot take writes right now" (COORDINATOR_NOT_AVAILABLE).
var (
	// ErrNotLeader: this broker no longer leads the partition (NOT_COORDINATOR).
	ErrNotLeader = errors.New("group: not the leader of the offsets partition")
	// ErrTooLarge: the records do not fit in a batch (INVALID_COMMIT_OFFSET_SIZE for
	// commits).
	ErrTooLarge = errors.New("group: records too large for the offsets partition")
	// ErrInvalidProducerEpoch: a transactional append carried an epoch older than the
	// producer's latest on the partition (INVALID_PRODUCER_EPOCH: the producer is fenced).
	ErrInvalidProducerEpoch = errors.New("group: producer epoch older than the partition's")
	// ErrInvalidTxnState: a transactional append would open the producer's transaction
	// on the partition without a verification that still holds (INVALID_TXN_STATE: its
	// transaction ended meanwhile).
	ErrInvalidTxnState = errors.New("group: the producer's transaction is not ongoing with the offsets partition")
)

// Kafka's defaults for the group settings.
const (
	DefaultSessionTimeoutMin     = 6 * time.Second  // group.min.session.timeout.ms
	DefaultSessionTimeoutMax     = 30 * time.Minute // group.max.session.timeout.ms
	DefaultInitialRebalanceDelay = 3 * time.Second  // group.initial.rebalance.delay.ms
	DefaultMembersMax            = 1000
	DefaultGroupsMax             = 10000
	DefaultProtocolsMax          = 32
	DefaultMetadataBytesMax      = 1 << 20
	DefaultOffsetMetadataMax     = 4096 // offset.metadata.max.bytes
	DefaultCommitsInFlightMax    = 1024
	// DefaultOffsetsRetention is offsets.retention.minutes (10080), and
	// DefaultOffsetsRetentionCheck offsets.retention.check.interval.ms.
	DefaultOffsetsRetention      = 7 * 24 * time.Hour
	DefaultOffsetsRetentionCheck = 10 * time.Minute
	// OffsetsRetentionMax bounds OffsetsRetention: retention is compared in milliseconds
	// of the clock, which must not overflow.
	OffsetsRetentionMax = 100 * 365 * 24 * time.Hour
)

// Config sets up one Coordinator. Zero values take the defaults above, except
// InitialRebalanceDelay, where zero means no delay (DefaultConfig sets Kafka's 3 s).
type Config struct {
	Partition int32 // the __consumer_offsets partition this coordinator leads

	// Range a member's session timeout must fall in (group.min/max.session.timeout.ms).
	SessionTimeoutMin, SessionTimeoutMax time.Duration
	// How long a group that starts from Empty waits for more members before completing its
	// first join, extended by each new member up to the rebalance timeout.
	InitialRebalanceDelay time.Duration

	MembersMax int // members and member ids handed out per group (group.max.size)
	GroupsMax  int // groups per coordinator; joins and commits creating more are refused

	ProtocolsMax     int // protocols one JoinGroup may offer
	MetadataBytesMax int // bytes of one protocol's metadata or one member's assignment
	// OffsetMetadataMax bounds the metadata string of one committed offset.
	OffsetMetadataMax int
	// CommitsInFlightMax bounds the appends of offset commits and OffsetDelete waiting
	// for durability.
	CommitsInFlightMax int

	// OffsetsRetention is how long an offset outlives its group's last member (or, for a
	// group that never had members, its commit): offsets.retention.minutes. Offsets of a
	// group with members never expire. OffsetsRetentionCheck is how often expiry runs
	// (offsets.retention.check.interval.ms).
	OffsetsRetention      time.Duration
	OffsetsRetentionCheck time.Duration
	// Current, when set, reports whether this coordinator may still be the partition's
	// only one (its broker's lease holds). An expiry check runs only then: a coordinator
	// cut off from the cluster, or just resumed from a pause, may not have seen the
	// commits its successor took, and would decide from them.
	Current func(now int64) bool

	// Events, when set, hears of expiries and group removals as they are decided and as
	// they end, and of the markers that ended transactions' offsets (the node makes
	// notes of them for people and the simulator's checkers).
	Events func(Event)

	Rand   *rand.Rand // member ids; must be set
	Plants plant.Set
}

// DefaultConfig is Kafka's configuration for the coordinator of one partition.
func DefaultConfig(partition int32, rng *rand.Rand) Config {
	return Config{
		Partition:             partition,
		SessionTimeoutMin:     DefaultSessionTimeoutMin,
		SessionTimeoutMax:     DefaultSessionTimeoutMax,
		InitialRebalanceDelay: DefaultInitialRebalanceDelay,
		Rand:                  rng,
	}.withDefaults()
}

func (cfg Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if cfg.SessionTimeoutMin <= 0 {
		cfg.SessionTimeoutMin = DefaultSessionTimeoutMin
	}
	if cfg.SessionTimeoutMax <= 0 {
		cfg.SessionTimeoutMax = DefaultSessionTimeoutMax
	}
	cfg.InitialRebalanceDelay = max(cfg.InitialRebalanceDelay, 0)
	def(&cfg.MembersMax, DefaultMembersMax)
	def(&cfg.GroupsMax, DefaultGroupsMax)
	def(&cfg.ProtocolsMax, DefaultProtocolsMax)
	def(&cfg.MetadataBytesMax, DefaultMetadataBytesMax)
	def(&cfg.OffsetMetadataMax, DefaultOffsetMetadataMax)
	def(&cfg.CommitsInFlightMax, DefaultCommitsInFlightMax)
	if cfg.OffsetsRetention <= 0 {
		cfg.OffsetsRetention = DefaultOffsetsRetention
	}
	cfg.OffsetsRetention = min(cfg.OffsetsRetention, OffsetsRetentionMax)
	if cfg.OffsetsRetentionCheck <= 0 {
		cfg.OffsetsRetentionCheck = DefaultOffsetsRetentionCheck
	}
	return cfg
}
