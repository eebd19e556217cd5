package raft

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/seedlog/seedlog/core/enc"
)

// The small files raft writes with disk.WriteFile, relative to the node's data directory.
// The quorum state is written twice, to QuorumStateFile and then QuorumStateCopyFile, so
// that one copy damaged at rest leaves the other.
const (
	QuorumStateFile     = "quorum-state"
	QuorumStateCopyFile = "quorum-state.1"
	SnapshotFile        = "metadata.snapshot"
)

const (
	quorumStateVersion  = 2
	snapshotFileVersion = 1
)

// noVotes as a vote floor means the member does not know which epochs it voted in, so it
// grants no vote at all.
const noVotes = math.MaxInt32

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadFile reports a quorum-state or snapshot file that does not decode. WriteFile is
// atomic, so this means the disk corrupted it.
var ErrBadFile = errors.New("raft: corrupt file")

// quorumState is what survives a restart besides the log.
type quorumState struct {
	epoch    int32
	votedFor int32 // -1: no vote in epoch
	hw       int64
	// acked is the log end this member last acknowledged as durable: a voter never
	// fetches from beyond it, and a leader never counts itself beyond it. A log that
	// restarts shorter lost acknowledged entries.
	acked int64
	// recovering: the member lost acknowledged entries, its snapshot or its quorum state
	// and has not caught up with a leader since; it neither votes nor stands.
	recovering bool
	// recoverAcked is, while recovering, the acknowledged end it lost data below; -1 when
	// that is unknown (the quorum state itself was lost).
	recoverAcked int64
	// voteFloor: votes are granted only in epochs above it (noVotes: in none).
	voteFloor int32
}

func emptyQuorumState() quorumState { return quorumState{votedFor: -1} }

func encodeQuorumState(s quorumState, seq uint64) []byte {
	w := enc.Writer{}
	w.U8(quorumStateVersion)
	w.U64(seq)
	w.I32(s.epoch)
	w.I32(s.votedFor)
	w.I64(s.hw)
	w.I64(s.acked)
	w.Bool(s.recovering)
	w.I64(s.recoverAcked)
	w.I32(s.voteFloor)
	return appendCRC(w.B)
}

// decodeQuorumState decodes one copy and the write sequence number it carries.
func decodeQuorumState(b []byte) (quorumState, uint64, error) {
	body, err := checkCRC(b)
	if err != nil {
		return quorumState{}, 0, err
	}
	r := enc.Reader{B: body}
	if v := r.U8(); v != quorumStateVersion && r.Err() == nil {
		return quorumState{}, 0, fmt.Errorf("version %d: %w", v, ErrBadFile)
	}
	seq := r.U64()
	s := quorumState{epoch: r.I32(), votedFor: r.I32(), hw: r.I64(), acked: r.I64(),
		recovering: r.Bool(), recoverAcked: r.I64(), voteFloor: r.I32()}
	if err := r.Done(); err != nil {
		return quorumState{}, 0, fmt.Errorf("%w: %w", ErrBadFile, err)
	}
	if s.epoch < 0 || s.votedFor < -1 || s.hw < 0 || s.acked < 0 || s.recoverAcked < -1 || s.voteFloor < 0 {
		return quorumState{}, 0, fmt.Errorf("epoch %d, vote %d, hw %d, acked %d: %w", s.epoch, s.votedFor, s.hw, s.acked, ErrBadFile)
	}
	return s, seq, nil
}

// loadedQuorumState is what the two copies of the quorum state yield at start-up.
type loadedQuorumState struct {
	qs  quorumState // the state to start from
	seq uint64
	// durable is what both copies guarantee: the older of two intact copies, which an
	// undetectable loss of the newer would fall back to.
	durable quorumState
	// rewrite: the copies differ or one is damaged, so both are to be written again.
	rewrite bool
	fresh   bool   // neither copy exists
	lost    bool   // copies exist and none decodes
	why     string // what was wrong with the copies, for a note
}

// loadQuorumState picks the state to start from. Both copies are written in order and a
// state is acted on only once both are, so any one intact copy is at least the state last
// acted on; of two, the newer (epoch, then write sequence) wins.
func loadQuorumState(first, second []byte) loadedQuorumState {
	if first == nil && second == nil {
		return loadedQuorumState{qs: emptyQuorumState(), durable: emptyQuorumState(), fresh: true}
	}
	type copyState struct {
		qs  quorumState
		seq uint64
	}
	var good []copyState
	var out loadedQuorumState
	for i, b := range [][]byte{first, second} {
		name := [...]string{QuorumStateFile, QuorumStateCopyFile}[i]
		if b == nil {
			out.why += name + " absent; "
			continue
		}
		qs, seq, err := decodeQuorumState(b)
		if err != nil {
			out.why += fmt.Sprintf("%s: %v; ", name, err)
			continue
		}
		good = append(good, copyState{qs, seq})
	}
	switch len(good) {
	case 0:
		out.lost = true
		return out
	case 1:
		out.qs, out.seq, out.durable, out.rewrite = good[0].qs, good[0].seq, good[0].qs, true
		return out
	}
	a, b := good[0], good[1]
	if b.qs.epoch > a.qs.epoch || (b.qs.epoch == a.qs.epoch && b.seq > a.seq) {
		a, b = b, a
	}
	out.qs, out.seq, out.durable = a.qs, a.seq, b.qs
	out.rewrite = a.seq != b.seq || a.qs != b.qs
	return out
}

// EncodeSnapshotFile is the content of SnapshotFile for s. The node writes its own
// snapshots in this format too, so that recovery finds one kind of file whoever wrote it.
func EncodeSnapshotFile(s Snapshot) []byte {
	w := enc.Writer{B: make([]byte, 0, len(s.Data)+32)}
	w.U8(snapshotFileVersion)
	w.I64(s.EndOffset)
	w.I32(s.Epoch)
	w.Bytes(s.Data)
	return appendCRC(w.B)
}

// DecodeSnapshotFile decodes what EncodeSnapshotFile wrote. Data aliases b.
func DecodeSnapshotFile(b []byte) (Snapshot, error) {
	body, err := checkCRC(b)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", SnapshotFile, err)
	}
	r := enc.Reader{B: body}
	if v := r.U8(); v != snapshotFileVersion && r.Err() == nil {
		return Snapshot{}, fmt.Errorf("%s: version %d: %w", SnapshotFile, v, ErrBadFile)
	}
	s := Snapshot{EndOffset: r.I64(), Epoch: r.I32(), Data: r.Bytes()}
	if err := r.Done(); err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w: %w", SnapshotFile, ErrBadFile, err)
	}
	if s.EndOffset < 0 || s.Epoch < 0 {
		return Snapshot{}, fmt.Errorf("%s: end offset %d, epoch %d: %w", SnapshotFile, s.EndOffset, s.Epoch, ErrBadFile)
	}
	return s, nil
}

func appendCRC(b []byte) []byte {
	w := enc.Writer{B: b}
	w.I32(int32(crc32.Checksum(b, castagnoli)))
	return w.B
}

func checkCRC(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadFile, len(b))
	}
	body := b[:len(b)-4]
	r := enc.Reader{B: b[len(b)-4:]}
	if uint32(r.I32()) != crc32.Checksum(body, castagnoli) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadFile)
	}
	return body, nil
}
