package disksim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Clone returns an independent deep copy of f, including the position of its fault
// stream, so that the copy behaves exactly as f would from here on. Open Files are not
// copied: files that only an open File kept alive are absent from the copy.
func (f *FS) Clone() *FS {
	f.mustLive()
	src := *f.src
	c := &FS{
		src: &src, rng: rand.New(&src), cfg: f.cfg, stats: f.stats,
		inodes:    make(map[inodeID]*inode, len(f.inodes)),
		nextInode: f.nextInode, nextChange: f.nextChange, nextGen: f.nextGen,
	}
	for id, n := range f.inodes {
		cn := &inode{id: id, curLinks: n.curLinks, durLinks: n.durLinks}
		if n.file != nil {
			cn.file = n.file.clone(&c.pool)
		} else {
			cn.dir = &dirData{cur: cloneMap(n.dir.cur), dur: cloneMap(n.dir.dur), pending: cloneMap(n.dir.pending), gen: n.dir.gen}
		}
		c.inodes[id] = cn
	}
	for _, id := range sortedIDs(c.inodes) {
		if n, ok := c.inodes[id]; ok {
			c.release(n) // frees what only open Files held; counts the rest
		}
	}
	return c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func sortedIDs(m map[inodeID]*inode) []inodeID {
	ids := make([]inodeID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// UnsyncedBytes is the number of bytes a crash could still change: the bytes, within each
// file's current size, of every block written since its last successful Sync or holding
// bytes lost to a failed Sync. It counts whole blocks, and removed files that an open File
// or a durable entry still holds.
func (f *FS) UnsyncedBytes() int64 {
	var n int64
	for _, id := range sortedIDs(f.inodes) {
		if fd := f.inodes[id].file; fd != nil {
			n += fd.unsyncedBytes()
		}
	}
	return n
}

// Digest fingerprints the durable and the current state: both directory trees and the
// contents, unsynced blocks, lost bytes and pending truncates of every file they reach.
// It depends on the structure, not on inode numbers, and is stable across runs and
// platforms. Equal digests mean equal crash behaviour for equal random draws.
func (f *FS) Digest() uint64 {
	d := digester{h: xxhash.New(), fs: f, labels: map[inodeID]uint64{}, changes: map[changeID]uint64{}}
	d.tree(func(dd *dirData) map[string]inodeID { return dd.cur })
	d.tree(func(dd *dirData) map[string]inodeID { return dd.dur })
	for i := 0; i < len(d.order); i++ {
		d.inode(d.order[i])
	}
	return d.h.Sum64()
}

type digester struct {
	h       *xxhash.Digest
	fs      *FS
	labels  map[inodeID]uint64 // inode -> order of first visit
	order   []*inode
	changes map[changeID]uint64 // pending change -> order of first visit
}

func (d *digester) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	d.h.Write(b[:])
}

func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	d.h.WriteString(s)
}

func (d *digester) label(n *inode) uint64 {
	l, ok := d.labels[n.id]
	if !ok {
		l = uint64(len(d.order))
		d.labels[n.id] = l
		d.order = append(d.order, n)
	}
	return l
}

// tree hashes one view of the directory tree, entering each directory once.
func (d *digester) tree(view func(*dirData) map[string]inodeID) {
	entered := map[inodeID]bool{}
	var walk func(dir *inode)
	walk = func(dir *inode) {
		entered[dir.id] = true
		entries := view(dir.dir)
		d.u64(d.label(dir))
		d.u64(uint64(len(entries)))
		for _, name := range sortedNames(entries) {
			child := d.fs.inodes[entries[name]]
			d.str(name)
			d.u64(d.label(child))
			if child.isDir() && !entered[child.id] {
				walk(child)
			}
		}
	}
	walk(d.fs.inodes[rootID])
}

func (d *digester) inode(n *inode) {
	d.u64(d.label(n))
	if n.dir != nil {
		d.str("dir")
		for _, name := range sortedNames(n.dir.pending) {
			ch := n.dir.pending[name]
			l, ok := d.changes[ch]
			if !ok {
				l = uint64(len(d.changes))
				d.changes[ch] = l
			}
			d.str(name)
			d.u64(l)
		}
		return
	}
	fd := n.file
	d.str("file")
	d.image(&fd.cur)
	d.image(&fd.dur)
	for _, k := range sortedKeys(fd.dirty) {
		d.u64(uint64(k))
	}
	d.str("lost")
	for _, k := range sortedKeys(fd.lost) {
		d.u64(uint64(k))
		for _, w := range fd.lost[k] {
			d.u64(w)
		}
	}
	d.str("trunc")
	d.u64(uint64(bool01(fd.truncated)))
	d.u64(uint64(fd.truncFloor))
	d.u64(uint64(fd.truncLast))
	d.u64(uint64(bool01(fd.failNextSync)<<1 | bool01(fd.failNextWrite)))
}

// image hashes a size and the non-zero blocks, so that a missing block and a zero block
// hash alike.
func (d *digester) image(im *image) {
	d.u64(uint64(im.size))
	var zero block
	for _, k := range sortedKeys(im.blocks) {
		if b := im.blocks[k]; *b != zero {
			d.u64(uint64(k))
			d.h.Write(b[:])
		}
	}
	d.str("end")
}

func bool01(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DumpTree renders the current tree for a person: each file with its current and durable
// size, unsynced and lost bytes, and each entry whose change is not yet durable.
func (f *FS) DumpTree() string {
	var sb strings.Builder
	sb.WriteString("/\n")
	f.dumpDir(&sb, f.inodes[rootID], 1, map[inodeID]bool{rootID: true})
	return sb.String()
}

func (f *FS) dumpDir(sb *strings.Builder, dir *inode, depth int, entered map[inodeID]bool) {
	d := dir.dir
	names := sortedNames(d.cur)
	for name := range d.dur {
		if _, ok := d.cur[name]; !ok {
			names = append(names, name)
		}
	}
	names = sortedUnique(names)
	indent := strings.Repeat("  ", depth)
	for _, name := range names {
		id, inCur := d.cur[name]
		note := entryNote(d, name)
		if !inCur {
			fmt.Fprintf(sb, "%s%s%s\n", indent, name, note)
			continue
		}
		n := f.inodes[id]
		if n.isDir() {
			fmt.Fprintf(sb, "%s%s/%s\n", indent, name, note)
			if !entered[id] {
				entered[id] = true
				f.dumpDir(sb, n, depth+1, entered)
			}
			continue
		}
		fd := n.file
		lost := 0
		for _, m := range fd.lost {
			lost += m.count()
		}
		fmt.Fprintf(sb, "%s%s size=%d durable=%d unsynced=%d lost=%d", indent, name, fd.cur.size, fd.dur.size, fd.unsyncedBytes(), lost)
		if fd.truncated {
			fmt.Fprintf(sb, " truncated(floor=%d last=%d)", fd.truncFloor, fd.truncLast)
		}
		fmt.Fprintf(sb, "%s\n", note)
	}
}

func entryNote(d *dirData, name string) string {
	curID, inCur := d.cur[name]
	durID, inDur := d.dur[name]
	switch {
	case inCur && inDur && curID == durID:
		return ""
	case inCur && !inDur:
		return " [new entry, not synced]"
	case !inCur:
		return " [removed, not synced]"
	}
	return " [replaced, not synced]"
}

// CheckInvariants verifies the FS's internal consistency in O(size of the FS). It is
// meant for tests and for the simulator's expensive checks.
func (f *FS) CheckInvariants() error {
	curLinks, durLinks := map[inodeID]int{}, map[inodeID]int{}
	for _, id := range sortedIDs(f.inodes) {
		n := f.inodes[id]
		if (n.file == nil) == (n.dir == nil) {
			return fmt.Errorf("inode %d is neither exactly a file nor a directory", id)
		}
		if n.dir == nil {
			continue
		}
		if err := f.checkDir(n, curLinks, durLinks); err != nil {
			return err
		}
	}
	var used int64
	for _, id := range sortedIDs(f.inodes) {
		n := f.inodes[id]
		if id != rootID && (n.curLinks != curLinks[id] || n.durLinks != durLinks[id]) {
			return fmt.Errorf("inode %d: links %d/%d, entries %d/%d", id, n.curLinks, n.durLinks, curLinks[id], durLinks[id])
		}
		if id != rootID && n.curLinks == 0 && n.durLinks == 0 && n.opens == 0 {
			return fmt.Errorf("inode %d is unreferenced but not freed", id)
		}
		if n.opens < 0 {
			return fmt.Errorf("inode %d: %d opens", id, n.opens)
		}
		if n.file == nil {
			continue
		}
		if n.counted != (n.curLinks > 0 || n.opens > 0) {
			return fmt.Errorf("inode %d: counted=%v with %d links and %d opens", id, n.counted, n.curLinks, n.opens)
		}
		if n.counted {
			used += n.file.cur.size
		}
		if err := n.file.check(); err != nil {
			return fmt.Errorf("inode %d: %w", id, err)
		}
	}
	if used != f.usedBytes {
		return fmt.Errorf("usedBytes %d, files add up to %d", f.usedBytes, used)
	}
	return nil
}

func (f *FS) checkDir(n *inode, curLinks, durLinks map[inodeID]int) error {
	d := n.dir
	for _, name := range sortedNames(d.cur) {
		if _, ok := f.inodes[d.cur[name]]; !ok {
			return fmt.Errorf("dir %d: entry %q names freed inode", n.id, name)
		}
		curLinks[d.cur[name]]++
	}
	for _, name := range sortedNames(d.dur) {
		if _, ok := f.inodes[d.dur[name]]; !ok {
			return fmt.Errorf("dir %d: durable entry %q names freed inode", n.id, name)
		}
		durLinks[d.dur[name]]++
	}
	for _, name := range append(sortedNames(d.cur), sortedNames(d.dur)...) {
		curID, inCur := d.cur[name]
		durID, inDur := d.dur[name]
		_, pending := d.pending[name]
		if differs := inCur != inDur || curID != durID; differs != pending {
			return fmt.Errorf("dir %d: entry %q differs=%v pending=%v", n.id, name, differs, pending)
		}
	}
	if len(d.pending) > len(d.cur)+len(d.dur) {
		return fmt.Errorf("dir %d: stale pending entries", n.id)
	}
	if d.durNames != nil && !slices.Equal(d.durNames, sortedNames(d.dur)) {
		return fmt.Errorf("dir %d: listed durable names %q, durable entries %q", n.id, d.durNames, sortedNames(d.dur))
	}
	return nil
}

func (fd *fileData) check() error {
	for _, im := range []*image{&fd.cur, &fd.dur} {
		if err := im.check(); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(fd.cur.blocks) {
		if _, dirty := fd.dirty[k]; !dirty && fd.cur.blocks[k] != fd.dur.blocks[k] {
			return fmt.Errorf("clean block %d not shared with the durable image", k)
		}
	}
	for _, k := range sortedKeys(fd.dirty) {
		if fd.cur.blocks[k] == nil {
			return fmt.Errorf("dirty block %d missing", k)
		}
		if fd.cur.blocks[k] == fd.dur.blocks[k] {
			return fmt.Errorf("dirty block %d shared with the durable image", k)
		}
	}
	for _, k := range sortedKeys(fd.lost) {
		if _, dirty := fd.dirty[k]; !dirty {
			return fmt.Errorf("lost block %d not dirty", k)
		}
		m := fd.lost[k]
		if m.count() == 0 {
			return fmt.Errorf("lost block %d has an empty mask", k)
		}
		for i := fd.blockLimit(k); i < BlockSize; i++ {
			if m.has(i) {
				return fmt.Errorf("lost byte %d of block %d beyond the size", i, k)
			}
		}
	}
	for _, k := range sortedKeys(fd.holes) {
		if fd.dur.blocks[k] == nil {
			return fmt.Errorf("hole %d has no durable block", k)
		}
	}
	if fd.truncated && !(fd.truncFloor <= fd.truncLast && fd.truncLast <= fd.cur.size && fd.truncFloor <= fd.dur.size) {
		return fmt.Errorf("truncate floor %d last %d with sizes %d/%d", fd.truncFloor, fd.truncLast, fd.cur.size, fd.dur.size)
	}
	if !fd.truncated && len(fd.holes) > 0 {
		return fmt.Errorf("holes without a truncate")
	}
	return nil
}

func (im *image) check() error {
	for _, k := range sortedKeys(im.blocks) {
		start := k * BlockSize
		if k < 0 || start >= im.size {
			return fmt.Errorf("block %d at or beyond size %d", k, im.size)
		}
		if im.size < start+BlockSize {
			for _, c := range im.blocks[k][im.size-start:] {
				if c != 0 {
					return fmt.Errorf("non-zero byte beyond size %d", im.size)
				}
			}
		}
	}
	return nil
}
