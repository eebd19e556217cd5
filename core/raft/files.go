package raft

import (
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/seedlog/seedlog/core/enc"
)

// The small files raft writes with disk.WriteFile, relative to the node's data directory.
const (
	QuorumStateFile = "quorum-state"
	SnapshotFile    = "metadata.snapshot"
)

const (
	quorumStateVersion  = 1
	snapshotFileVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadFile reports a quorum-state or snapshot file that does not decode. WriteFile is
// atomic, so this means the disk corrupted it.
var ErrBadFile = errors.New("raft: corrupt file")

// quorumState is what survives a restart besides the log: the epoch, the vote cast in it
// and the high watermark.
type quorumState struct {
	epoch    int32
	votedFor int32 // -1: no vote in epoch
	hw       int64
}

func emptyQuorumState() quorumState { return quorumState{votedFor: -1} }

func encodeQuorumState(s quorumState) []byte {
	w := enc.Writer{}
	w.U8(quorumStateVersion)
	w.I32(s.epoch)
	w.I32(s.votedFor)
	w.I64(s.hw)
	return appendCRC(w.B)
}

// decodeQuorumState decodes the file's contents; nil (no file) is the initial state.
func decodeQuorumState(b []byte) (quorumState, error) {
	if b == nil {
		return emptyQuorumState(), nil
	}
	body, err := checkCRC(b)
	if err != nil {
		return quorumState{}, fmt.Errorf("%s: %w", QuorumStateFile, err)
	}
	r := enc.Reader{B: body}
	if v := r.U8(); v != quorumStateVersion && r.Err() == nil {
		return quorumState{}, fmt.Errorf("%s: version %d: %w", QuorumStateFile, v, ErrBadFile)
	}
	s := quorumState{epoch: r.I32(), votedFor: r.I32(), hw: r.I64()}
	if err := r.Done(); err != nil {
		return quorumState{}, fmt.Errorf("%s: %w: %w", QuorumStateFile, ErrBadFile, err)
	}
	if s.epoch < 0 || s.votedFor < -1 || s.hw < 0 {
		return quorumState{}, fmt.Errorf("%s: epoch %d, vote %d, hw %d: %w", QuorumStateFile, s.epoch, s.votedFor, s.hw, ErrBadFile)
	}
	return s, nil
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
