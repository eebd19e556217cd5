package sim

import (
	"encoding/binary"

	"fmt"
	"github.com/cespare/xxhash/v2"
	"math"
	"strings"
	"time"

	"github.com/seedlog/seedlog/traces"
)

// OpKind is a kind of client operation in the history.
type OpKind uint8

// The operations of the metadata workload, then those of the data workload.
const (
	OpCreate OpKind = iota + 1
	OpDelete
	OpCreatePartitions
	OpDescribe
	OpListBrokers
	// OpProduce is one batch to one partition.
	OpProduce
	// OpFetch is one consumer fetch of one partition, from the leader.
	OpFetch
	// OpListOffsets is one ListOffsets lookup (earliest or latest) of one partition.
	OpListOffsets
	// OpJoin is a JoinGroup then SyncGroup round of a group member: it ends with the
	// member's generation and assignment.
	OpJoin
	// OpCommit is one OffsetCommit of a group member.
	OpCommit
	// OpOffsetFetch is one OffsetFetch of a group member.
	OpOffsetFetch
	// OpDeleteRecords is one DeleteRecords of one partition below Offset (-1: the high
	// watermark); HW is the low watermark it answered.
	OpDeleteRecords
	// OpOffsetDelete is one OffsetDelete of a group's offsets of the partitions in
	// Offsets; Codes holds what each was answered.
	OpOffsetDelete
	// OpSetCredential sets User's SCRAM credential of Mechanism to Password, and
	// OpDeleteCredential removes it (AlterUserScramCredentials).
	OpSetCredential
	OpDeleteCredential
	// OpAuthenticate is one SASL authentication as User with Password, by Mechanism
	// (PLAIN or a SCRAM mechanism), on a new connection to Node.
	OpAuthenticate
	// OpAclChange creates (or, with Delete, removes) binding Acl of aclUniverse for User;
	// OpAccess is one request of User (Access names which, on Node) that its ACLs
	// decide: OK when allowed, Failed with an authorization code when refused.
	OpAclChange
	OpAccess
	// OpInitProducerID is a transactional producer's InitProducerID for TxnID: OK with
	// the Producer id and Epoch it was given.
	OpInitProducerID
	// OpEndTxn is an EndTxn of transaction Txn (Commit or abort) with Producer/Epoch.
	OpEndTxn
	// OpTxnOffsetCommit commits Offsets of Group within transaction Txn
	// (AddOffsetsToTxn, then TxnOffsetCommit); OpTxnOffsetFetch reads them back
	// (OffsetFetch) while Txn is open, or after it ended when Txn is 0.
	OpTxnOffsetCommit
	OpTxnOffsetFetch
)

var opKindNames = [...]string{"?", "create", "delete", "create-partitions", "describe", "list-brokers",
	"produce", "fetch", "list-offsets", "join", "commit", "offset-fetch", "delete-records", "offset-delete",
	"set-credential", "delete-credential", "authenticate", "acl-change", "access",
	"init-producer-id", "end-txn", "txn-offset-commit", "txn-offset-fetch"}

func (k OpKind) String() string {
	if int(k) < len(opKindNames) {
		return opKindNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// IsRead reports whether the operation has no effect.
func (k OpKind) IsRead() bool {
	return k == OpDescribe || k == OpListBrokers || k == OpFetch || k == OpListOffsets || k == OpOffsetFetch || k == OpAuthenticate || k == OpAccess ||
		k == OpTxnOffsetFetch
}

// IsData reports whether the operation belongs to the data workload.
func (k OpKind) IsData() bool { return k >= OpProduce }

// Outcome is how an operation ended.
type Outcome uint8

const (
	// Pending: not finished (only while the run goes on).
	Pending Outcome = iota
	// OK: a definite success.
	OK
	// Failed: a definite error code the model must explain, or (Code < 0) a request that
	// was never sent; either way nothing happened.
	Failed
	// Indeterminate: the operation may or may not have taken effect, at any time after
	// its invocation (a timeout, a broken connection, an error that means "maybe").
	Indeterminate
)

var outcomeNames = [...]string{"pending", "ok", "failed", "indeterminate"}

func (o Outcome) String() string { return outcomeNames[o] }

// Never is the completion time of an indeterminate operation: it may take effect at any
// time after its invocation.
const Never = int64(math.MaxInt64)

// Op is one client operation of the history.
type Op struct {
	ID     int
	Client int32
	Node   int32 // broker of the last attempt, -1 if none
	Kind   OpKind
	Topic  string
	Count  int32 // partitions of a create, new count of a create-partitions
	RF     int32 // replication factor of a create
	Call   int64 // virtual time of the invocation
	Return int64 // virtual time of the completion; Never when indeterminate
	// Outcome and its details: Code for Failed; Exists and Partitions for a describe;
	// Brokers for a list.
	Outcome    Outcome
	Code       int16
	Exists     bool
	Partitions int32
	Brokers    []int32
	// AllBrokers says Brokers lists every registered broker, fenced ones included
	// (DescribeCluster v2); otherwise it lists the live ones (Metadata).
	AllBrokers bool
	// Final marks the complete reads after the liveness phase.
	Final bool

	// Data operations. Partition is the partition of a produce, fetch or lookup.
	Partition int32
	// Produce: the batch's record values (unique in the run), acks, and the idempotent
	// producer's id, epoch and base sequence (-1 when not idempotent). Sent says some
	// attempt left the client; Attempts counts them.
	Values   []string
	Acks     int16
	Producer int64
	Epoch    int16
	Sequence int32
	Sent     bool
	Attempts int
	// Offset: a produce's acknowledged base offset (-1 when the answer did not say, as
	// DUPLICATE_SEQUENCE_NUMBER does); a fetch's fetch offset; a lookup's answer.
	Offset int64
	// ListAt is a lookup's timestamp: -2 for the earliest offset, -1 for the latest, -3
	// for the record with the largest timestamp (KIP-734), whose timestamp the answer
	// gives in Stamp.
	ListAt int64
	Stamp  int64
	// LeaderEpoch is the leader epoch a read carried (-1: none).
	LeaderEpoch int32
	// HW and Records are what a fetch answered: the high watermark and the records at or
	// after the fetch offset. Next is the offset after its last whole batch: past
	// batches compaction emptied, which hold no record.
	HW      int64
	Records []LogRecord
	Next    int64
	// Isolation is a fetch's isolation level (1: read_committed). Hidden are the
	// offsets of the data records a read_committed fetch dropped as aborted (Records
	// keeps everything the answer held), and LSO the last stable offset it answered.
	Isolation int8
	Hidden    []int64
	LSO       int64
	// LogStart is the log start a read_committed fetch answered (the last stable offset
	// is never below it).
	LogStart int64
	// Aborted is what a read_committed answer listed: (producer id, first offset) pairs.
	Aborted [][2]int64

	// Transactions: the transactional id, the transaction's number in the run (unique,
	// from 1; 0 when none) of a produce, an EndTxn or a transactional offset commit,
	// and whether an EndTxn commits.
	TxnID  string
	Txn    int
	Commit bool

	// Group operations: the group, the member and its generation, what a join ended with,
	// what a commit wrote or an offset fetch read.
	Group      string
	Member     string
	Instance   string
	Generation int32
	Assigned   []TopicPartition
	Offsets    []PartitionOffset
	// Codes are an OffsetDelete's answers, one for each partition of Offsets.
	Codes []int16
	// Local is, for a commit, the earliest reading of any broker's clock at its
	// invocation: the commit's timestamp, from which its offset's retention may count,
	// is no earlier.
	Local int64

	// Credential operations: the user, the mechanism's SASL name, the password.
	User, Mechanism, Password string
	// ACL operations: the binding (an index of aclUniverse), whether it is removed, and
	// the access tried.
	Acl    int
	Delete bool
	Access string
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// PartitionOffset is one committed offset (-1: none).
type PartitionOffset struct {
	TopicPartition
	Offset int64
}

// key is the partition of a data operation.
func (o *Op) key() TopicPartition { return TopicPartition{o.Topic, o.Partition} }

func (o *Op) input() string {
	switch o.Kind {
	case OpCreate:
		return fmt.Sprintf("create %s partitions=%d rf=%d", o.Topic, o.Count, o.RF)
	case OpCreatePartitions:
		return fmt.Sprintf("create-partitions %s count=%d", o.Topic, o.Count)
	case OpDelete, OpDescribe:
		return fmt.Sprintf("%s %s", o.Kind, o.Topic)
	case OpProduce:
		idem := ""
		if o.Producer >= 0 {
			idem = fmt.Sprintf(" pid=%d/%d seq=%d", o.Producer, o.Epoch, o.Sequence)
		}
		if o.Txn > 0 {
			idem += fmt.Sprintf(" txn %d", o.Txn)
		}
		return fmt.Sprintf("produce %s/%d acks=%d%s %v", o.Topic, o.Partition, o.Acks, idem, o.Values)
	case OpFetch:
		iso := ""
		if o.Isolation == 1 {
			iso = " read_committed"
		}
		return fmt.Sprintf("fetch %s/%d at %d epoch %d%s", o.Topic, o.Partition, o.Offset, o.LeaderEpoch, iso)
	case OpInitProducerID:
		return fmt.Sprintf("init-producer-id %s", o.TxnID)
	case OpEndTxn:
		verb := "abort"
		if o.Commit {
			verb = "commit"
		}
		return fmt.Sprintf("end-txn %s txn %d %s pid=%d/%d", o.TxnID, o.Txn, verb, o.Producer, o.Epoch)
	case OpTxnOffsetCommit:
		return fmt.Sprintf("txn-offset-commit %s txn %d %s %v", o.TxnID, o.Txn, o.Group, o.Offsets)
	case OpTxnOffsetFetch:
		return fmt.Sprintf("txn-offset-fetch %s txn %d %s", o.TxnID, o.Txn, o.Group)
	case OpListOffsets:
		which := "latest"
		switch o.ListAt {
		case -2:
			which = "earliest"
		case -3:
			which = "max-timestamp"
		}
		if o.Isolation == 1 {
			which += " read_committed"
		}
		return fmt.Sprintf("list-offsets %s/%d %s", o.Topic, o.Partition, which)
	case OpJoin:
		return fmt.Sprintf("join %s as %q", o.Group, o.Instance)
	case OpCommit:
		return fmt.Sprintf("commit %s member %s generation %d %v", o.Group, o.Member, o.Generation, o.Offsets)
	case OpOffsetFetch:
		return fmt.Sprintf("offset-fetch %s", o.Group)
	case OpDeleteRecords:
		return fmt.Sprintf("delete-records %s/%d below %d", o.Topic, o.Partition, o.Offset)
	case OpSetCredential, OpAuthenticate:
		return fmt.Sprintf("%s %s %s password=%s", o.Kind, o.User, o.Mechanism, o.Password)
	case OpDeleteCredential:
		return fmt.Sprintf("%s %s %s", o.Kind, o.User, o.Mechanism)
	case OpAclChange:
		verb := "create"
		if o.Delete {
			verb = "delete"
		}
		return fmt.Sprintf("acl-%s %s %s", verb, o.User, aclUniverse[o.Acl].text)
	case OpAccess:
		return fmt.Sprintf("access %s %s", o.User, o.Access)
	case OpOffsetDelete:
		tps := make([]string, len(o.Offsets))
		for i, po := range o.Offsets {
			tps[i] = po.TopicPartition.String()
		}
		return fmt.Sprintf("offset-delete %s %v", o.Group, tps)
	}
	return o.Kind.String()
}

// Result is the operation's outcome as text: "ok", an error name, "indeterminate", or
// what a read returned.
func (o *Op) Result() string { return o.output() }

func (o *Op) output() string {
	switch o.Outcome {
	case Failed:
		if o.Code < 0 {
			return "not sent"
		}
		return errorName(o.Code)
	case Indeterminate, Pending:
		return o.Outcome.String()
	}
	switch o.Kind {
	case OpDescribe:
		if !o.Exists {
			return "absent"
		}
		return fmt.Sprintf("exists, %d partitions", o.Partitions)
	case OpListBrokers:
		return fmt.Sprintf("brokers %v", o.Brokers)
	case OpProduce:
		return fmt.Sprintf("ok at %d", o.Offset)
	case OpFetch:
		if o.Isolation == 1 {
			return fmt.Sprintf("hw %d lso %d, %d records %v, aborted transactions %v, dropped %v", o.HW, o.LSO, len(o.Records), o.Records, o.Aborted, o.Hidden)
		}
		return fmt.Sprintf("hw %d, %d records %v", o.HW, len(o.Records), o.Records)
	case OpInitProducerID:
		return fmt.Sprintf("pid %d epoch %d", o.Producer, o.Epoch)
	case OpTxnOffsetFetch:
		return fmt.Sprintf("%v", o.Offsets)
	case OpListOffsets:
		if o.ListAt == -3 {
			return fmt.Sprintf("offset %d timestamp %d", o.Offset, o.Stamp)
		}
		return fmt.Sprintf("offset %d", o.Offset)
	case OpJoin:
		return fmt.Sprintf("member %s generation %d assigned %v", o.Member, o.Generation, o.Assigned)
	case OpOffsetFetch:
		return fmt.Sprintf("%v", o.Offsets)
	case OpDeleteRecords:
		return fmt.Sprintf("low watermark %d", o.HW)
	case OpOffsetDelete:
		codes := make([]string, len(o.Codes))
		for i, c := range o.Codes {
			codes[i] = errorName(c)
		}
		return strings.Join(codes, " ")
	}
	return "ok"
}

func (o *Op) String() string {
	ret := "never"
	if o.Return != Never {
		ret = time.Duration(o.Return).String()
	}
	return fmt.Sprintf("op %d client %d [%v, %s] %s -> %s", o.ID, o.Client, time.Duration(o.Call), ret, o.input(), o.output())
}

// History is every operation of a run, in invocation order.
type History struct {
	Ops []*Op
}

// invoke records the start of an operation.
func (w *World) invoke(c *Client, op *Op) {
	op.ID = len(w.hist.Ops) + 1
	op.Client = c.id
	op.Call = w.now
	op.Node = -1
	if op.Kind == OpCommit || op.Kind == OpInitProducerID || op.Kind == OpEndTxn {
		op.Local = w.earliestBrokerClock()
	}
	w.hist.Ops = append(w.hist.Ops, op)
	if w.script != nil {
		w.script.invoked(c, op)
	}
	part := int32(-1)
	if op.Kind == OpProduce || op.Kind == OpFetch || op.Kind == OpListOffsets || op.Kind == OpDeleteRecords {
		part = op.Partition
	}
	w.record(traces.Event{Kind: traces.KindInvoke, Sub: 1, Node: -1, Peer: c.id, A: int64(op.ID), B: int64(op.Kind), Topic: op.Topic, Part: part},
		func() string { return fmt.Sprintf("op %d %s", op.ID, op.input()) })
}

// complete records the end of an operation.
func (w *World) complete(op *Op, outcome Outcome) {
	if op.Outcome != Pending {
		panic(fmt.Sprintf("sim: op %d completed twice", op.ID))
	}
	op.Outcome = outcome
	op.Return = w.now
	sub := traces.OpOK
	switch outcome {
	case Failed:
		sub = traces.OpFailed
	case Indeterminate:
		sub = traces.OpIndeterminate
		op.Return = Never
	}
	w.cov.Inc("op:" + op.Kind.String() + ":" + outcome.String())
	w.countWorkload(op)
	part := int32(-1)
	if op.Kind == OpProduce || op.Kind == OpFetch || op.Kind == OpListOffsets || op.Kind == OpDeleteRecords {
		part = op.Partition
	}
	w.record(traces.Event{Kind: traces.KindComplete, Sub: sub, Node: op.Node, Peer: op.Client, A: int64(op.ID), B: int64(op.Code), Topic: op.Topic, Part: part, Hash: op.digest()},
		func() string { return fmt.Sprintf("op %d %s -> %s", op.ID, op.input(), op.output()) })
}

// closeOpen makes every unfinished operation indeterminate at the end of a run.
func (h *History) closeOpen() {
	for _, op := range h.Ops {
		if op.Outcome == Pending {
			op.Outcome = Indeterminate
			op.Return = Never
		}
	}
}

// String lists the history, one operation per line.
func (h *History) String() string {
	var b strings.Builder
	for _, op := range h.Ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// digest hashes what an operation ended with, so that the fingerprint covers results
// and not only the events that led to them.
func (o *Op) digest() uint64 {
	if !o.Kind.IsData() {
		return 0
	}
	d := xxhash.New()
	var buf [8]byte
	put := func(v int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(v))
		_, _ = d.Write(buf[:])
	}
	put(o.Offset)
	put(o.HW)
	if o.ListAt == -3 {
		put(o.Stamp)
	}
	put(int64(o.Generation))
	for _, r := range o.Records {
		put(r.Offset)
		_, _ = d.WriteString(r.Value)
	}
	for _, h := range o.Hidden {
		put(h)
	}
	if o.Kind == OpInitProducerID {
		put(o.Producer)
		put(int64(o.Epoch))
	}
	for _, tp := range o.Assigned {
		_, _ = d.WriteString(tp.Topic)
		put(int64(tp.Partition))
	}
	for _, po := range o.Offsets {
		_, _ = d.WriteString(po.Topic)
		put(int64(po.Partition))
		put(po.Offset)
	}
	for _, c := range o.Codes {
		put(int64(c))
	}
	_, _ = d.WriteString(o.Member)
	return d.Sum64()
}
