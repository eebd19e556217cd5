package sim

import (
	"fmt"
	"strings"
)

// The coverage gate: what every sweep of GateSeedsMin seeds or more must have
// exercised, or it fails. The list is the one place that names them: every fault kind,
// every kind of client work, and the critical paths of the protocols and the storage
// beneath them. A sweep whose draws stopped reaching one of them (a draw narrowed by
// mistake, a counter renamed, a path that broke silently) then says so instead of
// passing on seeds that never went there.
//
// Each item is a coverage counter (see Coverage) that must be non-zero over the sweep.
// The draws make every item occur in at least about one seed of thirty (a passing sweep
// names the least exercised items and their seed counts; the rarest, a follower
// truncating a divergent suffix, came in 30 to 51 seeds of each thousand of seeds
// 1-3000), so that a window of 200 seeds missing one is a change to look at, not bad
// luck. Other paths (a follower restarting its log below its leader's log start) are
// in Interesting: sweeps name them when missed, without failing.

// GateSeedsMin is the smallest sweep the gate applies to: smaller sweeps print what
// they missed, and pass.
const GateSeedsMin = 200

// GateItem is one thing a sweep must exercise.
type GateItem struct {
	// Class is "fault", "workload" or "path".
	Class string
	// Counter is the coverage counter that must be non-zero.
	Counter string
	// What says what it is, for the report.
	What string
}

// Gate lists what a sweep must exercise, in report order.
var Gate = []GateItem{
	// Faults: every kind the fault schedule injects, and the timed variants.
	{"fault", "fault:crash", "a node crashes"},
	{"fault", "fault:restart", "a crashed node restarts from its disk"},
	{"fault", "fault:crash-armed", "a crash armed for a moment (a disk op, an answer, an election)"},
	{"fault", "fault:crash-after-election", "a quorum leader crashes right after its election"},
	{"fault", "fault:crash-on-write", "a node crashes while writing a state file"},
	{"fault", "fault:power-loss", "every node loses power at once"},
	{"fault", "fault:pause", "a node pauses"},
	{"fault", "fault:partition", "the network splits"},
	{"fault", "fault:clog", "a link stalls"},
	{"fault", "fault:link-rates", "links lose, duplicate and reorder messages"},
	{"fault", "fault:disk-eio", "a disk fails writes or syncs"},
	{"fault", "fault:disk-enospc", "a disk is full"},
	{"fault", "fault:read-corrupt", "a disk returns corrupt reads"},
	{"fault", "fault:at-rest-corrupt", "bytes decay at rest"},
	{"fault", "fault:partition-corrupt", "synced partition data is damaged in a closed segment"},
	{"fault", "fault:controlled-shutdown", "a node shuts down on SIGTERM, handing its leaderships over"},
	{"fault", "fault:clock-jump", "a clock jumps forward"},
	{"fault", "fault:byzantine", "the byzantine client attacks"},
	{"fault", "fault:lease-edge", "a broker cut off from the controller until its lease ends"},
	{"fault", "fault:edge-duration", "a fault lasting just about a lease, session or election timeout"},

	// Client work: every kind the workload draws.
	{"workload", "workload:admin", "metadata operations (create, delete, grow, describe topics)"},
	{"workload", "workload:produce-acks-0", "acks=0 produces"},
	{"workload", "workload:produce-acks-1", "acks=1 produces"},
	{"workload", "workload:produce-acks-all", "acks=all produces"},
	{"workload", "workload:produce-idempotent", "idempotent produces"},
	{"workload", "workload:produce-compressed", "compressed batches"},
	{"workload", "workload:produce-large", "records of 4 KiB and more"},
	{"workload", "workload:produce-too-large", "batches above max.message.bytes, refused"},
	{"workload", "workload:read", "reader fetches"},
	{"workload", "fetch-session:created", "a reader's full fetch created a fetch session (KIP-227)"},
	{"workload", "fetch-session:incremental", "an incremental fetch answered within a fetch session"},
	{"path", "fetch-session:left-out", "an incremental answer left out a partition with nothing new, read at its last high watermark"},
	{"path", "fetch-session:forgotten", "a fetch session forgot a partition its reader stopped reading there"},
	{"path", "fetch-session:id-not-found", "a fetch session the broker lost (a restart) refused, then created again"},
	{"workload", "workload:list-offsets", "ListOffsets lookups"},
	{"workload", "workload:group", "consumer group members joining"},
	{"workload", "workload:grow", "partitions added to data topics"},
	{"workload", "workload:delete-records", "DeleteRecords"},
	{"workload", "workload:many-partitions", "a run with 20 or more data partitions"},
	{"workload", "workload:compacted-retention", "a compacted topic whose retention configs must delete nothing"},
	{"workload", "fetch:compression-type-checked", "a batch fetched from a topic with a compression.type, in its codec"},
	{"workload", "produce:timestamp-refused", "a batch stamped outside its topic's message.timestamp.*.max.ms, refused"},
	{"workload", "produce:log-append-time", "produces to a LogAppendTime topic, answered with the leader's time"},
	{"workload", "workload:internal-topic-refused", "a delete or partition increase of __consumer_offsets, refused"},
	{"workload", "workload:offset-delete", "OffsetDelete answered by a group coordinator"},
	{"workload", "workload:credentials", "SCRAM credentials set and removed (AlterUserScramCredentials)"},
	{"workload", "credentials:auth-ok", "a SASL authentication that succeeded"},
	{"workload", "credentials:auth-refused", "a SASL authentication refused for its credentials"},
	{"workload", "acl:changed", "an ACL created or removed"},
	{"workload", "acl:allowed", "an access its ACLs allowed"},
	{"workload", "acl:denied", "an access its ACLs refused"},
	{"workload", "quota:throttled:producer_byte_rate", "a produce over its client's producer_byte_rate, its connection muted"},
	{"workload", "quota:throttled:request_percentage", "a response over its client's request_percentage, its connection muted"},
	{"workload", "quota:held-then-served", "a request held by a quota's mute, served once it ended"},
	{"workload", "leaders:preferred-elected", "a preferred leader elected by ElectLeaders"},
	{"path", "note:leaders-rebalanced", "the leader rebalance moved leaderships back to preferred replicas"},
	{"path", "note:replica-leader-handoff-done", "a leader that replaced a live one served once that one followed"},
	{"workload", "moves:started", "a partition reassignment started (AlterPartitionReassignments)"},
	{"workload", "moves:cancelled", "a partition reassignment cancelled"},
	{"workload", "moves:listed", "a reassignment under way listed (ListPartitionReassignments)"},
	{"workload", "moves:drained", "a partition moved off a broker that a drain empties"},
	{"workload", "moves:to-joined-broker", "a partition moved onto a broker that joined the running cluster"},
	{"path", "check:moves", "a partition lost replicas, and those left held every committed record"},
	{"path", "check:describe-quorum", "a DescribeQuorum answer checked against the quorum's members"},

	// Critical paths.
	{"path", "storage:segment-roll", "a partition log rolls a new segment"},
	{"path", "storage:retention-deleted-segments", "retention deletes whole segments"},
	{"path", "storage:delete-below", "DeleteRecords moves a log start"},
	{"path", "storage:truncate-across-segments", "a truncation removes whole segments (a divergent suffix, or a log restarted by Reset)"},
	{"path", "note:replica-retention", "a leader's retention advances its log start"},
	{"path", "note:replica-cleaner-map-too-small", "a cleaning pass refused: its offset map cannot hold one segment's keys"},
	{"path", "note:replica-cleaned", "a replica's log cleaner compacts a log (a data topic's or __consumer_offsets')"},
	{"path", "storage:clean-merged-segments", "a cleaning pass merges segments it rewrote"},
	{"path", "storage:file-reopened", "a segment file the file cache closed is opened again (log.open.files.max)"},
	{"path", "check:reregister-after-lease", "a restarted broker's new registration replaces an unfenced one, checked against the old one's lease"},
	{"path", "cleaner:step-continued", "a cleaning pass stops at its step budget and goes on in a later step"},
	{"path", "check:cleaner-throttle", "a cleaning step checked against log.cleaner.io.max.bytes.per.second"},
	{"path", "check:topic-segment-bytes", "a topic's own segment.bytes checked on a log it rolled"},
	{"path", "check:topic-segment-ms", "a topic's own segment.ms and segment.jitter.ms checked on a log it rolled"},
	{"path", "check:topic-segment-index-bytes", "a topic's own segment.index.bytes checked on a log it rolled"},
	{"path", "check:compacted-away", "an acknowledged record the cleaner removed, superseded or an expired tombstone"},
	{"path", "check:max-timestamp", "a ListOffsets of the largest timestamp (-3) checked against the final read and the producers' stamps"},
	{"path", "group:offset-reset", "a group member resets to the log start after records were deleted"},
	{"path", "partition:leader-failover", "a partition leader fails over"},
	{"path", "partition:isr-shrink-to-min", "an ISR shrinks to min.insync.replicas"},
	{"path", "partition:isr-expand", "a replica rejoins the ISR"},
	{"path", "note:replica-truncate", "a follower truncates a divergent suffix after an election"},
	{"path", "note:replica-damaged", "a replica fences partition data that failed its checksums"},
	{"path", "note:replica-resign", "a leader holding damaged data hands its leadership over"},
	{"path", "note:replica-repair", "a damaged replica fetches the damaged range back"},
	{"path", "check:declared-lost", "a leader alone in its ISR declares a damaged range lost"},
	{"path", "shutdown:ready", "a controlled shutdown completes once its leaderships moved"},
	{"path", "note:quorum-elected", "the controller quorum elects a leader"},
	{"path", "note:quorum-truncated", "a quorum follower truncates a divergent suffix"},
	{"path", "note:quorum-snapshot-installed", "a quorum follower installs a snapshot"},
	{"path", "note:broker-fenced", "the controller fences a broker"},
	{"path", "shell:disk-lanes-overlap", "a disk lane starts a batch while the other lane runs one"},
	{"path", "recovery:cut-tail", "recovery cuts a torn log tail"},
	{"path", "recovery:after-fsync-loss", "a node recovers after a failed fsync"},
	{"path", "group:rebalance", "a consumer group rebalances"},
	{"path", "group:coordinator-failover", "a group coordinator fails over"},
	{"path", "note:group-offsets-expired", "committed offsets expire, their tombstones durable"},
	{"path", "offsets:delete-NONE", "OffsetDelete deletes offsets"},
	{"path", "offsets:delete-GROUP_SUBSCRIBED_TO_TOPIC", "OffsetDelete refuses a topic a live consumer group subscribes to"},
	{"path", "producer:reset", "an idempotent producer resets its producer id"},
	{"path", "producer:duplicate-answered", "a broker answers an idempotent retry as a duplicate"},
	{"path", "fetch:long-poll", "fetches long-poll"},
	{"path", "liveness:data-converged", "every data partition serves again after faults stop"},
	// About one seed in ten (30 of seeds 1-300); refused new partitions come in 23 and
	// refused reassignments in 2 of them, too few to require.
	{"path", "broker-cap:refused:create", "the controller refuses a topic that would take a broker past max.broker.partitions"},

	// Transactions (txnproducer.go, txncheck.go).
	{"workload", "txn:commit", "a transaction committed (EndTxn commit acknowledged)"},
	{"workload", "txn:abort", "a transaction aborted (EndTxn abort acknowledged)"},
	{"workload", "read-committed-fetch", "a read_committed fetch answered"},
	{"path", "txn:timeout", "a coordinator aborts a transaction past its timeout"},
	{"path", "txn:fenced", "an InitProducerID fences an open transaction of an older epoch and aborts it"},
	{"path", "txn:coordinator-move", "the coordinator of a transactional id moves to another broker"},
	{"path", "txn:sloppy-abort", "a producer aborts with a batch in flight and keeps its epoch (KIP-890's hanging transaction)"},
	{"path", "note:txn-verify-refused", "a partition refuses a transactional batch the coordinator did not vouch for (KIP-890)"},
	{"path", "storage:aborted-listed-across-segments", "a read_committed read is told of an abort whose marker a later segment's index holds"},
	{"fault", "fault:txnindex-corrupt", "a fault damages the aborted-transactions index of a closed segment at rest"},

	// Consume-transform-produce workers (ctp.go, ctpcheck.go).
	{"workload", "ctp:commit", "a consume-transform-produce transaction committed with its offsets"},
	{"workload", "ctp:abort", "a consume-transform-produce transaction aborted, its worker rewound"},
	{"path", "ctp:rebalance", "the consume-transform-produce group moved to a new generation"},
	{"path", "ctp:drained", "the workers' committed offsets reached the input's end after healing"},
	{"path", "txn:tv2-epoch-bump", "an EndTxn v5 answers the bumped epoch (KIP-890 part 2)"},
	{"path", "txn:implicit-add", "a Produce v12 opens a transaction on a partition the producer never added (KIP-890 part 2)"},
	// 12 of seeds 1-200 (of the 27 with workers).
	{"path", "ctp:late-offsets-refused", "a TxnOffsetCommit sent after its transaction aborted is refused (KIP-890 part 1)"},
}

// GateMissing returns the gate's items whose counter is 0 in c.
func (c Coverage) GateMissing() []GateItem {
	var out []GateItem
	for _, it := range Gate {
		if c[it.Counter] == 0 {
			out = append(out, it)
		}
	}
	return out
}

// FormatGateItems lists items as "counter (what)", one per line, indented.
func FormatGateItems(items []GateItem) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "  %-8s %-36s %s\n", it.Class, it.Counter, it.What)
	}
	return b.String()
}
