package disksim

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// Stats counts the faults an FS injected and the decisions its crashes made, so that a
// simulator can report which failure paths a run exercised. A post-crash FS carries on
// the counts of the FS it replaced.
type Stats struct {
	WriteEIO       int64 // WriteAt failures with EIO, one-shots included
	SyncEIO        int64 // File.Sync failures with EIO, one-shots included
	SyncDirEIO     int64
	ENOSPCCapacity int64 // writes refused because Faults.CapacityBytes was reached
	ENOSPCRandom   int64
	LostBytes      int64 // bytes marked lost by failed Syncs

	ReadCorruptions    int64 // ReadAt calls that returned a flipped bit
	AtRestCorruptions  int64 // CorruptAtRest and CorruptRandom calls that changed a file
	AtRestCorruptBytes int64

	Crashes           int64
	BlocksKept        int64 // unsynced blocks that survived whole
	BlocksDropped     int64
	BlocksTorn        int64
	EntriesKept       int64 // unsynced directory entries that survived
	EntriesReverted   int64
	TruncatesKept     int64
	TruncatesReverted int64
	DirEntriesDropped int64 // entries dropped because their directory was already reachable
}

// Stats returns the counts so far.
func (f *FS) Stats() Stats { return f.stats }

// FailNextSync makes the next Sync of the file now named name fail with EIO, whichever
// name it is opened or synced under.
func (f *FS) FailNextSync(name string) error {
	fd, err := f.fileNamed("sync", name)
	if err != nil {
		return err
	}
	fd.failNextSync = true
	return nil
}

// FailNextWrite makes the next WriteAt to the file now named name fail with EIO.
func (f *FS) FailNextWrite(name string) error {
	fd, err := f.fileNamed("write", name)
	if err != nil {
		return err
	}
	fd.failNextWrite = true
	return nil
}

func (f *FS) fileNamed(op, name string) (*fileData, error) {
	f.mustLive()
	n, err := f.lookup(op, name)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, pathErr(op, name, syscall.EISDIR)
	}
	return n.file, nil
}

// CorruptAtRest flips one bit, chosen from the FS's random stream, in each of the n bytes
// at off of file name, in both its durable and its current image (each within its own
// size). It models media decay that a later read will meet.
func (f *FS) CorruptAtRest(name string, off int64, n int) error {
	fd, err := f.fileNamed("corrupt", name)
	if err != nil {
		return err
	}
	if off < 0 || n < 0 {
		return pathErr("corrupt", name, syscall.EINVAL)
	}
	f.corrupt(fd, off, n, f.rng)
	return nil
}

// LoseAtRest makes the n bytes at off of file name read back as zeros, in both its
// durable and its current image (each within its own size): a sector the device lost
// after it was written and synced. Only bytes that change count in Stats.
func (f *FS) LoseAtRest(name string, off int64, n int) error {
	fd, err := f.fileNamed("lose", name)
	if err != nil {
		return err
	}
	if off < 0 || n < 0 {
		return pathErr("lose", name, syscall.EINVAL)
	}
	n = int(max(0, min(int64(n), max(fd.cur.size, fd.dur.size)-off)))
	masks := make([]byte, n)
	changed := false
	for i := range masks {
		// XOR with the byte itself zeroes it: take the current byte, or the durable one
		// where the current image is shorter.
		pos := off + int64(i)
		switch {
		case pos < fd.cur.size:
			masks[i] = fd.cur.byteAt(pos/BlockSize, int(pos%BlockSize))
		case pos < fd.dur.size:
			masks[i] = fd.dur.byteAt(pos/BlockSize, int(pos%BlockSize))
		}
		changed = changed || masks[i] != 0
	}
	if !changed {
		return nil
	}
	end := off + int64(n)
	for k := off / BlockSize; k*BlockSize < end; k++ {
		corruptBlock(fd, k, off, masks)
	}
	f.stats.AtRestCorruptions++
	f.stats.AtRestCorruptBytes += int64(n)
	return nil
}

// Corruption describes one CorruptRandom.
type Corruption struct {
	Name  string
	Off   int64
	Bytes int
}

func (c Corruption) String() string {
	return fmt.Sprintf("corrupt %s [%d,+%d)", c.Name, c.Off, c.Bytes)
}

// corruptBytesMax bounds one random corruption: a few bytes, like a bad sector read back
// with a wrong bit or two, rather than a wiped file.
const corruptBytesMax = 8

// CorruptRandom corrupts 1 to 8 bytes at a random place of a random non-empty file,
// drawing everything from rng. The simulator calls it within its fault budget. It
// reports false if there is no non-empty file.
func (f *FS) CorruptRandom(rng *rand.Rand) (Corruption, bool) {
	f.mustLive()
	var names []string
	var files []*fileData
	f.walkFiles(func(name string, n *inode) {
		if n.file.cur.size > 0 {
			names = append(names, name)
			files = append(files, n.file)
		}
	})
	if len(files) == 0 {
		return Corruption{}, false
	}
	i := rng.IntN(len(files))
	fd := files[i]
	off := rng.Int64N(fd.cur.size)
	n := 1 + rng.IntN(int(min(fd.cur.size-off, corruptBytesMax)))
	f.corrupt(fd, off, n, rng)
	return Corruption{Name: names[i], Off: off, Bytes: n}, true
}

// walkFiles calls fn for each file of the current tree under its first name in sorted
// walk order.
func (f *FS) walkFiles(fn func(name string, n *inode)) {
	seen := map[inodeID]bool{}
	var walk func(prefix string, dir *inode)
	walk = func(prefix string, dir *inode) {
		for _, name := range sortedNames(dir.dir.cur) {
			n := f.inodes[dir.dir.cur[name]]
			if seen[n.id] {
				continue
			}
			seen[n.id] = true
			if n.isDir() {
				walk(prefix+name+"/", n)
			} else {
				fn(prefix+name, n)
			}
		}
	}
	walk("", f.inodes[rootID])
}

func (f *FS) corrupt(fd *fileData, off int64, n int, rng *rand.Rand) {
	n = int(max(0, min(int64(n), max(fd.cur.size, fd.dur.size)-off)))
	masks := make([]byte, n)
	for i := range masks {
		masks[i] = 1 << rng.IntN(8)
	}
	end := off + int64(n)
	changed := false
	for k := off / BlockSize; k*BlockSize < end; k++ {
		if corruptBlock(fd, k, off, masks) {
			changed = true
		}
	}
	if changed {
		f.stats.AtRestCorruptions++
		f.stats.AtRestCorruptBytes += int64(n)
	}
}

// corruptBlock applies masks (which start at file offset off) to block k of both images.
// A clean current block that shares the durable block keeps sharing its corrupted copy.
func corruptBlock(fd *fileData, k, off int64, masks []byte) bool {
	start := k * BlockSize
	flip := func(b *block, size int64) bool {
		hit := false
		for i := range BlockSize {
			pos := start + int64(i)
			if pos >= size {
				break
			}
			if j := pos - off; j >= 0 && j < int64(len(masks)) {
				b[i] ^= masks[j]
				hit = true
			}
		}
		return hit
	}
	oldDur := fd.dur.blocks[k]
	newDur := copyBlock(oldDur)
	durHit := flip(newDur, fd.dur.size)
	if durHit {
		fd.dur.blocks[k] = newDur
		fd.durGen++ // durable bytes changed in place
	}
	if _, dirty := fd.dirty[k]; dirty {
		return flip(fd.cur.blocks[k], fd.cur.size) || durHit
	}
	cb := fd.cur.blocks[k]
	if durHit && cb == oldDur && fd.cur.size == fd.dur.size {
		fd.cur.blocks[k] = newDur
		return true
	}
	nb := copyBlock(cb)
	if !flip(nb, fd.cur.size) {
		return durHit
	}
	// The current block now differs from the durable one, so it is private and dirty.
	fd.cur.blocks[k] = nb
	fd.dirty[k] = struct{}{}
	return true
}

func copyBlock(b *block) *block {
	nb := new(block)
	if b != nil {
		*nb = *b
	}
	return nb
}

// Latency draws the duration of an operation on bytes bytes from the FS's random stream.
// The simulator schedules the completion; disksim itself keeps no clock.
func (f *FS) Latency(op OpKind, bytes int) time.Duration {
	f.mustLive()
	d := f.cfg.Latency.dist(op)
	t := d.Base + time.Duration(int64(d.PerKiB)*int64(max(bytes, 0))/1024)
	if d.Jitter > 0 {
		t += time.Duration(f.rng.Int64N(int64(d.Jitter) + 1))
	}
	if chance(f.rng, d.TailProb) {
		tail := time.Duration(f.rng.ExpFloat64() * float64(d.TailMean))
		if d.TailMax > 0 {
			tail = min(tail, d.TailMax)
		}
		t += tail
	}
	return t
}
