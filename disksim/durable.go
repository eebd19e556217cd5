package disksim

import (
	"path"
	"strings"
)

// What every crash keeps, for checkers that compare what a node claims is durable with
// what the disk would give back after a power loss whatever the crash draws.
//
// A directory entry is certain when its current and durable values agree (a pending
// change may be reverted or kept). A file's durable bytes are certain below its
// durable size, and below the smallest size a Truncate set since its last Sync (a
// crash may keep that truncation). Reading them does not touch the fault stream.

// DurableStat describes the certain durable contents of one file.
type DurableStat struct {
	// Inode identifies the file within this FS; Gen changes whenever a Sync or a fault
	// may have changed durable bytes in place (see fileData.durGen). While both stay
	// the same, durable bytes read before are still there, unchanged.
	Inode uint64
	Gen   uint64
	// Size is how many bytes from the start every crash keeps.
	Size int64
}

// lookupCertain resolves name through entries every crash keeps.
func (f *FS) lookupCertain(name string) (*inode, bool) {
	c, ok := clean(name)
	if !ok {
		return nil, false
	}
	n := f.inodes[rootID]
	if c == "." {
		return n, true
	}
	for part := range strings.SplitSeq(c, "/") {
		if !n.isDir() {
			return nil, false
		}
		// A durable entry that is not pending is the current entry too (see dirData).
		id, ok := n.dir.dur[part]
		if !ok || n.dir.isPending(part) {
			return nil, false
		}
		n = f.inodes[id]
	}
	return n, true
}

// StatDurable describes what every crash keeps of file name; false when a crash may
// leave no such file.
func (f *FS) StatDurable(name string) (DurableStat, bool) {
	n, ok := f.lookupCertain(name)
	if !ok || n.isDir() {
		return DurableStat{}, false
	}
	fd := n.file
	size := fd.dur.size
	if fd.truncated {
		size = min(size, fd.truncFloor)
	}
	return DurableStat{Inode: uint64(n.id), Gen: fd.durGen, Size: size}, true
}

// ReadDurable reads into p, from off, the bytes of file name that every crash keeps, and
// returns how many it read (short at the end of them, 0 when the file may vanish).
func (f *FS) ReadDurable(name string, p []byte, off int64) int {
	st, ok := f.StatDurable(name)
	if !ok || off >= st.Size || off < 0 {
		return 0
	}
	fd := f.inodes[inodeID(st.Inode)].file
	n := int(min(int64(len(p)), st.Size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		k, in := pos/BlockSize, int(pos%BlockSize)
		step := min(BlockSize-in, n-done)
		if b := fd.dur.blocks[k]; b != nil {
			copy(p[done:done+step], b[in:in+step])
		} else {
			clear(p[done : done+step])
		}
		done += step
	}
	return n
}

// ListDurable returns, sorted, the names in directory dir that every crash keeps.
func (f *FS) ListDurable(dir string) []string {
	return f.AppendDurable(nil, dir, "")
}

// AppendDurable appends to dst, sorted, the names in directory dir that every crash
// keeps and that end in suffix: a checker that keeps a listing of some files reads
// only those.
func (f *FS) AppendDurable(dst []string, dir, suffix string) []string {
	n, ok := f.lookupCertain(path.Clean(dir))
	if !ok || !n.isDir() {
		return dst
	}
	d := n.dir
	if d.durNames == nil {
		d.durNames = sortedNames(d.dur)
	}
	// A durable entry that is not pending is the current entry too (see dirData).
	for _, name := range d.durNames {
		if strings.HasSuffix(name, suffix) && !d.isPending(name) {
			dst = append(dst, name)
		}
	}
	return dst
}

// DirGen is a generation of directory dir's entries, resolved as ListDurable resolves
// it: while it stays the same, so does what ListDurable returns.
func (f *FS) DirGen(dir string) (uint64, bool) {
	n, ok := f.lookupCertain(path.Clean(dir))
	if !ok || !n.isDir() {
		return 0, false
	}
	return n.dir.gen, true
}
