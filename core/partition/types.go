package partition

import (
	"time"

	"github.com/seedlog/seedlog/core/disk"
)

// ProduceResult answers one Produce.
type ProduceResult struct {
	Err int16
	// BaseOffset is the offset of the batch's first record; for a duplicate of a batch
	// an idempotent producer already wrote, the offset it was first written at.
	BaseOffset     int64
	LogStartOffset int64
	// AppendTimeMs is the leader's time it stamped into the batch when the topic's
	// message.timestamp.type is LogAppendTime, 0 otherwise (and for a duplicate).
	AppendTimeMs int64
}

// FetchRequest is one partition of a consumer's Fetch.
type FetchRequest struct {
	// CurrentLeaderEpoch is the leader epoch the client believes in (KIP-320), -1 when
	// it does not say.
	CurrentLeaderEpoch int32
	FetchOffset        int64
	// MaxBytes bounds the records returned, except that the first batch is always whole.
	MaxBytes int32
	// OffsetsOnly asks for no records at all, only the offsets and the error a fetch
	// would get: the fetch response this partition belongs to has spent its byte budget.
	OffsetsOnly bool
	// MinBytes and MaxWait make the fetch a long poll: it is held until at least MinBytes
	// are readable or MaxWait has passed.
	MinBytes int32
	MaxWait  time.Duration
	// Isolation is 0 for read_uncommitted, 1 for read_committed.
	Isolation int8
	// Spans asks for the records as spans (FetchResult.Spans), which the shell writes
	// to the client from the log's files, rather than as bytes.
	Spans bool
}

// FetchResult answers one consumer fetch.
type FetchResult struct {
	Err              int16
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// Records are whole batches read from the log; the first may start below the fetch
	// offset (clients skip what they did not ask for). With FetchRequest.Spans they come
	// as Spans instead, and Next is the offset after the last of them.
	Records []byte
	Spans   []disk.Span
	Next    int64
	// Aborted lists, for a read_committed fetch, the aborted transactions whose range
	// (first offset to abort marker) overlaps the records returned, by marker offset.
	Aborted []AbortedTxn
}

// ListOffsets special timestamps (Kafka's).
const (
	ListLatest   int64 = -1
	ListEarliest int64 = -2
	// ListMaxTimestamp (KIP-734) asks for the record with the largest timestamp.
	ListMaxTimestamp int64 = -3
	// ListEarliestLocal (KIP-405) is the log start: seedlog keeps no tiered storage.
	ListEarliestLocal int64 = -4
)

// ListOffsetsResult answers one partition of a ListOffsets request.
type ListOffsetsResult struct {
	Err       int16
	Offset    int64
	Timestamp int64
	// LeaderEpoch is the epoch of the batch holding Offset, or of the latest batch for a
	// latest lookup; -1 when unknown.
	LeaderEpoch int32
}

// EpochEndResult answers an OffsetForLeaderEpoch lookup: LeaderEpoch is the largest
// epoch not above the one asked for that the log knows, EndOffset where it ends (the
// start of the next epoch, or the log end for the latest one). Both are -1 when the log
// knows no such epoch.
type EpochEndResult struct {
	Err         int16
	LeaderEpoch int32
	EndOffset   int64
}

// DeleteResult answers DeleteRecords for one partition.
type DeleteResult struct {
	Err          int16
	LowWatermark int64
}

// AlterRequest is an ISR change the leader asks the controller for (AlterPartition). At
// most one is outstanding per replica; the node sends it and reports the outcome with
// AlterPartitionResult.
type AlterRequest struct {
	RequestID   uint64
	Topic       string
	TopicID     [16]byte
	Partition   int32
	Leader      int32
	LeaderEpoch int32
	// PartitionEpoch is the epoch the change is based on: the controller applies it only
	// if the partition is still at this epoch (compare-and-set).
	PartitionEpoch int32
	// ISR is the whole proposed ISR, sorted.
	ISR []int32
}

// AlterResult is the controller's answer to an AlterRequest.
type AlterResult struct {
	RequestID uint64
	// Err is NONE when the change was committed; REQUEST_TIMED_OUT when the node got no
	// answer (the outcome is then unknown).
	Err            int16
	ISR            []int32
	LeaderEpoch    int32
	PartitionEpoch int32
}

// Envelope is a message to another replica of the partition, on node To.
type Envelope struct {
	To  int32
	Msg Message
}

// Note is an event worth a trace line or a coverage count.
type Note struct {
	Kind string
	Text string
}

func (n Note) String() string { return n.Kind + ": " + n.Text }

// Ready holds what a replica asks of its node since the last call to Ready.
type Ready struct {
	Messages []Envelope
	// AlterISR, when set, is an AlterPartition request to send to the controller.
	AlterISR *AlterRequest
	Notes    []Note
	// Fatal is set when a disk operation failed: the replica's durable state is unknown
	// and the node must stop and recover from disk. It is reported once.
	Fatal error
}

// FollowerStatus is the leader's view of one follower.
type FollowerStatus struct {
	ID            int32
	FetchOffset   int64 // -1 until the follower fetched in this leader epoch
	DurableOffset int64 // -1 likewise
	LastFetch     int64
	LastCaughtUp  int64
	// Damaged: the follower's last fetch said its log holds damaged data.
	Damaged bool
}

// Status is a read-only view of a replica for the node, metrics and invariant checks.
type Status struct {
	Role           Role
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	LogStartOffset int64
	LogEndOffset   int64
	DurableOffset  int64
	HighWatermark  int64
	// LastStableOffset is what read_committed consumers read below: the high watermark,
	// or the first offset of the oldest transaction not yet stable when that is smaller.
	LastStableOffset int64
	Epochs           []disk.EpochEntry
	ISR              []int32
	// MaximalISR is the set the high watermark is computed over: the ISR plus the
	// members of a pending change.
	MaximalISR []int32
	// PendingISR is the ISR of an outstanding AlterPartition, nil when none.
	PendingISR []int32
	Followers  []FollowerStatus
	// Loading is true while the producer state is rebuilt after start-up.
	Loading bool
	// ReadReady is true once a leader's high watermark covers its log end at election.
	ReadReady bool
	Producers int
	Pending   int
	Fetches   int
	Closed    bool
	// CleanedTo is the offset below which the log cleaner compacted this replica's log,
	// as far as its passes told (compacted topics).
	CleanedTo int64
	// Fences are the log's fenced ranges: FenceDamaged ones found damaged on this disk
	// and not fetched back yet, FenceLost ones the partition declared lost.
	Fences []disk.Fence
	// Resigning: the replica leads in metadata but gave the leadership up (its log is
	// damaged and another in-sync replica exists) and serves nothing.
	Resigning bool
	// Handoff: the replica leads in metadata but serves nothing yet, waiting for a
	// leader it replaced to show it stopped.
	Handoff bool
	// Repairs counts the truncations that cut damaged data to fetch it back (the high
	// watermark may go back then).
	Repairs int
}

// Brief is the part of Status a checker reads after every input of a node. Unlike
// Status it copies nothing: ISR and Epochs alias the replica's own state, so they are
// valid only until the replica's next input and must not be modified.
type Brief struct {
	Role           Role
	LeaderEpoch    int32
	LogStartOffset int64
	LogEndOffset   int64
	DurableOffset  int64
	HighWatermark  int64
	// LastStableOffset is as in Status.
	LastStableOffset int64
	Epochs           []disk.EpochEntry
	ISR              []int32
	// PartitionEpoch is the epoch of the committed partition state ISR comes from.
	PartitionEpoch int32
	Loading        bool
	ReadReady      bool
	Closed         bool
	Resigning      bool
	Handoff        bool
	Fences         []disk.Fence
	Repairs        int
	// MinISR is the min.insync.replicas the replica applies.
	MinISR int32
}
