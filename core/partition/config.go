package partition

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/compact"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/pace"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// Config is what a replica needs from its node. Zero durations and limits take the
// defaults of DefaultConfig.
type Config struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
	// NodeID is this broker's id; the replica leads when State.Leader equals it.
	NodeID int32
	// Queue is the node's disk queue: every Op the replica needs goes through it, so its
	// Dones come back in emission order (see package disk).
	Queue  *disk.Queue
	Plants plant.Set
	// FlushAsync selects log.flush=async: a replica's durable offset is its log end as
	// soon as an append completes, without waiting for a sync. See the package doc for
	// what that gives up.
	FlushAsync bool

	// ReplicaLagMax is replica.lag.time.max.ms: an ISR follower that has not caught up
	// with the leader's log end for this long is removed from the ISR.
	ReplicaLagMax time.Duration
	// FollowerFetchMaxWait is how long a leader holds a follower's fetch when the
	// follower is at the log end (replica.fetch.wait.max.ms).
	FollowerFetchMaxWait time.Duration
	// FollowerIdleWaitMax bounds how long an idle follower asks to be held (see
	// followerState.longPoll); an eighth of ReplicaLagMax bounds it too. Zero: eight
	// times FollowerFetchMaxWait.
	FollowerIdleWaitMax time.Duration
	// FollowerFetchBytesMax is what a follower asks for in each fetch
	// (replica.fetch.max.bytes); the first batch is always whole.
	FollowerFetchBytesMax int32
	// FollowerResponseBytesMax bounds the records of the leader's answer to one follower
	// fetch, whatever the fetch asks for (replica.fetch.response.max.bytes); the first
	// batch is always whole.
	FollowerResponseBytesMax int32
	// PeerRequestTimeout is how long a follower waits for an answer beyond the leader's
	// hold time before it asks again (messages between replicas can be lost).
	PeerRequestTimeout time.Duration
	// FollowerBackoff is how long a follower waits after an error answer before asking
	// again (replica.fetch.backoff.ms).
	FollowerBackoff time.Duration
	// AlterBackoff is how long a leader waits after a failed AlterPartition before it
	// proposes an ISR change again.
	AlterBackoff time.Duration
	// AlterTimeout is how long a leader waits for an AlterPartition result before it
	// considers the outcome unknown and may ask again.
	AlterTimeout time.Duration
	// RetentionCheckInterval is log.retention.check.interval.ms.
	RetentionCheckInterval time.Duration
	// CleanerBackoff is log.cleaner.backoff.ms: how often a compacted log is looked at
	// for a cleaning pass.
	CleanerBackoff time.Duration
	// CleanerStepBytes bounds what one step of a compaction pass reads and writes
	// (log.cleaner.io.buffer.size; 0: a pass in one step), so that a pass over a large log
	// never holds up the node's other disk work for long.
	CleanerStepBytes int32
	// CleanerThrottle paces the cleaning steps of all the node's logs
	// (log.cleaner.io.max.bytes.per.second); nil: no limit.
	CleanerThrottle *pace.Throttle
	// MoveThrottle paces what the node's leaders send the replicas reassignments add
	// (leader.replication.throttled.rate), one read at a time across the node's
	// partitions (pace.Throttle.Begin); nil: no limit.
	MoveThrottle *pace.Throttle
	// SnapshotInterval is how often the producer state is snapshotted, and
	// SnapshotBytesMin how many bytes of log must have been appended since the last
	// snapshot for it to be written then: a restart replays at most that much more per
	// partition, and a partition that took a few records writes no file a minute for
	// them (at 10,000 partitions that was most of an idle broker's work; Kafka
	// snapshots at segment rolls only). Snapshots before records are deleted are
	// written whatever the size.
	SnapshotInterval time.Duration
	SnapshotBytesMin int
	// AsyncSyncInterval is how often a log is synced in FlushAsync mode, where nothing
	// waits for the syncs (log.flush.interval.ms).
	AsyncSyncInterval time.Duration

	// PendingMax bounds the client requests a replica holds at once: produces waiting
	// for acknowledgement, offset lookups, record deletions.
	PendingMax int
	// VerifyingMax bounds the transaction verifications a leader has under way
	// (verify.go); beyond it a transactional produce is answered REQUEST_TIMED_OUT.
	VerifyingMax int
	// FetchesMax bounds consumer fetches held for long polling or waiting for a read.
	FetchesMax int
	// ProducersMax bounds the idempotent producers tracked; beyond it the producer whose
	// newest batch is oldest is forgotten.
	ProducersMax int
	// TailBatchesMax bounds the in-memory index of recent batches used to estimate how
	// many bytes a long-polling fetch would get.
	TailBatchesMax int
	// ReplayBytesMax bounds one read while the producer state is rebuilt at start-up.
	ReplayBytesMax int32
	// MessageBytesMax is this broker's message.max.bytes: the ceiling of the topic's
	// max.message.bytes at produce time, which bounds a batch and its records once
	// decompressed. Metadata a differently configured controller wrote cannot lift it.
	MessageBytesMax int32

	// LeaseValid reports whether this broker's controller lease is valid at now. A
	// leader serves clients only while it is. nil means always valid.
	LeaseValid func(now int64) bool
	// WallClockMs converts the node's now to ms since the Unix epoch, for retention.ms.
	// nil means now/1e6.
	WallClockMs func(now int64) int64
}

// DefaultConfig holds the defaults, Apache Kafka's where Kafka has one.
var DefaultConfig = Config{
	ReplicaLagMax:            30 * time.Second,
	FollowerFetchMaxWait:     500 * time.Millisecond,
	FollowerFetchBytesMax:    1 << 20,
	FollowerResponseBytesMax: 10 << 20,
	PeerRequestTimeout:       5 * time.Second,
	FollowerBackoff:          1 * time.Second,
	AlterBackoff:             100 * time.Millisecond,
	AlterTimeout:             30 * time.Second,
	RetentionCheckInterval:   5 * time.Minute,
	CleanerBackoff:           15 * time.Second,
	SnapshotInterval:         1 * time.Minute,
	SnapshotBytesMin:         64 << 10,
	AsyncSyncInterval:        1 * time.Second,
	PendingMax:               10000,
	VerifyingMax:             VerifyingMaxDefault,
	FetchesMax:               1000,
	ProducersMax:             10000,
	TailBatchesMax:           4096,
	ReplayBytesMax:           1 << 20,
	MessageBytesMax:          MessageBytesMaxDefault,
}

func (c Config) withDefaults() Config {
	d := DefaultConfig
	durs := []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.ReplicaLagMax, d.ReplicaLagMax},
		{&c.FollowerFetchMaxWait, d.FollowerFetchMaxWait},
		{&c.PeerRequestTimeout, d.PeerRequestTimeout},
		{&c.FollowerBackoff, d.FollowerBackoff},
		{&c.AlterBackoff, d.AlterBackoff},
		{&c.AlterTimeout, d.AlterTimeout},
		{&c.RetentionCheckInterval, d.RetentionCheckInterval},
		{&c.CleanerBackoff, d.CleanerBackoff},
		{&c.SnapshotInterval, d.SnapshotInterval},
		{&c.AsyncSyncInterval, d.AsyncSyncInterval},
	}
	for _, x := range durs {
		if *x.v <= 0 {
			*x.v = x.def
		}
	}
	ints := []struct {
		v   *int
		def int
	}{
		{&c.PendingMax, d.PendingMax},
		{&c.VerifyingMax, d.VerifyingMax},
		{&c.FetchesMax, d.FetchesMax},
		{&c.ProducersMax, d.ProducersMax},
		{&c.TailBatchesMax, d.TailBatchesMax},
		{&c.SnapshotBytesMin, d.SnapshotBytesMin},
	}
	for _, x := range ints {
		if *x.v <= 0 {
			*x.v = x.def
		}
	}
	if c.FollowerFetchBytesMax <= 0 {
		c.FollowerFetchBytesMax = d.FollowerFetchBytesMax
	}
	if c.FollowerResponseBytesMax <= 0 {
		c.FollowerResponseBytesMax = d.FollowerResponseBytesMax
	}
	if c.ReplayBytesMax <= 0 {
		c.ReplayBytesMax = d.ReplayBytesMax
	}
	if c.MessageBytesMax <= 0 {
		c.MessageBytesMax = d.MessageBytesMax
	}
	return c
}

// MessageBytesMaxDefault is Kafka's max.message.bytes default.
const MessageBytesMaxDefault = 1048588

// State is the partition's metadata as the controller committed it, plus the topic
// configuration the replica enforces. The node passes every change through Update.
type State struct {
	Replicas []int32
	ISR      []int32
	// Adding lists the replicas a reassignment adds: the leader paces what it sends them
	// with Config.MoveThrottle.
	Adding []int32
	// Leader is the leading broker, -1 when the partition has none.
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	// MinISR is min.insync.replicas (at least 1).
	MinISR int32
	// RetentionMs and RetentionBytes are retention.ms and retention.bytes; negative
	// disables the rule, zero takes Kafka's defaults (7 days, no size limit).
	RetentionMs    int64
	RetentionBytes int64
	// LogAppendTime is true when message.timestamp.type is LogAppendTime: the leader
	// stamps its own time into each batch it appends.
	LogAppendTime bool
	// KeepAll is true when cleanup.policy lacks delete (compact alone): as in Kafka,
	// neither retention nor DeleteRecords removes anything from such a log.
	KeepAll bool
	// Compact is true when cleanup.policy lists compact: every replica cleans its own log
	// with Compaction (NowMs is filled in at each pass), and produce refuses records
	// without a key.
	Compact    bool
	Compaction compact.Policy
	// MessageBytesMax is max.message.bytes; zero takes MessageBytesMaxDefault.
	MessageBytesMax int32
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are message.timestamp.before.max.ms
	// and after.max.ms: a CreateTime record stamped further from the leader's clock is
	// refused. Zero or math.MaxInt64: no bound.
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64
	// Recompress is set when compression.type names a codec (not producer): the leader
	// stores every batch compressed with Codec.
	Recompress bool
	Codec      record.Codec
	// Segments are the topic's segment.bytes and segment.ms, zero where the topic sets
	// none (the node's log.segment.bytes and log.roll.ms apply).
	Segments disk.SegmentLimits
}

// Equal reports whether s and o say the same, field by field.
func (s State) Equal(o State) bool {
	return slices.Equal(s.Replicas, o.Replicas) && slices.Equal(s.ISR, o.ISR) && slices.Equal(s.Adding, o.Adding) &&
		s.Leader == o.Leader && s.LeaderEpoch == o.LeaderEpoch && s.PartitionEpoch == o.PartitionEpoch &&
		s.MinISR == o.MinISR && s.RetentionMs == o.RetentionMs && s.RetentionBytes == o.RetentionBytes &&
		s.LogAppendTime == o.LogAppendTime && s.KeepAll == o.KeepAll && s.Compact == o.Compact &&
		s.Compaction == o.Compaction && s.MessageBytesMax == o.MessageBytesMax &&
		s.TimestampBeforeMaxMs == o.TimestampBeforeMaxMs && s.TimestampAfterMaxMs == o.TimestampAfterMaxMs &&
		s.Recompress == o.Recompress && s.Codec == o.Codec && s.Segments == o.Segments
}

func (s State) clone() State {
	s.Replicas = slices.Clone(s.Replicas)
	s.ISR = slices.Clone(s.ISR)
	slices.Sort(s.ISR)
	s.Adding = slices.Clone(s.Adding)
	return s
}

func (s State) minISR() int { return max(int(s.MinISR), 1) }

// produceRules are what the leader checks of each record beyond its shape, at nowMs.
func (s State) produceRules(nowMs int64) record.ProduceRules {
	rules := record.ProduceRules{Keys: s.Compact}
	bounded := func(ms int64) bool { return ms > 0 && ms < math.MaxInt64 }
	if s.LogAppendTime || !bounded(s.TimestampBeforeMaxMs) && !bounded(s.TimestampAfterMaxMs) {
		return rules
	}
	rules.Timestamps, rules.TimestampMin, rules.TimestampMax = true, math.MinInt64, math.MaxInt64
	if bounded(s.TimestampBeforeMaxMs) {
		rules.TimestampMin = nowMs - s.TimestampBeforeMaxMs
	}
	if bounded(s.TimestampAfterMaxMs) {
		rules.TimestampMax = nowMs + s.TimestampAfterMaxMs
	}
	return rules
}

func (s State) messageBytesMax() int {
	if s.MessageBytesMax <= 0 {
		return MessageBytesMaxDefault
	}
	return int(s.MessageBytesMax)
}

const retentionMsDefault = 7 * 24 * 3600 * 1000

func (s State) retention() (ms, bytes int64) {
	ms, bytes = s.RetentionMs, s.RetentionBytes
	if ms == 0 {
		ms = retentionMsDefault
	}
	if bytes == 0 {
		bytes = -1
	}
	return ms, bytes
}

// Role is what a replica currently does.
type Role uint8

// The roles. A replica is inactive before its first Update, when it is not among the
// partition's replicas, and when it refuses to lead (see Update).
const (
	RoleInactive Role = iota
	RoleLeader
	RoleFollower
)

func (r Role) String() string {
	switch r {
	case RoleInactive:
		return "inactive"
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}
