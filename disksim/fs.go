package disksim

import (
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/seedlog/seedlog/storage"
)

var _ storage.FS = (*FS)(nil)

type inodeID uint64

// changeID names one directory change (create, mkdir, remove, rename) so that the two
// entries a rename touches survive or vanish together at a crash.
type changeID uint64

const rootID inodeID = 1

// inode is a file or a directory. It lives while a current entry, a durable entry or an
// open File refers to it.
type inode struct {
	id   inodeID
	file *fileData // nil for a directory
	dir  *dirData  // nil for a file
	// curLinks and durLinks count the current and durable directory entries naming it.
	curLinks, durLinks int
	opens              int
	// counted reports whether the file's current size is in FS.usedBytes: true exactly
	// for files with a current entry or an open File.
	counted bool
}

func (n *inode) isDir() bool { return n.dir != nil }

// dirData holds a directory's entries as the process sees them (cur) and as a crash
// would find them (dur).
type dirData struct {
	cur, dur map[string]inodeID
	// pending maps each name whose cur and dur entries differ to the last change that
	// touched it.
	pending map[string]changeID
	// gen changes with every change to cur and dur, for readers that keep a listing.
	// It is drawn from FS.nextGen, so that a directory removed and made again never
	// shows a generation its predecessor had.
	gen uint64
	// durNames is the names of dur, sorted, or nil until first listed. Syncs keep it in
	// step with dur, which gains and loses a name or two at a time.
	durNames []string
}

// isPending reports whether name's current and durable entries differ; most of the
// time no entry does, and the answer costs no lookup.
func (d *dirData) isPending(name string) bool {
	if len(d.pending) == 0 {
		return false
	}
	_, ok := d.pending[name]
	return ok
}

// durNameChanged keeps durNames in step with name entering dur (added) or leaving it.
func (d *dirData) durNameChanged(name string, added bool) {
	if d.durNames == nil {
		return
	}
	i, found := slices.BinarySearch(d.durNames, name)
	switch {
	case added && !found:
		d.durNames = slices.Insert(d.durNames, i, name)
	case !added && found:
		d.durNames = slices.Delete(d.durNames, i, i+1)
	}
}

func newDirData() *dirData {
	return &dirData{cur: map[string]inodeID{}, dur: map[string]inodeID{}, pending: map[string]changeID{}}
}

// FS is a simulated disk. It is not safe for concurrent use; the simulator drives it from
// one goroutine.
type FS struct {
	src        *rand.PCG
	rng        *rand.Rand
	cfg        Config
	inodes     map[inodeID]*inode
	nextInode  inodeID
	nextChange changeID
	nextGen    uint64 // the last directory generation handed out (dirData.gen)
	// usedBytes is the sum of the current sizes of counted files, checked against
	// Faults.CapacityBytes.
	usedBytes int64
	stats     Stats
	// crashed is set by Crash: the FS then belongs to a dead machine.
	crashed bool
	// pool holds the blocks of released files for reuse (see blockPool).
	pool blockPool
}

// New returns an empty FS (a root directory only). Its fault and latency draws come from
// a private stream seeded by two draws from rng, so that Clone can copy the stream.
// New panics if cfg is invalid.
func New(rng *rand.Rand, cfg Config) *FS {
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	cfg.Crash = cfg.Crash.orDefault()
	src := rand.NewPCG(rng.Uint64(), rng.Uint64())
	f := &FS{src: src, rng: rand.New(src), cfg: cfg}
	f.reset()
	return f
}

// reset makes f an empty FS with the root directory, durable.
func (f *FS) reset() {
	f.inodes = map[inodeID]*inode{rootID: {id: rootID, dir: newDirData(), curLinks: 1, durLinks: 1}}
	f.nextInode = rootID + 1
	f.usedBytes = 0
}

// Config returns the configuration f was built with.
func (f *FS) Config() Config { return f.cfg }

// SetFaults replaces the fault probabilities, for a simulator that heals faults. It
// panics if faults is invalid.
func (f *FS) SetFaults(faults Faults) {
	f.mustLive()
	if err := faults.validate(); err != nil {
		panic(err)
	}
	f.cfg.Faults = faults
}

func (f *FS) mustLive() {
	if f.crashed {
		panic("disksim: FS used after Crash; use the FS that Crash returned")
	}
}

func (f *FS) newInode(isDir bool) *inode {
	n := &inode{id: f.nextInode}
	f.nextInode++
	if isDir {
		n.dir = newDirData()
	} else {
		n.file = newFileData(&f.pool)
	}
	f.inodes[n.id] = n
	return n
}

func (f *FS) newChange() changeID {
	f.nextChange++
	return f.nextChange
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// clean validates a slash-separated relative name and returns its canonical form; "." is
// the root.
func clean(name string) (string, bool) {
	if fs.ValidPath(name) {
		return name, true // no empty, "." or ".." element: canonical already
	}
	if name == "" {
		return "", false
	}
	c := path.Clean(name)
	if c == "." {
		return c, true
	}
	return c, fs.ValidPath(c)
}

// lookup resolves name through the current entries.
func (f *FS) lookup(op, name string) (*inode, error) {
	c, ok := clean(name)
	if !ok {
		return nil, pathErr(op, name, syscall.EINVAL)
	}
	n := f.inodes[rootID]
	if c == "." {
		return n, nil
	}
	for part := range strings.SplitSeq(c, "/") {
		if !n.isDir() {
			return nil, pathErr(op, name, syscall.ENOTDIR)
		}
		id, ok := n.dir.cur[part]
		if !ok {
			return nil, pathErr(op, name, syscall.ENOENT)
		}
		n = f.inodes[id]
	}
	return n, nil
}

// lookupParent resolves the directory that holds name and returns it with name's last
// element. The root has no parent.
func (f *FS) lookupParent(op, name string) (*inode, string, error) {
	c, ok := clean(name)
	if !ok || c == "." {
		return nil, "", pathErr(op, name, syscall.EINVAL)
	}
	dir, base := ".", c
	if i := strings.LastIndexByte(c, '/'); i >= 0 {
		dir, base = c[:i], c[i+1:]
	}
	parent, err := f.lookup(op, dir)
	if err != nil {
		return nil, "", pathErr(op, name, underlying(err))
	}
	if !parent.isDir() {
		return nil, "", pathErr(op, name, syscall.ENOTDIR)
	}
	return parent, base, nil
}

func underlying(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// setEntry points name in dir at target (or removes it when target is nil) in the
// current entries, as part of change ch.
func (f *FS) setEntry(dir *inode, name string, target *inode, ch changeID) {
	d := dir.dir
	f.nextGen++
	d.gen = f.nextGen
	var old *inode
	if id, ok := d.cur[name]; ok {
		old = f.inodes[id]
	}
	if target != nil {
		d.cur[name] = target.id
		target.curLinks++
		f.recount(target)
	} else {
		delete(d.cur, name)
	}
	curID, inCur := d.cur[name]
	durID, inDur := d.dur[name]
	if inCur == inDur && curID == durID {
		delete(d.pending, name)
	} else {
		d.pending[name] = ch
	}
	if old != nil {
		old.curLinks--
		f.release(old)
	}
}

// recount keeps usedBytes in step with whether n is live in the current view.
func (f *FS) recount(n *inode) {
	if n.file == nil {
		return
	}
	want := n.curLinks > 0 || n.opens > 0
	if want == n.counted {
		return
	}
	n.counted = want
	if want {
		f.usedBytes += n.file.cur.size
	} else {
		f.usedBytes -= n.file.cur.size
	}
}

// release frees n once nothing refers to it, and with it the durable entries of a
// freed directory.
func (f *FS) release(n *inode) {
	if n.curLinks < 0 || n.durLinks < 0 || n.opens < 0 {
		panic(fmt.Sprintf("disksim: inode %d has negative references", n.id))
	}
	f.recount(n)
	if n.curLinks > 0 || n.durLinks > 0 || n.opens > 0 || n.id == rootID {
		return
	}
	delete(f.inodes, n.id)
	if n.dir == nil {
		n.file.reclaim()
		return
	}
	if len(n.dir.cur) != 0 {
		panic(fmt.Sprintf("disksim: freeing directory inode %d with current entries", n.id))
	}
	for _, name := range sortedNames(n.dir.dur) {
		child := f.inodes[n.dir.dur[name]]
		child.durLinks--
		f.release(child)
	}
}

func sortedNames[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	names := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(names)
	return names
}

// Create creates name as a new, empty file. An existing file of that name is unlinked,
// not truncated: Files open on it keep reading its old contents, and until the directory
// is synced a crash may bring the old file back.
func (f *FS) Create(name string) (storage.File, error) {
	f.mustLive()
	parent, base, err := f.lookupParent("open", name)
	if err != nil {
		return nil, err
	}
	if id, ok := parent.dir.cur[base]; ok && f.inodes[id].isDir() {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	n := f.newInode(false)
	f.setEntry(parent, base, n, f.newChange())
	return f.openHandle(n, name), nil
}

// Open opens an existing file.
func (f *FS) Open(name string) (storage.File, error) {
	f.mustLive()
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	return f.openHandle(n, name), nil
}

// Remove removes a file or an empty directory.
func (f *FS) Remove(name string) error {
	f.mustLive()
	parent, base, err := f.lookupParent("remove", name)
	if err != nil {
		return err
	}
	id, ok := parent.dir.cur[base]
	if !ok {
		return pathErr("remove", name, syscall.ENOENT)
	}
	if n := f.inodes[id]; n.isDir() && len(n.dir.cur) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	f.setEntry(parent, base, nil, f.newChange())
	return nil
}

// Rename moves oldname to newname, replacing a file there or an empty directory. Both
// directory entries belong to one change: at a crash they survive or vanish together,
// though each directory's SyncDir makes only its own entry durable.
func (f *FS) Rename(oldname, newname string) error {
	f.mustLive()
	oldParent, oldBase, err := f.lookupParent("rename", oldname)
	if err != nil {
		return err
	}
	id, ok := oldParent.dir.cur[oldBase]
	if !ok {
		return pathErr("rename", oldname, syscall.ENOENT)
	}
	src := f.inodes[id]
	newParent, newBase, err := f.lookupParent("rename", newname)
	if err != nil {
		return err
	}
	if src.isDir() {
		oc, _ := clean(oldname)
		if nc, _ := clean(newname); strings.HasPrefix(nc, oc+"/") {
			return pathErr("rename", newname, syscall.EINVAL)
		}
	}
	if dstID, ok := newParent.dir.cur[newBase]; ok {
		if dstID == src.id {
			return nil // POSIX: renaming a file onto itself does nothing
		}
		if err := renameTargetErr(src, f.inodes[dstID]); err != nil {
			return pathErr("rename", newname, err)
		}
	}
	ch := f.newChange()
	src.curLinks++ // hold src while its old entry goes away
	f.setEntry(oldParent, oldBase, nil, ch)
	f.setEntry(newParent, newBase, src, ch)
	src.curLinks--
	f.recount(src)
	return nil
}

func renameTargetErr(src, dst *inode) error {
	switch {
	case !src.isDir() && dst.isDir():
		return syscall.EISDIR
	case src.isDir() && !dst.isDir():
		return syscall.ENOTDIR
	case dst.isDir() && len(dst.dir.cur) > 0:
		return syscall.ENOTEMPTY
	}
	return nil
}

// MkdirAll creates dir and any missing parents. Each new directory is an entry of its
// parent like a file: it survives a crash only once the parent is synced.
func (f *FS) MkdirAll(dir string) error {
	f.mustLive()
	c, ok := clean(dir)
	if !ok {
		return pathErr("mkdir", dir, syscall.EINVAL)
	}
	n := f.inodes[rootID]
	if c == "." {
		return nil
	}
	for part := range strings.SplitSeq(c, "/") {
		id, ok := n.dir.cur[part]
		if !ok {
			child := f.newInode(true)
			f.setEntry(n, part, child, f.newChange())
			n = child
			continue
		}
		n = f.inodes[id]
		if !n.isDir() {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
	}
	return nil
}

// List returns the names of the current entries of dir, sorted.
func (f *FS) List(dir string) ([]string, error) {
	f.mustLive()
	n, err := f.lookup("open", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, pathErr("readdirent", dir, syscall.ENOTDIR)
	}
	return sortedNames(n.dir.cur), nil
}

// Stat describes name as the current view has it.
func (f *FS) Stat(name string) (storage.FileInfo, error) {
	f.mustLive()
	n, err := f.lookup("stat", name)
	if err != nil {
		return storage.FileInfo{}, err
	}
	if n.isDir() {
		return storage.FileInfo{IsDir: true}, nil
	}
	return storage.FileInfo{Size: n.file.cur.size}, nil
}

// SyncDir makes the current entries of dir durable. An injected failure makes nothing
// durable; the entries stay pending and a crash decides each as usual.
func (f *FS) SyncDir(dir string) error {
	f.mustLive()
	n, err := f.lookup("sync", dir)
	if err != nil {
		return err
	}
	if !n.isDir() {
		return pathErr("sync", dir, syscall.ENOTDIR)
	}
	if chance(f.rng, f.cfg.Faults.SyncDirEIOProb) {
		f.stats.SyncDirEIO++
		return pathErr("sync", dir, syscall.EIO)
	}
	f.syncDir(n)
	return nil
}

func (f *FS) syncDir(n *inode) {
	d := n.dir
	f.nextGen++
	d.gen = f.nextGen
	var dropped []*inode
	for _, name := range sortedNames(d.pending) {
		id, inDur := d.dur[name]
		if inDur {
			child := f.inodes[id]
			child.durLinks--
			dropped = append(dropped, child)
		}
		id, inCur := d.cur[name]
		if inCur {
			f.inodes[id].durLinks++
			d.dur[name] = id
		} else {
			delete(d.dur, name)
		}
		if inCur != inDur {
			d.durNameChanged(name, inCur)
		}
	}
	clear(d.pending)
	for _, child := range dropped {
		f.release(child)
	}
}

func chance(rng *rand.Rand, p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	return rng.Float64() < p
}
