// Package disk describes the disk work a core node asks for and the completions it gets
// back. The core never touches files: it emits Ops as data, a shell (package diskexec,
// shared by the real node and the simulator) carries them out on storage, and each Op's
// result returns to the core as a Done input.
//
// Ordering contract: a node's Ops fall into two lanes (Op.Lane): the controller quorum's
// (its metadata log and the files at the root of the data directory) and everyone
// else's (the partitions' logs and the files inside their directories). A shell executes
// the Ops of one lane in the order they were emitted and delivers their Dones in that
// same order; the lanes are independent of each other. An Op therefore sees the effects
// of every earlier Op of its lane, and a Done for Op n means every Op of its lane before n
// is also done. The core relies on this to release outputs that wait for durability (see
// Gate), and so every component emits all its Ops into one lane.
//
// The quorum has a lane of its own because its syncs must not wait: a vote, an append
// of the leader or a follower's fetch waits for the quorum's own few bytes to be synced,
// and behind thousands of partition creations or a restart's recovery work they would
// wait seconds, long enough for the quorum to lose its leader.
package disk

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core/compact"
)

// LogID names a log on a node's disk. It is the log's directory name: "<topic>-<partition>"
// as in Kafka, or "__cluster_metadata-0" for the controller quorum's log.
type LogID string

// MetadataLog is the log of the controller quorum.
const MetadataLog LogID = "__cluster_metadata-0"

// PartitionLog returns the LogID of a topic partition.
func PartitionLog(topic string, partition int32) LogID {
	return LogID(topic + "-" + strconv.Itoa(int(partition)))
}

// ParsePartitionLog splits a LogID into topic and partition.
func ParsePartitionLog(id LogID) (topic string, partition int32, ok bool) {
	s := string(id)
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i == len(s)-1 {
		return "", 0, false
	}
	var p int64
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' || p > 1<<31 {
			return "", 0, false
		}
		p = p*10 + int64(c-'0')
	}
	if p >= 1<<31 {
		return "", 0, false
	}
	return s[:i], int32(p), true
}

// Lane is one of a node's two independent orders of disk work (see the package doc).
type Lane uint8

const (
	// DataLane holds the partitions' logs and the files inside their directories.
	DataLane Lane = iota
	// QuorumLane holds the controller quorum's metadata log and the files at the root
	// of the data directory (the quorum state, the metadata snapshot).
	QuorumLane
	// Lanes is the number of lanes.
	Lanes = 2
)

func (l Lane) String() string {
	if l == QuorumLane {
		return "quorum"
	}
	return "data"
}

// Lane is the lane o runs in.
func (o Op) Lane() Lane {
	if o.Log == MetadataLog || (o.Log == "" && !strings.Contains(o.Name, "/")) {
		return QuorumLane
	}
	return DataLane
}

// OpID identifies an Op. IDs increase by one per Op emitted by a node incarnation.
type OpID uint64

// Kind is what an Op does.
type Kind uint8

// The kinds of disk work.
const (
	// Append writes whole batches (Data) to Log. Their offsets are stamped and dense:
	// the first base offset equals the log's end offset (Offset repeats it as a check).
	// Not durable until a later Sync of the same log completes.
	Append Kind = iota + 1
	// Sync makes everything appended to Log so far durable.
	Sync
	// Truncate removes every batch of Log at or above Offset, durably.
	Truncate
	// Reset empties Log and restarts it at Offset (a follower that installed a snapshot
	// or fell behind the leader's log start), durably.
	Reset
	// DeleteBelow advances the log start offset of Log to Offset and deletes whole
	// segments below it, durably.
	DeleteBelow
	// Read returns the whole batches of Log from the one holding Offset up to (not
	// including) MaxOffset, at most MaxBytes except that the first batch is always whole:
	// as bytes (Done.Data), or with Op.Spans as spans (Done.Spans).
	Read
	// WriteFile atomically and durably replaces the small file Name with Data. Name is
	// relative to the node's data directory.
	WriteFile
	// RemoveFile removes the file Name, durably.
	RemoveFile
	// CreateLog creates Log, empty, starting at Offset, durably.
	CreateLog
	// DeleteLog removes Log and everything in it, durably.
	DeleteLog
	// LeaderEpochs durably replaces Log's leader-epoch checkpoint with Epochs.
	LeaderEpochs
	// FindTime looks up the first record of Log at or above its start and below
	// MaxOffset whose timestamp is at least Offset (a timestamp in ms). Done.Offset and
	// Done.Timestamp are that record's, or -1.
	FindTime
	// Retain applies retention to Log: it deletes the oldest segments whose newest
	// record is older than Retention.Ms before Retention.NowMs, and then the oldest while
	// the log is larger than Retention.Bytes (a negative limit disables each rule), never
	// deleting at or above MaxOffset. Done.Offset is the log start offset afterwards.
	Retain
	// CheckDamage verifies the part of Log holding Offset after a Read or FindTime of it
	// failed validation (Done.Corrupt). Damage that reads back the same twice is fenced:
	// Done.Fences lists the new fences (FenceDamaged), none when the bytes read back
	// intact (the fault was transient). The log end never moves. Durable when done.
	CheckDamage
	// Skip moves the end of Log from Offset to MaxOffset with no batch in between, the
	// range fenced as FenceLost (a follower copying a range its leader declared lost).
	// Durable when done.
	Skip
	// Clean carries the compaction pass (package compact, policy Compaction) of Log
	// forward by about MaxBytes of reading and writing (0: to its end), starting one over
	// the closed, durable segments that end at or below MaxOffset when none is under way.
	// Done.More says the pass has work left, which the next Clean continues (the log may
	// have dropped it meanwhile: the next Clean then starts anew); Done.Bytes is what the
	// step read and wrote. When the pass ends, Done.Offset is the offset below which the
	// log is clean, or -1 when the pass could not run because the cleaner's offset map
	// cannot hold one segment's keys. Damage met while reading fails the op with
	// Done.Corrupt, Done.Offset the damaged batch; what the pass swapped in before stays,
	// whole. Durable when done.
	Clean
	// SetSegments makes Log roll its segments by Segments (a topic's segment.bytes and
	// segment.ms); zero fields take the node's settings back. Nothing is written.
	SetSegments
	// FindMaxTime looks up the first record of Log at or above its start and below
	// MaxOffset that carries the largest timestamp among them (KIP-734). Done.Offset and
	// Done.Timestamp are that record's, or -1 when no record there carries a timestamp.
	FindMaxTime
	// Size measures Log: Done.Bytes is the size of its segments. Nothing is written.
	Size
	// SetAborted makes Log's aborted-transactions index hold exactly Op.Aborted among
	// its entries whose marker is at or above Offset, durably: the owner rebuilt them
	// by replaying the log after its producer-state snapshot, which covers the entries
	// below (durable with the data they describe). Entries of transactions reaching
	// into a fenced range stay (a replay reads nothing there to list them from) unless
	// Op.Aborted has one with the same marker.
	SetAborted
)

var kindNames = [...]string{"?", "append", "sync", "truncate", "reset", "delete-below", "read",
	"write-file", "remove-file", "create-log", "delete-log", "leader-epochs", "find-time", "retain",
	"check-damage", "skip", "clean", "set-segments", "find-max-time", "size", "set-aborted"}

// FenceKind says why a fenced range of a log has no readable batches.
type FenceKind uint8

const (
	// FenceDamaged: this disk held the batches, and their synced bytes failed validation
	// (damage at rest, a lost sector). Another replica may still hold them.
	FenceDamaged FenceKind = 1
	// FenceLost: the log's owner declared the offsets lost (their last in-sync copy was
	// damaged) and this log copied the gap: nothing will ever be readable there.
	FenceLost FenceKind = 2
)

func (k FenceKind) String() string {
	switch k {
	case FenceDamaged:
		return "damaged"
	case FenceLost:
		return "lost"
	}
	return fmt.Sprintf("fence-kind(%d)", uint8(k))
}

// Fence is a range [From, To) of a log's offsets with no readable batches: the offsets
// stay assigned, reads of them fail, and the log end never moves back over them. The
// storage log and the partition replica keep the same list of them.
type Fence struct {
	From, To int64
	Kind     FenceKind
}

func (f Fence) String() string { return fmt.Sprintf("[%d,%d) %s", f.From, f.To, f.Kind) }

// Contains reports whether offset lies in the fence.
func (f Fence) Contains(offset int64) bool { return f.From <= offset && offset < f.To }

// AddFence returns fences, sorted by From, with f merged into those it overlaps or
// touches. A merged range is damaged if any part of it is: this disk may be the one to
// repair it. fences itself is left as it was.
func AddFence(fences []Fence, f Fence) []Fence {
	out := make([]Fence, 0, len(fences)+1)
	for _, g := range fences {
		if g.To < f.From || g.From > f.To {
			out = append(out, g)
			continue
		}
		f.From, f.To = min(f.From, g.From), max(f.To, g.To)
		if g.Kind == FenceDamaged {
			f.Kind = FenceDamaged
		}
	}
	out = append(out, f)
	slices.SortFunc(out, func(a, b Fence) int { return cmp.Compare(a.From, b.From) })
	return out
}

// ClipFences returns the parts of fences inside [from, to); fences itself is left as it
// was.
func ClipFences(fences []Fence, from, to int64) []Fence {
	var out []Fence
	for _, f := range fences {
		f.From, f.To = max(f.From, from), min(f.To, to)
		if f.From < f.To {
			out = append(out, f)
		}
	}
	return out
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// EpochEntry is one line of a leader-epoch checkpoint: the first offset written in an epoch.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// Op is one piece of disk work.
type Op struct {
	ID        OpID
	Kind      Kind
	Log       LogID
	Offset    int64
	MaxOffset int64 // Read: exclusive upper bound (usually the high watermark)
	MaxBytes  int32 // Read; Clean: the step's budget
	Data      []byte
	Name      string
	Epochs    []EpochEntry
	Retention Retention
	// Compaction is the policy of a Clean op.
	Compaction compact.Policy
	// Segments are the limits of a SetSegments op.
	Segments SegmentLimits
	// Paced marks a Read that serves a replica a reassignment adds: what it reads counts
	// against the node's move throttle (leader.replication.throttled.rate).
	Paced bool
	// Spans asks a Read for its batches as spans (Done.Spans) rather than bytes: a shell
	// that can send from files (sendfile) then never copies them through memory on their
	// way to a client.
	Spans bool
	// Aborted lists, for an Append, the aborted transactions whose abort markers it
	// writes, for the log's aborted-transactions index; for SetAborted, the entries.
	Aborted []AbortedTxn
	// ListAborted asks a Read for the aborted transactions whose range, from first
	// offset to marker, overlaps what it returns (Done.Aborted): a read_committed
	// consumer drops their records.
	ListAborted bool
}

// AbortedTxn is one entry of a log's aborted-transactions index: the transaction of
// ProducerID that began at FirstOffset and whose abort marker is at MarkerOffset.
// StableOffset is where the log was stable once the marker was written: the first
// offset of the oldest transaction of another producer still open then, or
// MarkerOffset+1 when none was. A lookup of the transactions overlapping offsets below
// it needs no later entry: each later one began after it.
type AbortedTxn struct {
	ProducerID   int64
	FirstOffset  int64
	MarkerOffset int64
	StableOffset int64
}

// FileID names a segment file a shell keeps readable for the spans that point into it.
// The shell hands it out; 0 names none.
type FileID uint64

// A Span is a stretch of whole batches a Read with Op.Spans returned: bytes held in
// memory (Data), or Len bytes at Pos of the segment file File. Both are exactly the
// bytes the read validated: a shell that hands out file spans keeps the file readable
// (deleted or replaced files stay open) and refuses to send a span whose bytes were cut
// from it since (see diskexec.SpanFiles). The core treats spans as opaque and counts
// their Len.
type Span struct {
	Data []byte
	File FileID
	Base int64 // the segment's base offset, which names its file (for people)
	Pos  int64
	Len  int64 // len(Data) when Data is set
}

// SpansLen is the number of bytes spans hold.
func SpansLen(spans []Span) int64 {
	var n int64
	for _, sp := range spans {
		n += sp.Len
	}
	return n
}

// SegmentLimits say when a log rolls a new segment: past Bytes (segment.bytes), once its
// records span AgeMs (segment.ms, on their timestamps), or before an index grows past
// IndexBytes (segment.index.bytes). Zero: the node's setting.
type SegmentLimits struct {
	Bytes      int64
	AgeMs      int64
	IndexBytes int32
}

// Retention is the policy of a Retain op.
type Retention struct {
	NowMs int64 // the node's clock, ms since the Unix epoch
	Ms    int64 // retention.ms; negative: keep forever
	Bytes int64 // retention.bytes; negative: no size limit
}

func (o Op) String() string {
	switch o.Kind {
	case Append:
		return fmt.Sprintf("#%d append %s @%d %dB", o.ID, o.Log, o.Offset, len(o.Data))
	case Read:
		return fmt.Sprintf("#%d read %s [%d,%d) max %dB", o.ID, o.Log, o.Offset, o.MaxOffset, o.MaxBytes)
	case WriteFile, RemoveFile:
		return fmt.Sprintf("#%d %s %s %dB", o.ID, o.Kind, o.Name, len(o.Data))
	case Sync:
		return fmt.Sprintf("#%d sync %s", o.ID, o.Log)
	}
	return fmt.Sprintf("#%d %s %s @%d", o.ID, o.Kind, o.Log, o.Offset)
}

// Done is the completion of an Op.
type Done struct {
	ID   OpID
	Kind Kind
	Log  LogID
	// Err is nil on success. A failed Append, Sync, Truncate, Reset, DeleteBelow,
	// WriteFile or CreateLog leaves the node's durable state unknown: the core stops and
	// must be recovered (the fsyncgate rule). A failed Read is reported to the reader.
	Err error
	// Data holds the batches of a Read; Spans, with Op.Spans, the same batches as spans,
	// in order, and Next the offset after the last of them (the Read's Offset when there
	// are none). Without Op.Spans, nothing writes to Data after the Done: the node may
	// send it from another goroutine later (core.Message.Records).
	Data  []byte
	Spans []Span
	Next  int64
	// Offset reports, for Read and Retain, the log start offset after the op (a reader
	// below it learns why it got nothing), for FindTime the offset found or -1, and for
	// Clean what the op's doc says.
	Offset int64
	// Corrupt reports that a Read or FindTime failed because bytes failed validation
	// (twice): damage at rest, or a transient fault. CheckDamage tells them apart.
	Corrupt bool
	// Fences holds, for a Read or FindTime that met a fenced offset, that fence (Err is
	// set), and for CheckDamage the fences it added.
	Fences []Fence
	// More and Bytes: for Clean and Size, what the op's doc says.
	More  bool
	Bytes int64
	// Timestamp is, for FindTime and FindMaxTime, the found record's timestamp or -1.
	Timestamp int64
	// Aborted answers a Read's ListAborted, in marker order.
	Aborted []AbortedTxn
}

// Queue numbers and collects the Ops of one node. Every component of a node emits into
// the same Queue, so OpIDs are globally ordered and the Dones of each lane come back in
// that order. The node tags each Op with the component that emitted it (SetOwner) and
// routes each Done back to that owner (TakeOwner).
type Queue struct {
	last OpID
	// ops holds the Ops emitted since the last Drain, at the start of the room that is
	// left in an array shared with the Ops drained before: each Drain hands out its own
	// part of the array and the next Ops go after it, so that a node that drains an Op
	// or two at a time does not allocate an array per Drain. A drained part is never
	// written again; it lives, and so do the Ops' Data, while the array does.
	ops   []Op
	owner any
	// owners holds, for each lane, the tags of the ops emitted into it, in ID order,
	// from the first not yet taken (at index taken).
	owners [Lanes]ownerList
}

// ownerList holds the tags of one lane's ops. Taking moves taken on rather than the
// slice, so that the room of the tags taken is used again (see add).
type ownerList struct {
	tags  []owned
	taken int
}

// opsArrayLen is how many Ops an array that Drains share has room for, at least.
const opsArrayLen = 32

type owned struct {
	id    OpID
	owner any
}

// Emit assigns op the next OpID, queues it and returns the ID.
func (q *Queue) Emit(op Op) OpID {
	q.last++
	op.ID = q.last
	if len(q.ops) == cap(q.ops) {
		q.ops = append(make([]Op, 0, max(opsArrayLen, 2*len(q.ops))), q.ops...)
	}
	q.ops = append(q.ops, op)
	q.owners[op.Lane()].add(owned{op.ID, q.owner})
	return op.ID
}

func (l *ownerList) add(o owned) {
	if len(l.tags) == cap(l.tags) && l.taken > 0 && l.taken >= len(l.tags)/2 {
		// Moving the tags not taken to the front is cheaper than a new array when they
		// are at most half of it, and moves each tag once on average.
		rest := copy(l.tags, l.tags[l.taken:])
		clear(l.tags[rest:])
		l.tags, l.taken = l.tags[:rest], 0
	}
	l.tags = append(l.tags, o)
}

// SetOwner makes owner the tag of the Ops emitted from now on and returns the previous
// tag, for the caller to restore.
func (q *Queue) SetOwner(owner any) (prev any) {
	prev, q.owner = q.owner, owner
	return prev
}

// TakeOwner returns the tag of Op id and forgets it and every earlier Op of its lane.
// Dones arrive in Op order within a lane, so the entries before id are for Ops whose
// Dones were lost with a discarded owner; it returns nil for an unknown id.
func (q *Queue) TakeOwner(id OpID) any {
	for lane := range q.owners {
		if owner, ok := q.owners[lane].take(id); ok {
			return owner
		}
	}
	return nil
}

// take returns the tag of op id if the list holds it, and forgets it and every earlier
// entry.
func (l *ownerList) take(id OpID) (any, bool) {
	rest := l.tags[l.taken:]
	i, found := slices.BinarySearchFunc(rest, id, func(o owned, id OpID) int { return cmp.Compare(o.id, id) })
	if !found {
		return nil, false
	}
	owner := rest[i].owner
	clear(rest[:i+1])
	l.taken += i + 1
	if l.taken == len(l.tags) {
		// Every op emitted is taken: the next ones reuse the room these held.
		l.tags, l.taken = l.tags[:0], 0
	}
	return owner, true
}

// Last is the ID of the most recently emitted Op (0 before the first).
func (q *Queue) Last() OpID { return q.last }

// Drain returns the queued Ops and empties the queue. The caller owns them: appending
// to them never reaches the room the next Ops take.
func (q *Queue) Drain() []Op {
	n := len(q.ops)
	if n == 0 {
		return nil
	}
	ops := q.ops[:n:n]
	q.ops = q.ops[n:]
	return ops
}

// Recovered is what a shell found on a node's disk at start-up, after recovering every
// log (validating batches after each recovery point and cutting torn tails) and syncing
// the result, so everything it reports is durable.
type Recovered struct {
	// Files holds the small files the core wrote with WriteFile, by name.
	Files map[string][]byte
	// Logs describes every log directory, sorted by ID.
	Logs []LogState
	// Metadata holds every batch of the metadata log, from its start offset to its end.
	Metadata []byte
}

// LogState describes one recovered log.
type LogState struct {
	ID          LogID
	StartOffset int64
	EndOffset   int64
	Epochs      []EpochEntry
	// BytesCut counts bytes recovery removed from a torn or corrupt tail.
	BytesCut int64
	// Fences are the log's fenced ranges, in offset order; FencedNow those this
	// recovery added (damage it found in synced data).
	Fences    []Fence
	FencedNow []Fence
	// AbortedCut reports that the log's aborted-transactions index lost entries from
	// AbortedCutOffset on (a torn or damaged entry), AbortedCutReason why: its owner
	// lists the aborts from there again (SetAborted).
	AbortedCut       bool
	AbortedCutOffset int64
	AbortedCutReason string
}
