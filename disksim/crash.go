package disksim

import (
	"math/rand/v2"
	"slices"
)

// Crash simulates a power loss with the FS's CrashConfig; see CrashWith.
func (f *FS) Crash(rng *rand.Rand) *FS {
	return f.CrashWith(rng, f.cfg.Crash)
}

// CrashWith returns the disk as a machine finds it after losing power, drawing every
// decision from rng. f is dead afterwards: its methods and the methods of its open Files
// panic, except Stats, Digest, DumpTree, UnsyncedBytes and CheckInvariants, which see
// f unchanged. The new FS takes over f's fault stream, configuration and statistics, has
// no open Files and no armed one-shot faults, and holds only what the crash left
// reachable, all of it durable.
func (f *FS) CrashWith(rng *rand.Rand, cc CrashConfig) *FS {
	f.mustLive()
	cc = cc.orDefault()
	if err := cc.validate(); err != nil {
		panic(err)
	}
	nf := &FS{src: f.src, rng: f.rng, cfg: f.cfg, stats: f.stats, nextChange: f.nextChange, nextGen: f.nextGen}
	nf.reset()
	c := &crasher{
		old: f, new: nf, rng: rng, cfg: cc,
		mapped:  map[inodeID]*inode{rootID: nf.inodes[rootID]},
		decided: map[changeID]bool{},
	}
	c.dir(f.inodes[rootID], nf.inodes[rootID])
	nf.stats.Crashes++
	f.crashed = true
	return nf
}

// crasher builds the post-crash FS by walking the old FS from the root in sorted order,
// which fixes the order of rng draws.
type crasher struct {
	old, new *FS
	rng      *rand.Rand
	cfg      CrashConfig
	mapped   map[inodeID]*inode // old inode -> its post-crash copy
	decided  map[changeID]bool  // whether each unsynced change survived
}

// dir fills the post-crash directory to from the old directory from.
func (c *crasher) dir(from, to *inode) {
	d := from.dir
	names := sortedNames(d.cur)
	for name := range d.dur {
		if _, ok := d.cur[name]; !ok {
			names = append(names, name)
		}
	}
	names = sortedUnique(names)
	for _, name := range names {
		id, ok := c.entry(d, name)
		if !ok {
			continue
		}
		child, fresh := c.inode(id)
		if child.isDir() && !fresh {
			// A mix of synced and unsynced renames can reach a directory twice, even
			// from inside itself; a directory keeps only its first name in walk order.
			c.new.stats.DirEntriesDropped++
			continue
		}
		to.dir.cur[name] = child.id
		to.dir.dur[name] = child.id
		child.curLinks++
		child.durLinks++
		c.new.recount(child)
		if child.isDir() {
			c.dir(c.old.inodes[id], child)
		}
	}
}

// entry decides what name in d points to after the crash.
func (c *crasher) entry(d *dirData, name string) (inodeID, bool) {
	curID, inCur := d.cur[name]
	durID, inDur := d.dur[name]
	if inCur == inDur && curID == durID {
		return durID, inDur
	}
	ch, ok := d.pending[name]
	if !ok {
		panic("disksim: directory entry differs from its durable entry without a pending change")
	}
	keep, ok := c.decided[ch]
	if !ok {
		keep = chance(c.rng, c.cfg.EntryKeepProb)
		c.decided[ch] = keep
	}
	if keep {
		c.new.stats.EntriesKept++
		return curID, inCur
	}
	c.new.stats.EntriesReverted++
	return durID, inDur
}

// inode returns the post-crash copy of old inode id, creating it on first use.
func (c *crasher) inode(id inodeID) (*inode, bool) {
	if n, ok := c.mapped[id]; ok {
		return n, false
	}
	old := c.old.inodes[id]
	n := c.new.newInode(old.isDir())
	if old.file != nil {
		n.file = c.file(old.file)
	}
	c.mapped[id] = n
	return n, true
}

// file computes the post-crash contents of a file, durable and current alike.
func (c *crasher) file(old *fileData) *fileData {
	baseSize, cutoff := c.truncation(old)
	fd := newFileData(&c.new.pool)
	for k, b := range old.dur.blocks {
		start := k * BlockSize
		switch {
		case start >= cutoff:
			continue
		case cutoff < start+BlockSize:
			nb := *b
			clear(nb[cutoff-start:])
			b = &nb
		}
		fd.dur.blocks[k] = b
	}
	size := baseSize
	for _, k := range sortedKeys(old.dirty) {
		size = max(size, c.block(old, k, fd.dur.blocks))
	}
	fd.dur.size = size
	fd.cur.size = size
	for k, b := range fd.dur.blocks {
		fd.cur.blocks[k] = b
	}
	return fd
}

// truncation decides whether the Truncates since the last Sync survive. It returns the
// size the file starts from and the offset beyond which durable bytes are gone.
func (c *crasher) truncation(old *fileData) (baseSize, cutoff int64) {
	if !old.truncated {
		return old.dur.size, old.dur.size
	}
	if chance(c.rng, c.cfg.TruncateKeepProb) {
		c.new.stats.TruncatesKept++
		return old.truncLast, old.truncFloor
	}
	c.new.stats.TruncatesReverted++
	return old.dur.size, old.dur.size
}

// block decides the fate of dirty block k, applies it to blocks and returns the file
// size the block's surviving content requires (0 if none survives).
func (c *crasher) block(old *fileData, k int64, blocks map[int64]*block) int64 {
	limit := old.blockLimit(k)
	start := k * BlockSize
	w := c.cfg
	r := c.rng.Uint32N(w.BlockKeepWeight + w.BlockDropWeight + w.BlockTearWeight)
	switch {
	case r < w.BlockKeepWeight:
		c.new.stats.BlocksKept++
		overlay(blocks, k, old.candidate(k), 0, limit)
		return start + int64(limit)
	case r < w.BlockKeepWeight+w.BlockDropWeight:
		c.new.stats.BlocksDropped++
		return 0
	}
	c.new.stats.BlocksTorn++
	cand := old.candidate(k)
	var end int64
	for lo := 0; lo < limit; lo += SectorSize {
		if chance(c.rng, w.SectorKeepProb) {
			hi := min(lo+SectorSize, limit)
			overlay(blocks, k, cand, lo, hi)
			end = start + int64(hi)
		}
	}
	return end
}

// overlay copies bytes [lo, hi) of src into block k of blocks, copying the block first
// because it may be shared.
func overlay(blocks map[int64]*block, k int64, src *block, lo, hi int) {
	nb := new(block)
	if b := blocks[k]; b != nil {
		*nb = *b
	}
	copy(nb[lo:hi], src[lo:hi])
	blocks[k] = nb
}

func sortedUnique(names []string) []string {
	slices.Sort(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}
