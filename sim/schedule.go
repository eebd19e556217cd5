package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/netsim"
)

// The schedule of a run is what its generators drew: every fault the fault schedule
// injected, resolved to its targets and parameters, and every client operation the
// workload started, with its arguments, each at its virtual time. Every run records it
// (Result.Schedule); drawing it costs no randomness and records no trace event, so a
// seed's run is the same whether anyone looks at its schedule or not.
//
// A run can also be driven by a schedule (Options.Schedule): the configuration still
// comes from the seed, but faults and client operations come from the schedule only, at
// their times (script.go). A schedule is the unit seedlog sim shrink minimizes, and a
// scenario file (scenario.go) is its text form.
//
// Granularity. A fault is one step: a crash with its downtime, a partition with how long
// it lasts, a disk fault and its rates; a step's undo (the heal, the restart) belongs to
// it. A crash armed for a moment too short to hit at random (crashArm) is one step too,
// taken at its arming, with how it struck once it did. A client operation is one step:
// removing it removes the request and everything the client does to get it through
// (retries, metadata refreshes, an idempotent producer's resends). Group members are
// driven by the group protocol, not by a generator: a member's steps are its start (it
// joins, and from then on polls, commits and heartbeats on its own) and its departures.

// StepKind is the kind of a schedule step.
type StepKind uint8

// The kinds of steps: faults first, then client operations.
const (
	// StepCrash crashes Node now; it restarts after Down.
	StepCrash StepKind = iota + 1
	// StepArm arms Node to crash at its next Moment (crashArm); it restarts after Down.
	StepArm
	// StepCrashOnWrite crashes Node while it writes a state file (disk.WriteFile): the
	// first such write at or after At (the Nth of those at exactly At). CrashOnWrite.
	StepCrashOnWrite
	// StepCrashAtElection crashes Node right after it wins a quorum election, the first
	// at or after At (a storm's elected crash).
	StepCrashAtElection
	// StepPowerLoss crashes every node at once; they restart together after Down.
	StepPowerLoss
	// StepPause pauses Node for For.
	StepPause
	// StepNet applies the network fault Net for For (a clog ends by itself after For).
	StepNet
	// StepLinkRates makes every link lossy with the step's rates for For.
	StepLinkRates
	// StepDiskEIO, StepDiskENOSPC and StepReadCorrupt switch disk faults on for Node's
	// disk for For.
	StepDiskEIO
	StepDiskENOSPC
	StepReadCorrupt
	// StepCorrupt corrupts Bytes bytes at Offset of File on Node's disk, at rest.
	StepCorrupt
	// StepClockJump makes Node's clock jump forward By.
	StepClockJump
	// StepShutdown sends Node a SIGTERM: a controlled shutdown that stops it once its
	// leaderships moved away or after For (its timeout); it restarts after Down.
	StepShutdown
	// StepLeaveDown leaves Nodes down for the liveness phase (At is when it began).
	StepLeaveDown
	// StepCrashAtTakeover crashes Node right after it next takes over the leadership of
	// a data partition from another leader, the first at or after At: back-to-back
	// failovers (FaultConfig.TakeoverCrashPPM).
	StepCrashAtTakeover

	// StepAdmin is one metadata operation of a workload client: OpKind on Topic with
	// Count and RF.
	StepAdmin
	// StepProduce is one batch of Records records from a producer to Topic/Partition.
	StepProduce
	// StepFetch is one fetch of a reader at its position in Topic/Partition, MinBytes.
	StepFetch
	// StepListOffsets is one ListOffsets of a reader, ListAt -2 (earliest), -1 (latest) or
	// -3 (the largest timestamp).
	StepListOffsets
	// StepAddPartition is one round of the grower: it refreshes Topic and, when it has
	// fewer partitions than the limit, adds one.
	StepAddPartition
	// StepJoin starts a group member: it joins Group and then works on its own.
	StepJoin
	// StepLeave makes a group member leave Group at its first poll at or after At; it
	// rejoins after a while.
	StepLeave
	// StepDeleteRecords is one DeleteRecords of a reader: Topic/Partition below Offset
	// (-1: the high watermark).
	StepDeleteRecords
	// StepOffsetCommit is one commit of the offsets administrator: Offset for
	// Topic/Partition in Group, outside any generation.
	StepOffsetCommit
	// StepOffsetDelete is one OffsetDelete of the offsets administrator: Group's offsets
	// of Topic/Partition (Partition -1: every partition of Topic).
	StepOffsetDelete
	// StepOffsetFetch is one OffsetFetch of the offsets administrator: every data
	// partition's offset in Group.
	StepOffsetFetch
	// StepSetCredential sets User's credential of Mechanism (a SCRAM mechanism) to
	// Password; StepDeleteCredential removes it; StepAuthenticate authenticates as User
	// with Password by Mechanism (PLAIN or SCRAM) on a new connection to Node. The
	// credentials client takes them.
	StepSetCredential
	StepDeleteCredential
	StepAuthenticate
	// StepAclChange creates (Delete: removes) binding Acl of aclUniverse for User,
	// through Node, then (when Access is set) tries Access as User with Password on
	// AccessNode once the change is acknowledged;
	// StepAccess authenticates as User with Password on Node and tries Access.
	StepAclChange
	StepAccess
	// StepElectLeaders is one ElectLeaders of the elector: the preferred leaders of
	// Topic's partitions, or of every partition when Topic is "*".
	StepElectLeaders
	// StepReassign is one AlterPartitionReassignments of the mover: Topic's Partition
	// to Replicas, or, when Replicas is nil, its move cancelled.
	StepReassign
	// StepDrain is the mover draining broker Node: one AlterPartitionReassignments that
	// moves every data partition off it (as seedlog cluster decommission does), then
	// an UnregisterBroker of it once no partition is left there.
	StepDrain
	// StepTxnStart starts a transactional producer (txnproducer.go): the transactional
	// id's first instance, whose client the step names, takes a producer id and from then
	// on runs transactions on its own (its later instances included).
	StepTxnStart
	// StepTxnCrash, StepTxnIdle and StepTxnSloppy are what befalls the transactional
	// id's first transaction that begins at or after At (the id's client, as with
	// StepTxnStart, names it; one step of each kind per transaction): its instance
	// crashes at point After, and stays as a zombie when Zombie says so; it idles past
	// its timeout before ending; it aborts sloppily, its first batch held For on its way
	// (txnproducer.go). After counts a transactional producer's batches sent (0: before
	// it adds its partitions; txnCrashAtEnd: once its EndTxn went out), or a
	// consume-transform-produce worker's steps (1: partitions added, 2: batch written,
	// 3: offsets committed). A step no transaction takes does nothing.
	StepTxnCrash
	StepTxnIdle
	StepTxnSloppy
	stepKindEnd
)

// IsFault reports whether the step is a fault (as opposed to a client operation).
func (k StepKind) IsFault() bool { return k < StepAdmin }

// Step is one step of a schedule. The fields a kind uses are listed with each kind.
type Step struct {
	At     time.Duration // virtual time since the start of the run
	Kind   StepKind
	Node   int32 // the node a fault concerns
	Client int32 // the client of an operation

	// Faults.
	Down   time.Duration // how long crashed nodes stay down
	For    time.Duration // how long a fault lasts
	By     time.Duration // how far a clock jumps
	Moment crashArm      // StepArm: armDiskOp, armUnsynced, armAnswer or armElected
	Key    int16         // StepArm at armAnswer: the API whose answer it waits for
	// Then is how a crash after an election strikes: thenNow (within Strike) or
	// thenSync (at the node's next completed sync); thenUnknown until it struck.
	Then   crashThen
	Strike time.Duration // delay from the moment to the crash
	Nth    int           // StepCrashOnWrite: among the node's writes at exactly At
	Net    netsim.Fault  // StepNet (a clog's Until is set when it is applied)
	// Rates in parts per million: link loss, duplication, reordering, stream breaks;
	// disk write EIO, sync EIO, ENOSPC, read corruption.
	LossPPM, DupPPM, ReorderPPM, BreakPPM int64
	WriteEIOPPM, SyncEIOPPM               int64
	ENOSPCPPM, ReadCorruptPPM             int64
	File                                  string // StepCorrupt
	Offset                                int64  // StepCorrupt; StepDeleteRecords; StepOffsetCommit
	Bytes                                 int
	// Lose: StepCorrupt on a partition segment zeroes the bytes (a lost sector) instead
	// of flipping bits.
	Lose  bool
	Nodes []int32 // StepLeaveDown

	// Replicas is StepReassign's target.
	Replicas []int32

	// Client operations.
	OpKind    OpKind // StepAdmin
	Topic     string
	Partition int32
	Count     int32 // StepAdmin: partitions of a create, new count of a create-partitions
	RF        int32
	Records   int   // StepProduce
	MinBytes  int32 // StepFetch
	ListAt    int64 // StepListOffsets
	Group     string
	// Credential steps.
	User, Mechanism, Password string
	// ACL steps.
	Acl        int
	Delete     bool
	Access     string
	AccessNode int32
	// StepTxnCrash: where the transaction crashes, and whether its instance lingers as
	// a zombie.
	After  int
	Zombie bool
}

// txnCrashAtEnd is a StepTxnCrash's After for a crash once the transaction's EndTxn went
// out.
const txnCrashAtEnd = -1

// crashThen is how a crash right after an election strikes.
type crashThen uint8

const (
	thenUnknown crashThen = iota
	thenNow               // within Strike of the election
	thenSync              // at the node's next completed sync
)

// Schedule is the steps of a run, in time order (steps at one time keep their order).
type Schedule struct {
	Steps []Step
}

// Counts returns how many of the schedule's steps are faults and how many client
// operations.
func (s *Schedule) Counts() (faults, ops int) {
	for i := range s.Steps {
		if s.Steps[i].Kind.IsFault() {
			faults++
		} else {
			ops++
		}
	}
	return faults, ops
}

// Subset returns the schedule made of the steps at the given indices (ascending).
func (s *Schedule) Subset(keep []int) Schedule {
	out := Schedule{Steps: make([]Step, 0, len(keep))}
	for _, i := range keep {
		out.Steps = append(out.Steps, s.Steps[i])
	}
	return out
}

// Sort puts the steps in time order, keeping the order of steps at one time.
func (s *Schedule) Sort() {
	slices.SortStableFunc(s.Steps, func(a, b Step) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
}

// scheduleRecorder keeps the steps a run applied, in order (Result.Schedule). It holds
// them in chunks that never move, so that the thousands of steps of a long run are not
// copied again at every growth of one slice; all joins them once, at the end.
type scheduleRecorder struct {
	chunks [][]Step
	n      int
}

// The first chunk holds stepChunkFirst steps, each next one twice as many as the one
// before, up to stepChunkMax: short runs stay small, long ones grow in few steps.
const (
	stepChunkFirst = 16
	stepChunkMax   = 512
)

// add appends a step and returns its index.
func (r *scheduleRecorder) add(st Step) int {
	last := len(r.chunks) - 1
	if last < 0 || len(r.chunks[last]) == cap(r.chunks[last]) {
		size := stepChunkFirst
		if last >= 0 {
			size = min(2*cap(r.chunks[last]), stepChunkMax)
		}
		r.chunks = append(r.chunks, make([]Step, 0, size))
		last++
	}
	r.chunks[last] = append(r.chunks[last], st)
	r.n++
	return r.n - 1
}

// at returns the step at index i, or nil when there is none.
func (r *scheduleRecorder) at(i int) *Step {
	if i < 0 {
		return nil
	}
	for _, c := range r.chunks {
		if i < len(c) {
			return &c[i]
		}
		i -= len(c)
	}
	return nil
}

// all returns the steps in one slice (nil when there are none).
func (r *scheduleRecorder) all() []Step {
	if r.n == 0 {
		return nil
	}
	out := make([]Step, 0, r.n)
	for _, c := range r.chunks {
		out = append(out, c...)
	}
	return out
}

// recordStep records a step at the current time and returns its index, for steps
// whose resolution comes later (an armed crash's strike).
func (w *World) recordStep(st Step) int {
	st.At = time.Duration(w.now)
	return w.sched.add(st)
}

// resolveStep fills in how an armed crash struck, once it did.
func (w *World) resolveStep(i int, then crashThen, strike time.Duration) {
	st := w.sched.at(i)
	if st == nil {
		return
	}
	if then != thenUnknown {
		st.Then = then
	}
	st.Strike = strike
}

func (k StepKind) String() string {
	if k > 0 && k < stepKindEnd {
		return stepVerbs[k]
	}
	return fmt.Sprintf("step(%d)", uint8(k))
}
