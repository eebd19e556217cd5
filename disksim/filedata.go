package disksim

import (
	"math/bits"
	"slices"
)

// BlockSize is the unit in which unsynced data survives or vanishes at a crash, and
// SectorSize the unit of a torn block: a sector is never partly written.
const (
	BlockSize  = 4096
	SectorSize = 512
)

type block [BlockSize]byte

// image is one version of a file's contents. Blocks missing from the map read as zeros.
// Invariants: every key k has k*BlockSize < size, and every byte at or beyond size is zero,
// so that growing the file exposes zeros.
type image struct {
	size   int64
	blocks map[int64]*block
}

func newImage() image { return image{blocks: map[int64]*block{}} }

// byteAt returns the byte at offset i of block k, which may be missing.
func (im *image) byteAt(k int64, i int) byte {
	if b := im.blocks[k]; b != nil {
		return b[i]
	}
	return 0
}

// byteMask marks bytes of one block.
type byteMask [BlockSize / 64]uint64

func (m *byteMask) set(i int)      { m[i>>6] |= 1 << (i & 63) }
func (m *byteMask) has(i int) bool { return m[i>>6]&(1<<(i&63)) != 0 }

func (m *byteMask) clearRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		m[i>>6] &^= 1 << (i & 63)
	}
}

func (m *byteMask) count() int {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return n
}

// fileData is what the disk knows about one file: the durable image (what a crash
// starts from) and the current image (what reads see), which share every block that has
// not been written since the last successful Sync.
//
// Blocks of dur are never modified in place, so they may be shared with cur, with a
// clone or with a post-crash FS. Blocks of cur are modified in place only while dirty.
type fileData struct {
	cur, dur image
	// dirty holds the blocks written since the last successful Sync, plus those still
	// holding lost bytes. A block not in dirty is, in cur, either missing or the very same
	// pointer as in dur.
	dirty map[int64]struct{}
	// lost marks the bytes that a failed Sync lost: they stay readable in cur, but no
	// later Sync makes them durable and no crash keeps them. Overwriting or truncating a
	// byte clears its mark. Every key is in dirty. Nil until the first failed Sync: most
	// files never see one.
	lost map[int64]*byteMask
	// holes holds blocks that Truncate removed from cur since the last successful Sync
	// while dur still has them; the next Sync drops them from dur. Nil until the first
	// such Truncate.
	holes map[int64]struct{}
	// truncated reports a Truncate since the last successful Sync. truncFloor is the
	// smallest of the durable size and every size set since; truncLast the last size set.
	// Invariant when truncated: truncFloor <= truncLast <= cur.size.
	truncated             bool
	truncFloor, truncLast int64
	// One-shot faults armed by FS.FailNextSync and FS.FailNextWrite.
	failNextSync, failNextWrite bool
	// own holds, per block number, the durable block that no one but this file holds
	// (a Sync put it in dur, and no clone has shared it since): when the next Sync
	// replaces it, it goes to spare for writable to reuse, which saves allocating and
	// collecting a block per write after every Sync. A block in own is reused only if
	// it is still the one dur holds. Nil until the first Sync.
	own   map[int64]*block
	spare []*block
	// pool is the FS's blocks of released files, which writable takes after spare.
	pool *blockPool
	// durGen counts the Syncs that may have changed durable bytes below the durable size
	// they found (a truncation or an overwrite made durable): a reader of the durable
	// image that saw generation g up to some size may trust what it read while the
	// generation stays g. overwrote reports a write below the durable size since the
	// last Sync.
	durGen    uint64
	overwrote bool
}

// spareBlocksMax bounds the blocks a file keeps for reuse.
const spareBlocksMax = 16

func newFileData(pool *blockPool) *fileData {
	return &fileData{
		cur:   newImage(),
		dur:   newImage(),
		dirty: map[int64]struct{}{},
		pool:  pool,
	}
}

// blockPool holds blocks that belonged to files the FS released and that nothing else
// holds, for other files' writes to reuse: a small file replaced at every change
// (storage.WriteFileAtomic) would otherwise allocate and zero a block every time. Each FS
// has its own; a post-crash FS or a clone starts with an empty one.
type blockPool struct{ blocks []*block }

// poolBlocksMax bounds the blocks an FS keeps for reuse.
const poolBlocksMax = 64

func (p *blockPool) get() *block {
	n := len(p.blocks)
	if n == 0 {
		return nil
	}
	b := p.blocks[n-1]
	p.blocks[n-1] = nil
	p.blocks = p.blocks[:n-1]
	return b
}

func (p *blockPool) put(b *block) {
	// A block in the pool twice would end up in two files: refuse rather than trust.
	if b == nil || len(p.blocks) >= poolBlocksMax || slices.Contains(p.blocks, b) {
		return
	}
	p.blocks = append(p.blocks, b)
}

// reclaim gives the pool the blocks only this file holds, once the FS released it (no
// link, durable or current, and no open File reaches it): its dirty blocks, which are
// private to cur; the durable blocks of own that dur still holds; its spare blocks.
// Blocks it shares (with a clone, or those a crash carried over) are in none of these.
func (fd *fileData) reclaim() {
	if fd.pool == nil {
		return
	}
	// order-independent: which of these blocks a later write reuses changes nothing it
	// writes, since writable overwrites or clears the whole block first.
	for k := range fd.dirty {
		fd.pool.put(fd.cur.blocks[k])
	}
	for k, b := range fd.own {
		if fd.dur.blocks[k] == b {
			fd.pool.put(b)
		}
	}
	for _, b := range fd.spare {
		fd.pool.put(b)
	}
	fd.spare = nil
}

func (fd *fileData) read(p []byte, off int64) int {
	if off >= fd.cur.size {
		return 0
	}
	n := int(min(int64(len(p)), fd.cur.size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		k, in := pos/BlockSize, int(pos%BlockSize)
		step := min(BlockSize-in, n-done)
		if b := fd.cur.blocks[k]; b != nil {
			copy(p[done:done+step], b[in:in+step])
		} else {
			clear(p[done : done+step])
		}
		done += step
	}
	return n
}

// writable returns block k of cur, made private to cur first.
func (fd *fileData) writable(k int64) *block {
	if _, ok := fd.dirty[k]; ok {
		return fd.cur.blocks[k]
	}
	var nb *block
	if n := len(fd.spare); n > 0 {
		nb, fd.spare = fd.spare[n-1], fd.spare[:n-1]
	} else if fd.pool != nil {
		nb = fd.pool.get()
	}
	if nb != nil {
		if b := fd.cur.blocks[k]; b != nil {
			*nb = *b
		} else {
			clear(nb[:])
		}
	} else {
		nb = new(block)
		if b := fd.cur.blocks[k]; b != nil {
			*nb = *b
		}
	}
	fd.cur.blocks[k] = nb
	fd.dirty[k] = struct{}{}
	return nb
}

// setDurable makes b the durable block k, which only this file holds, and keeps the
// block it replaces for reuse when that one was only this file's too.
func (fd *fileData) setDurable(k int64, b *block) {
	if old, ok := fd.own[k]; ok && old != b && fd.dur.blocks[k] == old && len(fd.spare) < spareBlocksMax {
		fd.spare = append(fd.spare, old)
	}
	fd.dur.blocks[k] = b
	if fd.own == nil {
		fd.own = map[int64]*block{}
	}
	fd.own[k] = b
}

// write costs O(len(p)) plus one block copy per block not yet dirty.
func (fd *fileData) write(p []byte, off int64) {
	end := off + int64(len(p))
	if off < fd.dur.size {
		fd.overwrote = true
	}
	for pos := off; pos < end; {
		k, in := pos/BlockSize, int(pos%BlockSize)
		step := int(min(int64(BlockSize-in), end-pos))
		b := fd.writable(k)
		copy(b[in:in+step], p[pos-off:])
		fd.clearLost(k, in, in+step)
		pos += int64(step)
	}
	fd.cur.size = max(fd.cur.size, end)
}

func (fd *fileData) clearLost(k int64, lo, hi int) {
	m := fd.lost[k]
	if m == nil {
		return
	}
	m.clearRange(lo, hi)
	if m.count() == 0 {
		delete(fd.lost, k)
	}
}

// truncate costs O(blocks removed), bounded by the number of stored blocks.
func (fd *fileData) truncate(size int64) {
	if !fd.truncated {
		fd.truncated = true
		fd.truncFloor = fd.dur.size
	}
	fd.truncFloor = min(fd.truncFloor, size)
	fd.truncLast = size
	if size < fd.cur.size {
		fd.dropBlocksFrom((size + BlockSize - 1) / BlockSize)
		if in := int(size % BlockSize); in != 0 && fd.cur.blocks[size/BlockSize] != nil {
			k := size / BlockSize
			clear(fd.writable(k)[in:])
			fd.clearLost(k, in, BlockSize)
		}
	}
	fd.cur.size = size
}

// dropBlocksFrom removes from cur every block numbered first or above.
func (fd *fileData) dropBlocksFrom(first int64) {
	last := (fd.cur.size - 1) / BlockSize
	drop := func(k int64) {
		if _, ok := fd.dur.blocks[k]; ok {
			if fd.holes == nil {
				fd.holes = map[int64]struct{}{}
			}
			fd.holes[k] = struct{}{}
		}
		delete(fd.cur.blocks, k)
		delete(fd.dirty, k)
		delete(fd.lost, k)
	}
	if last-first+1 <= int64(len(fd.cur.blocks)+len(fd.dur.blocks)) {
		for k := first; k <= last; k++ {
			drop(k)
		}
		return
	}
	// A sparse file: visit the stored blocks rather than the whole range.
	for _, m := range []map[int64]*block{fd.cur.blocks, fd.dur.blocks} {
		for k := range m {
			if k >= first {
				drop(k)
			}
		}
	}
}

// sync makes cur durable, except lost bytes, which keep their durable content. It costs
// O(dirty blocks + holes).
func (fd *fileData) sync() {
	for k := range fd.dirty {
		cb := fd.cur.blocks[k]
		m := fd.lost[k]
		if m == nil {
			fd.setDurable(k, cb)
			delete(fd.dirty, k)
			continue
		}
		nb := *cb
		for i := range BlockSize {
			if m.has(i) {
				nb[i] = fd.dur.byteAt(k, i)
			}
		}
		fd.setDurable(k, &nb)
	}
	for k := range fd.holes {
		if _, ok := fd.cur.blocks[k]; !ok {
			delete(fd.dur.blocks, k)
			delete(fd.own, k)
		}
	}
	clear(fd.holes)
	if fd.truncated || fd.overwrote {
		fd.durGen++
	}
	fd.overwrote = false
	fd.dur.size = fd.cur.size
	fd.truncated = false
	fd.truncFloor, fd.truncLast = 0, 0
}

// markLost records a failed Sync: every byte of cur that differs from dur is lost. It
// returns the number of bytes newly marked.
func (fd *fileData) markLost() int64 {
	var marked int64
	for k := range fd.dirty {
		limit := fd.blockLimit(k)
		cb := fd.cur.blocks[k]
		m := fd.lost[k]
		if m == nil {
			m = new(byteMask)
		}
		for i := range limit {
			if cb[i] != fd.dur.byteAt(k, i) && !m.has(i) {
				m.set(i)
				marked++
			}
		}
		if m.count() > 0 {
			if fd.lost == nil {
				fd.lost = map[int64]*byteMask{}
			}
			fd.lost[k] = m
		}
	}
	return marked
}

// blockLimit is how many bytes of block k lie within the current size.
func (fd *fileData) blockLimit(k int64) int {
	return int(max(0, min(BlockSize, fd.cur.size-k*BlockSize)))
}

// candidate is what the disk would hold for dirty block k if it were written now: the
// current content with lost bytes reverted to the durable content.
func (fd *fileData) candidate(k int64) *block {
	cb := fd.cur.blocks[k]
	m := fd.lost[k]
	if m == nil {
		return cb
	}
	nb := *cb
	for i := range BlockSize {
		if m.has(i) {
			nb[i] = fd.dur.byteAt(k, i)
		}
	}
	return &nb
}

// unsyncedBytes counts the bytes, within the current size, of blocks a crash may change.
func (fd *fileData) unsyncedBytes() int64 {
	var n int64
	for k := range fd.dirty {
		n += int64(fd.blockLimit(k))
	}
	return n
}

func (fd *fileData) clone(pool *blockPool) *fileData {
	// The clone shares every durable block: none is this file's alone any more.
	clear(fd.own)
	c := &fileData{
		cur:           image{size: fd.cur.size, blocks: make(map[int64]*block, len(fd.cur.blocks))},
		dur:           image{size: fd.dur.size, blocks: make(map[int64]*block, len(fd.dur.blocks))},
		dirty:         make(map[int64]struct{}, len(fd.dirty)),
		lost:          make(map[int64]*byteMask, len(fd.lost)),
		holes:         make(map[int64]struct{}, len(fd.holes)),
		truncated:     fd.truncated,
		truncFloor:    fd.truncFloor,
		truncLast:     fd.truncLast,
		failNextSync:  fd.failNextSync,
		failNextWrite: fd.failNextWrite,
		pool:          pool,
		durGen:        fd.durGen,
		overwrote:     fd.overwrote,
	}
	for k, b := range fd.dur.blocks {
		c.dur.blocks[k] = b
	}
	for k, b := range fd.cur.blocks {
		if _, dirty := fd.dirty[k]; dirty {
			nb := *b
			b = &nb
		}
		c.cur.blocks[k] = b
	}
	for k := range fd.dirty {
		c.dirty[k] = struct{}{}
	}
	for k, m := range fd.lost {
		nm := *m
		c.lost[k] = &nm
	}
	for k := range fd.holes {
		c.holes[k] = struct{}{}
	}
	return c
}

func sortedKeys[V any](m map[int64]V) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
