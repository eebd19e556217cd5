// Package plant names the deliberately wrong behaviours ("planted bugs") that the
// simulator's self-test switches on to prove each checker catches what it should.
//
// A Set is carried in a node's configuration. In normal builds Set.On is a constant false,
// so every planted branch compiles away and no release binary can switch one on. Building
// with the tag simbugs makes Set real.
package plant

import (
	"fmt"
	"sort"
	"strings"
)

// Name is one planted bug.
type Name uint8

// Every planted bug. Each names the component it breaks and what it does wrong.
const (
	// VoteBeforeSync: a voter grants a vote before its quorum state is synced.
	VoteBeforeSync Name = iota
	// CommitOldEpoch: the quorum leader advances the high watermark on a record of an
	// older epoch (Raft's figure 8).
	CommitOldEpoch
	// NoTruncateDivergent: a quorum follower keeps a log suffix that diverges from the
	// leader's.
	NoTruncateDivergent
	// AckBeforeISRSync: a partition leader acknowledges acks=all before the ISR synced.
	AckBeforeISRSync
	// FetchAboveHW: a partition leader serves consumers records above the high watermark.
	FetchAboveHW
	// TruncateToOwnHW: a follower truncates to its own high watermark instead of asking
	// the leader where their logs diverge.
	TruncateToOwnHW
	// ServeAfterLease: a partition leader keeps serving after its lease expired.
	ServeAfterLease
	// IdempotentDup: a retried idempotent batch is appended a second time.
	IdempotentDup
	// EarlyReadNewLeader: a new partition leader serves reads before its high watermark
	// covers its log end at election.
	EarlyReadNewLeader
	// StaleGenerationCommit: the group coordinator accepts commits from a stale generation.
	StaleGenerationCommit
	// CommitBeforeDurable: the group coordinator acknowledges an offset commit before it
	// is durable on the ISR.
	CommitBeforeDurable
	// DoubleAssignAfterFailover: a new group coordinator hands out assignments without
	// fencing the previous generation.
	DoubleAssignAfterFailover
	// PeerAuthSkipped: a peer connection's reader hands on every frame without checking
	// its tag (peerauth.Opener.Open), so anyone who can inject bytes into a connection
	// speaks in the name of the node at its other end.
	PeerAuthSkipped
	// CorruptReplicaElectable: a partition replica whose synced data failed validation
	// keeps counting as a durable copy: it stays in (or rejoins) the ISR without fetching
	// the damaged range back, and keeps leading with other in-sync replicas around.
	CorruptReplicaElectable
	// SyncBeforeFsync: the disk worker (diskexec's group commit) releases a Sync's
	// completion before the fsync that covers it returned.
	SyncBeforeFsync
	// FenceBeforeLease: the controller fences a broker one tick before the lease of its
	// last heartbeat, plus the clock drift allowed, has passed.
	FenceBeforeLease
	// GroupRecordsAcksOne: group records and offset commits are written to
	// __consumer_offsets with acks=1: answered once durable on the leader, before the
	// ISR has them.
	GroupRecordsAcksOne
	// RecoverySkipsCRC: log recovery keeps every batch whose header parses after the
	// recovery point without checking its CRC, so a torn write survives a restart.
	RecoverySkipsCRC
	// RetentionIgnoresPolicy: retention deletes from a log whose cleanup.policy is
	// compact alone, as if it were delete (__consumer_offsets loses committed offsets).
	RetentionIgnoresPolicy
	// LogAppendTimeIgnored: a leader of a LogAppendTime topic answers with its time but
	// stores the batch with the producer's timestamps.
	LogAppendTimeIgnored
	// SnapshotDuringInstall: a node writes a snapshot of its own image while raft installs
	// a newer one from the leader; the older write may complete last and win the file.
	SnapshotDuringInstall
	// InternalTopicChangeable: the controller deletes __consumer_offsets, or adds
	// partitions to it, when asked.
	InternalTopicChangeable
	// CleanerKeepsOldest: the log cleaner keeps the first record of each key it meets
	// and drops the later ones.
	CleanerKeepsOldest
	// TombstoneRemovedAtOnce: the log cleaner drops a tombstone in the pass that first
	// cleans it, without waiting delete.retention.ms.
	TombstoneRemovedAtOnce
	// TopicSegmentsIgnored: a topic's segment.bytes and segment.ms are accepted and never
	// reach its logs, which roll by the node's settings.
	TopicSegmentsIgnored
	// OffsetsLoadSkipsCleaned: a group coordinator loads __consumer_offsets from the
	// end of what the cleaner compacted, missing the commits and groups in the cleaned
	// prefix.
	OffsetsLoadSkipsCleaned
	// CompressionTypeIgnored: a leader stores batches as their producers compressed
	// them whatever the topic's compression.type says.
	CompressionTypeIgnored
	// RetentionDeletesActive: when retention deletes segments, it deletes everything
	// below the high watermark with them, records too young to go included.
	RetentionDeletesActive
	// AlterLostNeverResent: a partition leader treats an ISR change whose outcome is
	// unknown (no answer in time, the controller replaced, NOT_CONTROLLER) like a stale
	// view: it waits for metadata to settle it instead of sending it again, so a change
	// the controller never saw never ends and the ISR never changes again.
	AlterLostNeverResent
	// OffsetsExpireWithMembers: offset expiry ignores a group's members, expiring offsets
	// of a live group as if it were Empty, counting from each commit.
	OffsetsExpireWithMembers
	// OffsetsExpireEarly: the expiry check deletes the offsets that will have expired by
	// the next check, up to a check interval before their retention elapsed.
	OffsetsExpireEarly
	// OffsetDeleteNotDurable: OffsetDelete removes the offsets and answers before its
	// tombstones are durable.
	OffsetDeleteNotDurable
	// OffsetDeleteIgnoresSubscription: OffsetDelete deletes the offsets of topics a
	// consumer group with members is subscribed to.
	OffsetDeleteIgnoresSubscription
	// CompactionLagIgnored: the log cleaner cleans segments younger than the topic's
	// min.compaction.lag.ms.
	CompactionLagIgnored
	// TimestampBoundsIgnored: a leader appends records stamped outside the topic's
	// message.timestamp.before.max.ms and after.max.ms.
	TimestampBoundsIgnored
	// SegmentIndexBytesIgnored: a log rolls no segment for its indexes' size, whatever
	// segment.index.bytes says.
	SegmentIndexBytesIgnored
	// CleanerThrottleIgnored: cleaning steps start as soon as the one before ends,
	// whatever log.cleaner.io.max.bytes.per.second allows.
	CleanerThrottleIgnored
	// SegmentJitterIgnored: a topic's logs roll by segment.ms without the jitter that
	// segment.jitter.ms takes off it.
	SegmentJitterIgnored
	// BarrierWaitsOutLeaderChange: a read barrier sent to a controller waits for its
	// answer until the request timeout, even when that controller lost its leadership
	// or the question was lost.
	BarrierWaitsOutLeaderChange
	// ShutdownWaitsForQuorum: a broker in controlled shutdown waits for a controller to
	// move its leaderships however long the quorum has had no leader.
	ShutdownWaitsForQuorum
	// ResetDurableAtOnce: a follower that restarts its log at the leader's log start
	// reports the new start as durable before the Reset is done.
	ResetDurableAtOnce
	// ReregisterIgnoresLease: a broker's new incarnation replaces its old unfenced one
	// at once, while a lease of the old one may still let it lead.
	ReregisterIgnoresLease
	// AuthStaleImage: a broker checks SASL credentials against its own metadata image
	// without a read barrier, so a password changed or removed (and acknowledged) still
	// authenticates on a broker that has not caught up.
	AuthStaleImage
	// AclCheckSkipped: ListOffsets answers without checking DESCRIBE on the topic.
	AclCheckSkipped
	// AclAckEarly: the controller acknowledges an ACL change once it committed, without
	// waiting for the brokers, and grants leases to brokers that lag it, so a broker may
	// still authorize with a binding an acknowledged change removed.
	AclAckEarly
	// QuotaMuteIgnored: a broker answers a client over its quota with the throttle time
	// but does not mute the connection, so its next requests are served at once.
	QuotaMuteIgnored
	// RequestQuotaIgnored: a broker measures the thread time of a client's requests
	// against its request_percentage quota but never throttles it.
	RequestQuotaIgnored
	// PreferredOutsideISR: a preferred election moves a leadership to the preferred
	// replica even when it is not in the ISR, adding it there.
	PreferredOutsideISR
	// HandoffSkipped: a leader that replaced a live one serves at once, without waiting
	// for it to show it stopped leading.
	HandoffSkipped
	// MaxTimestampFirstSegment: a ListOffsets lookup of the largest timestamp (-3)
	// searches only the log's first segment.
	MaxTimestampFirstSegment
	// ReassignBeforeISR: a reassignment removes the old replicas without waiting for
	// the new ones to join the ISR.
	ReassignBeforeISR
	// ReplicationThrottleIgnored: a leader serves the replicas a reassignment adds at
	// full speed, whatever leader.replication.throttled.rate says.
	ReplicationThrottleIgnored
	// DescribeQuorumEndAsHW: DescribeQuorum reports the leader's log end as the quorum's
	// high watermark, uncommitted entries included.
	DescribeQuorumEndAsHW
	// SessionOffsetPastUnsent: a fetch session moves a partition's fetch offset past the
	// records it read for it, whether or not the response carried them (a byte budget or
	// a throttle dropped them), as if the client had consumed them.
	SessionOffsetPastUnsent
	// DescribeProducersFirstSeq: DescribeProducers reports the first sequence of a
	// producer's last batch as its last sequence.
	DescribeProducersFirstSeq
	// MoveStalls: the controller never takes a moving partition past its first step, so
	// a reassignment neither finishes nor ends.
	MoveStalls
	// NewLeaderFullBackoff: a follower whose new leader did not know its epoch yet
	// waits the whole follower backoff before asking again, holding the new leader's
	// acks=all writes that long after a failover.
	NewLeaderFullBackoff
	// BrokerPartitionsCapIgnored: the controller accepts creations, new partitions and
	// reassignments that leave a broker with more replicas than max.broker.partitions.
	BrokerPartitionsCapIgnored
	// TxnMarkerBeforeDurable: the transaction coordinator answers EndTxn and starts
	// sending markers before the transaction's Prepare* record is durable, so a
	// coordinator that fails over may forget an end whose markers are already written.
	TxnMarkerBeforeDurable
	// TxnOffsetsVisibleBeforeCommit: the group coordinator makes the offsets of a
	// TxnOffsetCommit committed offsets as soon as they are durable, before the
	// transaction's marker (and whether it commits or aborts).
	TxnOffsetsVisibleBeforeCommit
	// LsoIgnoresOpenTxn: a partition reports and serves its high watermark as the last
	// stable offset, so read_committed consumers read the records of transactions still
	// open (which may yet abort).
	LsoIgnoresOpenTxn
	// TxnFencedEpochAccepted: a partition leader appends a transactional batch whose
	// producer epoch is below the producer's current one (a fenced zombie's write),
	// past both the sequence rules and transaction verification.
	TxnFencedEpochAccepted
	// ClientMarkersAccepted: a broker writes the transaction markers a client sends in a
	// WriteTxnMarkers on its client listener, as if a transaction coordinator had.
	ClientMarkersAccepted
	// TxnVerificationSkipped: a partition leader appends the first transactional batch
	// of a producer without asking the transaction coordinator whether its transaction
	// is ongoing (KIP-890), so a batch that arrives after its transaction's abort
	// marker opens a transaction nobody will end.
	TxnVerificationSkipped
	// TxnIDExpiresOngoing: the transaction coordinator expires idle transactional ids
	// whatever their state, an open or ending transaction's included.
	TxnIDExpiresOngoing
	// LsoOneBehind: while an open transaction holds the last stable offset below the
	// high watermark, a partition answers (and serves up to) one offset less: committed
	// data is held back, which no read shows as dirty.
	LsoOneBehind
	// TxnOffsetsKeptOnAbort: the group coordinator makes the offsets of a transaction
	// that aborted committed offsets, as if it had committed (its consumer's input is
	// skipped).
	TxnOffsetsKeptOnAbort
	// TxnEpochNotBumped: a version-2 EndTxn (KIP-890 part 2) keeps the producer's epoch,
	// as a version-1 end does, so a late batch of the ended transaction can join the next
	// one.
	TxnEpochNotBumped
	// AbortedLookupOneSegment: a log lists the aborted transactions of a read from the
	// aborted-transactions index of the segment holding the read's offset only, missing
	// those whose abort marker a later segment holds.
	AbortedLookupOneSegment
	// AbortedIndexDamageIgnored: a partition that restarts on an aborted-transactions
	// index recovery found damaged does not list the aborts below its snapshot again.
	AbortedIndexDamageIgnored
	// TxnOffsetVerificationSkipped: a broker writes the offsets of a TxnOffsetCommit
	// below version 5 without asking the transaction coordinator whether the
	// producer's transaction is ongoing with the group's offsets partition (KIP-890), so
	// a commit that arrives after its transaction's abort marker opens a transaction on
	// __consumer_offsets nobody will end.
	TxnOffsetVerificationSkipped
	// FollowerAbortedIndexSkipped: a follower appends the batches it fetched without
	// their aborted-transactions index entries; only a later leadership shows it.
	FollowerAbortedIndexSkipped
	// FileCacheEvictLeaks: the cache of open segment files (storage.FileCache) forgets
	// a file it evicts without closing it, so descriptors pile up past its bound.
	FileCacheEvictLeaks
	// FollowerReportsUnsyncedDurable: a follower reports its log end as durable in the
	// fetch it sends once an append is written, before the sync that covers it is done.
	FollowerReportsUnsyncedDurable
	// UnhostedFetchDropped: a node that holds no replica of a partition drops a
	// follower's fetch for it unanswered, so a follower that learned of the partition
	// first waits a whole request timeout (5.5 s) before asking again.
	UnhostedFetchDropped
	// ReplicaSyncMissesISR: a broker bringing its replicas in line with a metadata
	// change skips the partitions whose ISR alone changed, so a leader goes on counting
	// (or not counting) followers by an ISR the controller has replaced.
	ReplicaSyncMissesISR
	// ReplicaCreatesUnpaced: a broker creates the logs of every replica new in the
	// metadata at once, whatever Config.ReplicaCreatesMax says.
	ReplicaCreatesUnpaced
	// HandoffReplacedOnly: a new leader waits only for the leader it replaced, not for
	// an earlier one that leader was still waiting for.
	HandoffReplacedOnly
	// QuorumStateDataLane: the disk lanes run the quorum state's file writes in the
	// data lane, behind the partitions' work and unordered with the quorum's other ops.
	QuorumStateDataLane
	// DeleteRecordsLeaderOnly: a partition leader answers DeleteRecords once its own
	// new log start is durable, without waiting for the other ISR members': a failover
	// then shows records an acknowledged deletion removed.
	DeleteRecordsLeaderOnly
	// ResetForgetsOpenTxns: a follower that starts its log over at its leader's log start
	// drops the transactions the leader said are open there.
	ResetForgetsOpenTxns
	numNames
)

var names = [numNames]string{
	VoteBeforeSync:                  "vote-before-sync",
	CommitOldEpoch:                  "commit-old-epoch",
	NoTruncateDivergent:             "no-truncate-divergent",
	AckBeforeISRSync:                "ack-before-isr-sync",
	FetchAboveHW:                    "fetch-above-hw",
	TruncateToOwnHW:                 "truncate-to-own-hw",
	ServeAfterLease:                 "serve-after-lease",
	IdempotentDup:                   "idempotent-dup",
	EarlyReadNewLeader:              "early-read-new-leader",
	StaleGenerationCommit:           "stale-generation-commit",
	CommitBeforeDurable:             "commit-before-durable",
	DoubleAssignAfterFailover:       "double-assign-after-failover",
	PeerAuthSkipped:                 "peer-auth-skipped",
	CorruptReplicaElectable:         "corrupt-replica-electable",
	SyncBeforeFsync:                 "sync-before-fsync",
	FenceBeforeLease:                "fence-before-lease",
	GroupRecordsAcksOne:             "group-records-acks-one",
	RecoverySkipsCRC:                "recovery-skips-crc",
	RetentionIgnoresPolicy:          "retention-ignores-policy",
	LogAppendTimeIgnored:            "log-append-time-ignored",
	SnapshotDuringInstall:           "snapshot-during-install",
	InternalTopicChangeable:         "internal-topic-changeable",
	CleanerKeepsOldest:              "cleaner-keeps-oldest",
	TombstoneRemovedAtOnce:          "tombstone-removed-at-once",
	TopicSegmentsIgnored:            "topic-segments-ignored",
	OffsetsLoadSkipsCleaned:         "offsets-load-skips-cleaned",
	CompressionTypeIgnored:          "compression-type-ignored",
	RetentionDeletesActive:          "retention-deletes-active",
	AlterLostNeverResent:            "alter-lost-never-resent",
	OffsetsExpireWithMembers:        "offsets-expire-with-members",
	OffsetsExpireEarly:              "offsets-expire-early",
	OffsetDeleteNotDurable:          "offset-delete-not-durable",
	OffsetDeleteIgnoresSubscription: "offset-delete-ignores-subscription",
	CompactionLagIgnored:            "compaction-lag-ignored",
	TimestampBoundsIgnored:          "timestamp-bounds-ignored",
	SegmentIndexBytesIgnored:        "segment-index-bytes-ignored",
	CleanerThrottleIgnored:          "cleaner-throttle-ignored",
	SegmentJitterIgnored:            "segment-jitter-ignored",
	BarrierWaitsOutLeaderChange:     "barrier-waits-out-leader-change",
	ShutdownWaitsForQuorum:          "shutdown-waits-for-quorum",
	ResetDurableAtOnce:              "reset-durable-at-once",
	ReregisterIgnoresLease:          "reregister-ignores-lease",
	AuthStaleImage:                  "auth-stale-image",
	AclCheckSkipped:                 "acl-check-skipped",
	AclAckEarly:                     "acl-ack-early",
	QuotaMuteIgnored:                "quota-mute-ignored",
	RequestQuotaIgnored:             "request-quota-ignored",
	PreferredOutsideISR:             "preferred-outside-isr",
	HandoffSkipped:                  "handoff-skipped",
	MaxTimestampFirstSegment:        "max-timestamp-first-segment",
	ReassignBeforeISR:               "reassign-before-isr",
	ReplicationThrottleIgnored:      "replication-throttle-ignored",
	DescribeQuorumEndAsHW:           "describe-quorum-end-as-hw",
	SessionOffsetPastUnsent:         "session-offset-past-unsent",
	DescribeProducersFirstSeq:       "describe-producers-first-seq",
	MoveStalls:                      "move-stalls",
	NewLeaderFullBackoff:            "new-leader-full-backoff",
	BrokerPartitionsCapIgnored:      "broker-partitions-cap-ignored",
	TxnMarkerBeforeDurable:          "txn-marker-before-durable",
	TxnOffsetsVisibleBeforeCommit:   "txn-offsets-visible-before-commit",
	ClientMarkersAccepted:           "client-markers-accepted",
	LsoIgnoresOpenTxn:               "lso-ignores-open-txn",
	TxnFencedEpochAccepted:          "txn-fenced-epoch-accepted",
	TxnVerificationSkipped:          "txn-verification-skipped",
	TxnIDExpiresOngoing:             "txn-id-expires-ongoing",
	LsoOneBehind:                    "lso-one-behind",
	TxnOffsetsKeptOnAbort:           "txn-offsets-kept-on-abort",
	TxnEpochNotBumped:               "txn-epoch-not-bumped",
	AbortedLookupOneSegment:         "aborted-lookup-one-segment",
	AbortedIndexDamageIgnored:       "aborted-index-damage-ignored",
	TxnOffsetVerificationSkipped:    "txn-offset-verification-skipped",
	FollowerAbortedIndexSkipped:     "follower-aborted-index-skipped",
	FileCacheEvictLeaks:             "file-cache-evict-leaks",
	FollowerReportsUnsyncedDurable:  "follower-reports-unsynced-durable",
	UnhostedFetchDropped:            "unhosted-fetch-dropped",
	ReplicaSyncMissesISR:            "replica-sync-misses-isr",
	ReplicaCreatesUnpaced:           "replica-creates-unpaced",
	HandoffReplacedOnly:             "handoff-replaced-only",
	QuorumStateDataLane:             "quorum-state-data-lane",
	DeleteRecordsLeaderOnly:         "delete-records-leader-only",
	ResetForgetsOpenTxns:            "reset-forgets-open-txns",
}

func (n Name) String() string {
	if n < numNames {
		return names[n]
	}
	return fmt.Sprintf("plant(%d)", uint8(n))
}

// All lists every plant name, sorted.
func All() []string {
	out := make([]string, 0, numNames)
	for _, s := range names {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Lookup finds a plant by its name.
func Lookup(s string) (Name, error) {
	for i, n := range names {
		if n == s {
			return Name(i), nil
		}
	}
	return 0, fmt.Errorf("unknown plant %q (known: %s)", s, strings.Join(All(), ", "))
}
