package sim

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/raft"
	"github.com/seedlog/seedlog/disksim"
)

// snapshotFileTruth reads a node's metadata snapshot file as its disk has synced it. A
// quorum member drops its log below a snapshot only once the snapshot is durable, so the
// durable file must always reach the log start the member works from: were it older, a
// crash would leave the entries between the two nowhere (a snapshot written by the node
// completing after one installed from the leader did that).
type snapshotFileTruth struct {
	inode, gen uint64 // of the file last read; gen 0: none read
	end        int64  // its snapshot's end offset, -1 when it does not decode
	buf        []byte // the last file read, its array kept for the next read
}

// snapshotDamaged marks a durable snapshot file that does not decode: damage at rest,
// which the node detects when it restarts (raft's SnapshotLost), not a write out of order.
const snapshotDamaged = -1

// check checks the durable snapshot file of fs against the log start.
func (s *snapshotFileTruth) check(fs *disksim.FS, start int64) error {
	if start == 0 {
		return nil
	}
	st, ok := fs.StatDurable(raft.SnapshotFile)
	if !ok {
		// No file is certain: a new one is being renamed into place (WriteFileAtomic), or
		// none was written. Either way the log start moved, or moves, only after a snapshot
		// write that is checked here once it settles.
		return nil
	}
	if st.Inode != s.inode || st.Gen != s.gen || s.gen == 0 {
		b := slices.Grow(s.buf[:0], int(st.Size))[:st.Size]
		s.buf = b
		b = b[:fs.ReadDurable(raft.SnapshotFile, b, 0)]
		s.inode, s.gen, s.end = st.Inode, st.Gen, snapshotDamaged
		if snap, err := raft.DecodeSnapshotFile(b); err == nil {
			s.end = snap.EndOffset
		}
	}
	if s.end != snapshotDamaged && s.end < start {
		return fmt.Errorf("the metadata log starts at %d, but the durable snapshot file ends at %d", start, s.end)
	}
	return nil
}
