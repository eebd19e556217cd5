package raft

import (
	"errors"
	"fmt"
	"math"

	"github.com/seedlog/seedlog/core/disk"
)

// Errors from Propose.
var (
	ErrNotLeader = errors.New("raft: not the leader")
	ErrBusy      = errors.New("raft: too much uncommitted")
	ErrTooLarge  = errors.New("raft: proposal too large")
)

// Role is what a member does in its current epoch.
type Role uint8

// Roles. A voter is Unattached (no known leader), Prospective (asking for pre-votes),
// Candidate (asking for votes), Leader or Follower; a member outside Voters is always an
// Observer.
const (
	Unattached Role = iota
	Prospective
	Candidate
	Leader
	Follower
	Observer
)

var roleNames = [...]string{"unattached", "prospective", "candidate", "leader", "follower", "observer"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Restored is what the node recovered from disk for the metadata log.
type Restored struct {
	QuorumState     []byte // contents of QuorumStateFile; nil if absent
	QuorumStateCopy []byte // contents of QuorumStateCopyFile; nil if absent
	// Snapshot is the latest durable snapshot, or nil. The node's image starts from it
	// (or from nothing): raft never drops a snapshot it was given.
	Snapshot *Snapshot
	// SnapshotLost: SnapshotFile exists but does not decode (nor does the image in it).
	// Raft removes it, restarts the log empty at 0 and recovers from the leader.
	SnapshotLost bool
	// StartOffset is the log start offset of disk.MetadataLog (the snapshot's end offset
	// when a snapshot cut the log).
	StartOffset int64
	// Batches are every batch of the metadata log from StartOffset to its end, all
	// durable. Raft checks them again and cuts the log at the first that does not check
	// out.
	Batches []byte
}

// Snapshot is an image of the committed metadata up to EndOffset. Data is opaque to raft.
type Snapshot struct {
	EndOffset int64 // offset after the last entry covered
	Epoch     int32 // epoch of that entry
	Data      []byte
}

// Entry is one record of the metadata log.
type Entry struct {
	Offset  int64
	Epoch   int32
	Data    []byte // the record's value; nil when null
	Control bool   // a leader-change record (DecodeLeaderChange), not metadata
}

// Note is an event worth a trace line or a coverage count.
type Note struct {
	Kind string
	Text string
}

// Ready is everything raft produced since the last call to Ready.
type Ready struct {
	Messages []Envelope
	// Installed is a snapshot a follower took over from the leader: the node replaces its
	// image with it before applying Committed.
	Installed *Snapshot
	// Committed are newly committed entries, in order, each delivered once per
	// incarnation. After a restart they start again from the snapshot (or log start).
	Committed []Entry
	// Reads answers ReadIndex calls.
	Reads []ReadResult
	Notes []Note
	// Fatal is set once a disk op failed or the log contradicts committed state: raft has
	// stopped and the node must be recovered from disk. It stays set.
	Fatal error
}

// Status is a read-only view of a member.
type Status struct {
	ID   int32
	Role Role
	// Epoch and VotedFor are durable: what survives a crash and what peers may have
	// seen. PendingEpoch is the epoch the member acts in, ahead of Epoch until the
	// quorum-state write completes; Leader is the leader of PendingEpoch (-1 unknown).
	Epoch        int32
	PendingEpoch int32
	Leader       int32
	VotedFor     int32
	// HW is the durable high watermark: everything below it is committed and has been
	// (or is being) delivered in Ready.Committed. It never decreases, across restarts too.
	// While Recovering, HW may exceed EndOffset: the member lost entries it had seen
	// committed and fetches them again.
	HW            int64
	EndOffset     int64
	DurableOffset int64 // everything below it is synced
	StartOffset   int64
	LastEpoch     int32 // epoch of the last entry
	// Recovering: the member lost acknowledged entries, its snapshot or its quorum state
	// and has not caught up with a leader since. It grants no votes or pre-votes and does
	// not stand for election (see the package doc).
	Recovering bool
	// QuorumStateLost: this incarnation started without a readable quorum state, so its
	// epoch, vote and high watermark started over from what the log shows and may be
	// lower than before the restart. Set until the member has recovered.
	QuorumStateLost bool
	// SnapshotLost: this incarnation started with a snapshot that did not decode. The
	// snapshot had raised the high watermark to its end; without it the high watermark
	// starts over from the quorum state and may be lower than before the restart. Set
	// until the member has recovered.
	SnapshotLost bool
	// Installing: a snapshot fetched from the leader is being written to SnapshotFile.
	// The node must not write a snapshot of its own meanwhile: the write that completes
	// last decides the file, and the node's would be older than the log start the
	// install moves to.
	Installing bool
}

// Raft is one member of the controller quorum. It is not safe for concurrent use.
type Raft struct {
	cfg      Config
	voterIdx int // index of cfg.ID in cfg.Voters; -1 for an observer
	majority int

	role     Role
	epoch    int32
	votedFor int32 // -1: no vote in epoch
	leader   int32 // -1: unknown

	qs   quorumWriter
	ops  []pendingOp // emitted, awaiting Done, in emission order
	log  memLog
	snap *Snapshot // the newest durable snapshot

	// durableOffset: everything below it is synced (on this node's disk).
	durableOffset int64
	// ackedMem is the log end this member acknowledges as durable, persisted with the
	// quorum state; qs.durable.acked is the part already written.
	ackedMem int64
	// cut holds disk ops that shorten the log, waiting for the quorum state to
	// acknowledge no more than what they leave; nil when none.
	cut       *pendingCut
	syncAgain bool // the log grew while a Sync was in flight
	// voteFloor: votes and pre-votes are granted only in epochs above it.
	voteFloor int32
	rec       recovery
	// hwMem is the high watermark this member knows; hwDurable <= hwMem is the part
	// whose quorum-state write completed, the only part ever exposed.
	hwMem, hwDurable int64
	leaderHW         int64 // the last durable HW a leader reported to this member
	committedNext    int64 // the next offset to deliver in Ready.Committed

	// deadline is Deadline's last answer, still right while deadlineKnown: every input
	// (enter, ReadIndex, SnapshotTaken) clears it before changing anything.
	deadline      int64
	deadlineKnown bool

	started           bool
	lastNow           int64
	electionAt        int64 // voters without a leader: when to ask for pre-votes
	voteRetryAt       int64 // prospective and candidate: when to ask again
	lastLeaderContact int64
	votes             []bool // prospective and candidate: granted, by voter index
	rejects           []bool // prospective and candidate: refused, by voter index

	lead  *leaderState // non-nil exactly while role == Leader
	fol   followerState
	guard epochGuard

	out     Ready
	fatal   error
	repairs []repairOp // only during New
}

const noTime = math.MinInt64 / 4

// Step handles a message from peer from.
func (r *Raft) Step(now int64, from int32, m Message) {
	if !r.enter(now) || !r.admitEpoch(now, from, m) {
		return
	}
	switch m := m.(type) {
	case *VoteRequest:
		r.onVoteRequest(now, from, m)
	case *VoteResponse:
		r.onVoteResponse(now, from, m)
	case *BeginQuorumEpoch:
		r.onBeginQuorumEpoch(now, from, m)
	case *BeginQuorumEpochResponse:
		r.onBeginQuorumEpochResponse(now, m)
	case *Fetch:
		r.onFetch(now, from, m)
	case *FetchResponse:
		r.onFetchResponse(now, from, m)
	case *FetchSnapshot:
		r.onFetchSnapshot(now, from, m)
	case *FetchSnapshotResponse:
		r.onFetchSnapshotResponse(now, from, m)
	case *EpochQuery:
		r.onEpochQuery(now, from, m)
	case *EpochAnswer:
		r.onEpochAnswer(now, from, m)
	}
	r.checkInvariants()
}

// Tick lets time pass.
func (r *Raft) Tick(now int64) {
	if !r.enter(now) {
		return
	}
	if r.pollDue() && now >= r.rec.pollAt {
		r.poll(now)
	}
	switch r.role {
	case Leader:
		r.tickLeader(now)
	case Follower, Observer:
		r.tickFollower(now)
	default:
		r.tickElection(now)
	}
	r.checkInvariants()
}

// enter records now, starts the timers on the first input and reports whether raft
// still runs.
func (r *Raft) enter(now int64) bool {
	r.deadlineKnown = false
	if r.fatal != nil {
		return false
	}
	r.lastNow = max(r.lastNow, now)
	if !r.started {
		r.started = true
		r.start(now)
	}
	return true
}

// Deadline is the earliest time at which Tick has something to do: 0 before the first
// input (a first Tick arms the timers), math.MaxInt64 once stopped.
func (r *Raft) Deadline() int64 {
	if !r.deadlineKnown {
		r.deadline = r.nextDeadline()
		r.deadlineKnown = true
	}
	return r.deadline
}

// nextDeadline computes Deadline's answer.
func (r *Raft) nextDeadline() int64 {
	switch {
	case r.fatal != nil:
		return math.MaxInt64
	case !r.started:
		return 0
	}
	d := r.electionDeadline()
	switch r.role {
	case Leader:
		d = r.leaderDeadline()
	case Follower, Observer:
		d = r.followerDeadline()
	}
	if r.pollDue() {
		d = min(d, r.rec.pollAt)
	}
	return d
}

// Ready drains the outputs.
func (r *Raft) Ready() Ready {
	rd := r.out
	r.out = Ready{Fatal: r.fatal}
	return rd
}

// Status reports the member's state.
func (r *Raft) Status() Status {
	return Status{
		ID:              r.cfg.ID,
		Role:            r.role,
		Epoch:           r.qs.durable.epoch,
		PendingEpoch:    r.epoch,
		Leader:          r.leader,
		VotedFor:        r.qs.durable.votedFor,
		HW:              r.hwDurable,
		EndOffset:       r.log.end(),
		DurableOffset:   r.durableOffset,
		StartOffset:     r.log.start,
		LastEpoch:       r.log.lastEpoch(),
		Recovering:      r.rec.active,
		QuorumStateLost: r.rec.active && r.rec.stateLost,
		SnapshotLost:    r.rec.active && r.rec.snapshotLost,
		Installing:      r.fol.installing != nil,
	}
}

// Entries returns the entries in [from, to) held in memory, committed or not.
func (r *Raft) Entries(from, to int64) []Entry {
	from, to = max(from, r.log.start), min(to, r.log.end())
	var out []Entry
	for i := r.log.find(from); i >= 0 && i < len(r.log.batches) && r.log.batches[i].base < to; i++ {
		es, err := batchEntries(nil, r.log.batches[i].data)
		if err != nil {
			panic(fmt.Sprintf("raft: a batch in memory does not decode: %v", err))
		}
		for _, e := range es {
			if e.Offset >= from && e.Offset < to {
				out = append(out, e)
			}
		}
	}
	return out
}

// Propose appends records as one batch. Only the leader accepts proposals.
func (r *Raft) Propose(now int64, records [][]byte) (lastOffset int64, err error) {
	if !r.enter(now) {
		return 0, r.fatal
	}
	if r.role != Leader {
		return 0, ErrNotLeader
	}
	if len(records) == 0 {
		return 0, fmt.Errorf("raft: empty proposal")
	}
	if r.log.bytesFrom(r.hwMem) >= r.cfg.UncommittedBytesMax {
		return 0, ErrBusy
	}
	batch, err := buildBatch(r.log.end(), r.epoch, now/1e6, false, records)
	if err != nil {
		return 0, err
	}
	if len(batch) > r.cfg.UncommittedBytesMax {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(batch))
	}
	h := r.appendLocal(batch)
	r.checkInvariants()
	return h.LastOffset(), nil
}

// SnapshotTaken tells raft that the node durably wrote s, an image of the committed
// entries below s.EndOffset. s.EndOffset must be at most the high watermark and end a
// batch (every prefix the node applies from Ready.Committed does). Raft keeps s to serve
// followers that fell behind and drops the log below it.
func (r *Raft) SnapshotTaken(s Snapshot) {
	r.deadlineKnown = false
	// A snapshot being installed from the leader supersedes the node's own.
	if r.fatal != nil || (r.snap != nil && s.EndOffset < r.snap.EndOffset) || r.fol.installing != nil {
		return
	}
	if s.EndOffset > r.hwDurable || s.EndOffset < r.log.start {
		panic(fmt.Sprintf("raft: snapshot at %d outside [log start %d, high watermark %d]", s.EndOffset, r.log.start, r.hwDurable))
	}
	if !r.log.isBoundary(s.EndOffset) || r.log.epochBefore(s.EndOffset) != s.Epoch {
		panic(fmt.Sprintf("raft: snapshot at %d epoch %d does not end a batch of that epoch", s.EndOffset, s.Epoch))
	}
	c := s
	r.snap = &c
	if s.EndOffset > r.log.start {
		r.log.deleteBelow(s.EndOffset)
		r.emit(disk.Op{Kind: disk.DeleteBelow, Log: disk.MetadataLog, Offset: s.EndOffset}, opDeleteBelow, s.EndOffset)
	}
}

func (r *Raft) note(kind, format string, args ...any) {
	r.out.Notes = append(r.out.Notes, Note{Kind: kind, Text: fmt.Sprintf(format, args...)})
}

// ErrBrokenInvariant marks a fatal stop that no disk fault explains: the log
// contradicts what was committed, or what the leader asks of it. Shells report it as
// a bug rather than restart the node as after a failed write.
var ErrBrokenInvariant = errors.New("broken invariant")

// stop makes raft fatal: it ignores every later input.
func (r *Raft) stop(err error) {
	if r.fatal == nil {
		r.fatal = err
		r.out.Fatal = err
		r.note("fatal", "%v", err)
	}
}

// checkInvariants asserts what is cheap to check after every input.
func (r *Raft) checkInvariants() {
	if r.fatal != nil {
		return
	}
	if r.hwDurable > r.hwMem || (r.hwMem > r.log.end() && !r.rec.active) {
		panic(fmt.Sprintf("raft %d: high watermark %d (durable %d) beyond log end %d", r.cfg.ID, r.hwMem, r.hwDurable, r.log.end()))
	}
	if r.rec.active && r.role == Leader {
		panic(fmt.Sprintf("raft %d: leading epoch %d while recovering", r.cfg.ID, r.epoch))
	}
	if (r.role == Leader) != (r.lead != nil) {
		panic(fmt.Sprintf("raft %d: role %s with leader state %v", r.cfg.ID, r.role, r.lead != nil))
	}
	if r.role == Leader && (r.leader != r.cfg.ID || r.votedFor != r.cfg.ID) {
		panic(fmt.Sprintf("raft %d: leading epoch %d with leader %d, vote %d", r.cfg.ID, r.epoch, r.leader, r.votedFor))
	}
	if r.log.lastEpoch() > r.epoch {
		panic(fmt.Sprintf("raft %d: log epoch %d beyond epoch %d", r.cfg.ID, r.log.lastEpoch(), r.epoch))
	}
}
