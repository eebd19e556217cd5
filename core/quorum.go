package core

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/raft"
)

// metadataSnapshotRecordsDefault is how many committed metadata records pass between
// two snapshots of the image.
const metadataSnapshotRecordsDefault = 1000

// quorum is the node's member of the controller quorum (a voter or an observer) and the
// metadata image it applied from the committed log.
type quorum struct {
	raft  *raft.Raft
	image metadata.Image
	// applied is the offset after the last applied entry: the image reflects every
	// committed record below it. It may exceed image.Offset()+1 because control records
	// (leader changes) carry no metadata.
	applied int64
	// lastEpoch is the epoch of the last applied entry (a snapshot needs it).
	lastEpoch int32
	// sinceSnapshot counts records applied since the last snapshot was taken.
	sinceSnapshot int
	snapshotting  bool // a snapshot write is in flight
	// applyBuf is applyCommitted's room for the decoded entries, kept between calls.
	applyBuf []metadata.Entry
	// reads are read-index requests awaiting raft's answer, by id.
	reads    map[uint64]func(index int64, ok bool)
	nextRead uint64
}

// readsMax bounds the read-index requests a node has waiting on raft.
const readsMax = 4096

// readIndex asks raft for the committed offset a linearizable read must wait for and
// calls done with it once a majority confirmed this node still leads.
func (n *Node) readIndex(done func(index int64, ok bool)) {
	q := &n.quorum
	if len(q.reads) >= readsMax {
		done(0, false)
		return
	}
	if q.reads == nil {
		q.reads = map[uint64]func(int64, bool){}
	}
	q.nextRead++
	q.reads[q.nextRead] = done
	id := q.nextRead
	n.stepQuorum(func() { q.raft.ReadIndex(n.now, id) })
}

func (n *Node) startQuorum(now int64, rec disk.Recovered) error {
	q := &n.quorum
	restored := raft.Restored{
		QuorumState:     rec.Files[raft.QuorumStateFile],
		QuorumStateCopy: rec.Files[raft.QuorumStateCopyFile],
		Batches:         rec.Metadata,
	}
	if b, ok := rec.Files[raft.SnapshotFile]; ok {
		s, err := raft.DecodeSnapshotFile(b)
		var im metadata.Image
		if err == nil {
			im, err = metadata.DecodeSnapshot(s.Data)
		}
		if err != nil {
			// Raft starts over from an empty log, takes no part in elections until it has
			// caught up, and gets the leader's snapshot.
			restored.SnapshotLost = true
			n.note("quorum-snapshot-lost", err.Error())
		} else {
			restored.Snapshot = &s
			q.image, q.lastEpoch, q.applied = im, s.Epoch, s.EndOffset
		}
	}
	found := false
	for _, l := range rec.Logs {
		if l.ID == disk.MetadataLog {
			restored.StartOffset, found = l.StartOffset, true
		}
	}
	if !found {
		// A fresh disk: the log must exist before raft's first append reaches it.
		n.emitNodeOp(disk.Op{Kind: disk.CreateLog, Log: disk.MetadataLog}, "creating the metadata log")
	}
	t := n.cfg.Timing
	// raft.New may already emit ops (repairing an interrupted snapshot install), so the
	// quorum, not the raft it holds, owns them.
	prev := n.queue.SetOwner(q)
	defer n.queue.SetOwner(prev)
	r, err := raft.New(raft.Config{
		ID:                 n.cfg.NodeID,
		Voters:             n.cfg.Voters,
		ElectionTimeout:    t.ElectionTimeout,
		FetchMaxWait:       t.QuorumFetchMaxWait,
		FetchTimeout:       t.QuorumFetchTimeout,
		ClockDriftMax:      t.ClockDriftMax,
		FetchBytesMax:      n.cfg.QuorumFetchBytesMax,
		SnapshotChunkBytes: n.cfg.QuorumSnapshotChunkBytes,
		Rand:               rand.New(rand.NewPCG(n.rng.Uint64(), n.rng.Uint64())),
		Plants:             n.cfg.Plants,
		Queue:              &n.queue,
	}, restored)
	if err != nil {
		return err
	}
	q.raft = r
	n.stepQuorum(func() { r.Tick(now) })
	return nil
}

// emitNodeOp emits an op the node itself owns, whose failure stops the node.
func (n *Node) emitNodeOp(op disk.Op, what string) disk.OpID {
	prev := n.queue.SetOwner(func(d disk.Done) {
		if d.Err != nil {
			n.stop(fmt.Sprintf("%s: %v", what, d.Err))
		}
	})
	id := n.queue.Emit(op)
	n.queue.SetOwner(prev)
	return id
}

// stepQuorum runs fn, a call into raft, with raft owning the disk ops it emits.
func (n *Node) stepQuorum(fn func()) {
	prev := n.queue.SetOwner(&n.quorum)
	fn()
	n.queue.SetOwner(prev)
}

// drainQuorum acts on raft's outputs: messages go out, a snapshot installed from the
// leader replaces the image, committed entries are applied, and leadership changes reach
// the controller.
func (n *Node) drainQuorum(now int64) {
	q := &n.quorum
	rd := q.raft.Ready()
	for _, note := range rd.Notes {
		n.note("quorum-"+note.Kind, note.Text)
	}
	if rd.Fatal != nil {
		n.halt(fmt.Sprintf("metadata quorum: %v", rd.Fatal), errors.Is(rd.Fatal, raft.ErrBrokenInvariant))
		return
	}
	for _, env := range rd.Messages {
		n.send(env.To, encodeQuorum(env.Msg))
	}
	for _, r := range rd.Reads {
		if done := q.reads[r.ID]; done != nil {
			delete(q.reads, r.ID)
			done(r.Index, r.OK)
		}
	}
	if s := rd.Installed; s != nil {
		im, err := metadata.DecodeSnapshot(s.Data)
		if err != nil {
			n.stopBroken(fmt.Sprintf("installed metadata snapshot at %d: %v", s.EndOffset, err))
			return
		}
		q.image, q.lastEpoch, q.applied, q.sinceSnapshot = im, s.Epoch, s.EndOffset, 0
	}
	if len(rd.Committed) > 0 && !n.applyCommitted(rd.Committed) {
		return
	}
	if rd.Installed != nil || len(rd.Committed) > 0 {
		n.metadataChanged(now)
		n.maybeSnapshot()
	}
	n.ctrl.follow(n)
}

// applyCommitted applies committed entries to the image, as one batch: a topic the
// entries change is copied once, not once per entry (a broker coming back changes
// thousands of partitions of a topic in a row). An entry that does not decode or apply is
// a broken invariant: the controller validated it before proposing it.
func (n *Node) applyCommitted(entries []raft.Entry) bool {
	q := &n.quorum
	recs := q.applyBuf[:0]
	for _, e := range entries {
		q.lastEpoch = e.Epoch
		if e.Control {
			continue
		}
		rec, err := metadata.Decode(e.Data)
		if err != nil {
			n.stopBroken(fmt.Sprintf("committed metadata record at %d: %v", e.Offset, err))
			return false
		}
		recs = append(recs, metadata.Entry{Offset: e.Offset, Record: rec})
	}
	im, err := q.image.ApplyBatch(recs)
	clear(recs)
	q.applyBuf = recs[:0]
	if err != nil {
		n.stopBroken(fmt.Sprintf("committed metadata records at %d-%d: %v", entries[0].Offset, entries[len(entries)-1].Offset, err))
		return false
	}
	q.sinceSnapshot += len(recs)
	q.image, q.applied = im, entries[len(entries)-1].Offset+1
	n.aclsApplied()
	return true
}

// maybeSnapshot writes a snapshot of the image once enough records passed since the last
// one. Raft drops the log below a snapshot once it is durable.
func (n *Node) maybeSnapshot() {
	q := &n.quorum
	every := n.cfg.MetadataSnapshotRecords
	if every <= 0 {
		every = metadataSnapshotRecordsDefault
	}
	end := q.applied
	st := q.raft.Status()
	installing := st.Installing && !n.cfg.Plants.On(plant.SnapshotDuringInstall)
	if q.snapshotting || q.sinceSnapshot < every || end < st.StartOffset || installing {
		return
	}
	s := raft.Snapshot{EndOffset: end, Epoch: q.lastEpoch, Data: q.image.EncodeSnapshot()}
	q.snapshotting, q.sinceSnapshot = true, 0
	prev := n.queue.SetOwner(func(d disk.Done) {
		q.snapshotting = false
		if d.Err != nil {
			n.stop(fmt.Sprintf("writing the metadata snapshot: %v", d.Err))
			return
		}
		// A snapshot installed from the leader meanwhile may have moved the log start
		// past this one; raft keeps the newer.
		if s.EndOffset >= q.raft.Status().StartOffset {
			n.stepQuorum(func() { q.raft.SnapshotTaken(s) })
		}
	})
	n.queue.Emit(disk.Op{Kind: disk.WriteFile, Name: raft.SnapshotFile, Data: raft.EncodeSnapshotFile(s)})
	n.queue.SetOwner(prev)
}

// Quorum is the node's view of the controller quorum, for checkers and metrics.
func (n *Node) Quorum() raft.Status { return n.quorum.raft.Status() }

// QuorumEntries returns the metadata log entries in [from, to) the node holds in memory.
func (n *Node) QuorumEntries(from, to int64) []raft.Entry { return n.quorum.raft.Entries(from, to) }
