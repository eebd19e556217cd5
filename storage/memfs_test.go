package storage

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"syscall"
)

// memFS is a small in-memory FS for storage's own tests: fast enough for the fuzzer and
// the model test, with just enough of a crash model to test the durability rules (file
// bytes survive once synced, directory entries once their directory is synced, unsynced
// appends may survive in part and torn). The full simulated disk lives in disksim.
type memFS struct {
	live        map[string]*memInode // path -> file
	durable     map[string]*memInode // what a crash keeps for sure
	dirs        map[string]bool      // live directories ("." always)
	durableDirs map[string]bool

	// Fault hooks for unit tests: when set, called before the operation on name; a
	// non-nil error fails it.
	syncFault  func(name string) error
	writeFault func(name string) error
	// readFault may damage the bytes a read returns (the file keeps its contents).
	readFault func(name string, p []byte, off int64)
	// syncDirs counts SyncDir calls, and syncs counts File.Sync calls, for tests that
	// check what an operation makes durable.
	syncDirs, syncs int
}

type memInode struct {
	data   []byte
	synced []byte
}

func newMemFS() *memFS {
	return &memFS{
		live: map[string]*memInode{}, durable: map[string]*memInode{},
		dirs: map[string]bool{".": true}, durableDirs: map[string]bool{".": true},
	}
}

func clean(name string) string { return path.Clean(name) }

func (m *memFS) Create(name string) (File, error) {
	name = clean(name)
	if !m.dirs[path.Dir(name)] {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrNotExist}
	}
	if m.dirs[name] {
		return nil, &fs.PathError{Op: "create", Path: name, Err: syscall.EISDIR}
	}
	ino := m.live[name]
	if ino == nil {
		ino = &memInode{}
		m.live[name] = ino
	}
	ino.data = ino.data[:0:0]
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *memFS) Open(name string) (File, error) {
	name = clean(name)
	ino := m.live[name]
	if ino == nil {
		if m.dirs[name] {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *memFS) Remove(name string) error {
	name = clean(name)
	if m.live[name] != nil {
		delete(m.live, name)
		return nil
	}
	if m.dirs[name] {
		if entries, _ := m.List(name); len(entries) > 0 {
			return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
		delete(m.dirs, name)
		return nil
	}
	return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
}

func (m *memFS) Rename(oldname, newname string) error {
	oldname, newname = clean(oldname), clean(newname)
	ino := m.live[oldname]
	if ino == nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	if !m.dirs[path.Dir(newname)] {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrNotExist}
	}
	delete(m.live, oldname)
	m.live[newname] = ino
	return nil
}

func (m *memFS) MkdirAll(dir string) error {
	for d := clean(dir); !m.dirs[d]; d = path.Dir(d) {
		if m.live[d] != nil {
			return &fs.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
		}
		m.dirs[d] = true
	}
	return nil
}

func (m *memFS) List(dir string) ([]string, error) {
	dir = clean(dir)
	if !m.dirs[dir] {
		return nil, &fs.PathError{Op: "list", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for p := range m.live {
		if path.Dir(p) == dir {
			names = append(names, path.Base(p))
		}
	}
	for p := range m.dirs {
		if p != dir && path.Dir(p) == dir {
			names = append(names, path.Base(p))
		}
	}
	slices.Sort(names)
	return names, nil
}

func (m *memFS) Stat(name string) (FileInfo, error) {
	name = clean(name)
	if ino := m.live[name]; ino != nil {
		return FileInfo{Size: int64(len(ino.data))}, nil
	}
	if m.dirs[name] {
		return FileInfo{IsDir: true}, nil
	}
	return FileInfo{}, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (m *memFS) SyncDir(dir string) error {
	dir = clean(dir)
	if !m.dirs[dir] {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: fs.ErrNotExist}
	}
	if m.syncFault != nil {
		if err := m.syncFault(dir); err != nil {
			return err
		}
	}
	m.syncDirs++
	for p := range m.durable {
		if path.Dir(p) == dir && m.live[p] == nil {
			delete(m.durable, p)
		}
	}
	for p, ino := range m.live {
		if path.Dir(p) == dir {
			m.durable[p] = ino
		}
	}
	for p := range m.durableDirs {
		if p != dir && path.Dir(p) == dir && !m.dirs[p] {
			delete(m.durableDirs, p)
		}
	}
	for p := range m.dirs {
		if p != dir && path.Dir(p) == dir {
			m.durableDirs[p] = true
		}
	}
	return nil
}

// crash returns the image a crash would leave, drawing every undecided outcome from rng.
func (m *memFS) crash(rng *rand.Rand) *memFS {
	out := newMemFS()
	for _, d := range sortedKeys(m.durableDirs) {
		out.dirs[d], out.durableDirs[d] = true, true
	}
	for _, d := range sortedKeys(m.dirs) {
		if !out.dirs[d] && out.dirs[path.Dir(d)] && rng.IntN(2) == 0 {
			out.dirs[d], out.durableDirs[d] = true, true
		}
	}
	names := sortedKeys(m.live)
	for _, p := range sortedKeys(m.durable) {
		if m.live[p] == nil {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	for _, p := range names {
		if !out.dirs[path.Dir(p)] {
			continue
		}
		ino := m.durable[p]
		if live := m.live[p]; live != ino && rng.IntN(2) == 0 {
			ino = live // the unsynced directory change made it to disk
		}
		if ino == nil {
			continue
		}
		data := crashContents(ino, rng)
		out.live[p] = &memInode{data: data, synced: bytes.Clone(data)}
		out.durable[p] = out.live[p]
	}
	return out
}

// crashSectorBytes is the granularity at which a crash damages unsynced data.
const crashSectorBytes = 64

// crashContents picks what a file holds after a crash: its synced bytes plus, when the
// unsynced change is an append, a random prefix of the appended bytes in which a sector
// may hold garbage (a write the disk never finished); for any other change, either
// version. Damage comes in whole sectors, as disks tear writes: a single flipped byte
// could land in the few header bytes Kafka's batch CRC does not cover.
func crashContents(ino *memInode, rng *rand.Rand) []byte {
	if bytes.Equal(ino.data, ino.synced) {
		return bytes.Clone(ino.data)
	}
	if !bytes.HasPrefix(ino.data, ino.synced) {
		if rng.IntN(2) == 0 {
			return bytes.Clone(ino.synced)
		}
		return bytes.Clone(ino.data)
	}
	extra := len(ino.data) - len(ino.synced)
	keep := extra
	if rng.IntN(3) > 0 {
		keep = rng.IntN(extra + 1)
	}
	data := bytes.Clone(ino.data[:len(ino.synced)+keep])
	if keep > 0 && rng.IntN(4) == 0 {
		// Garbage in one sector that overlaps the unsynced part, clipped to it.
		at := len(ino.synced) + rng.IntN(keep)
		from := max(at/crashSectorBytes*crashSectorBytes, len(ino.synced))
		to := min(from/crashSectorBytes*crashSectorBytes+crashSectorBytes, len(data))
		for i := from; i < to; i++ {
			data[i] = byte(rng.IntN(256))
		}
	}
	return data
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// files lists the live files below dir, for test failure messages.
func (m *memFS) files(dir string) string {
	var b strings.Builder
	for _, p := range sortedKeys(m.live) {
		if strings.HasPrefix(p, dir+"/") {
			fmt.Fprintf(&b, "%s (%d bytes) ", p, len(m.live[p].data))
		}
	}
	return b.String()
}

type memFile struct {
	fs     *memFS
	ino    *memInode
	name   string
	closed bool
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	if off < 0 {
		return 0, fs.ErrInvalid
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if f.fs.readFault != nil {
		f.fs.readFault(f.name, p[:n], off)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	if f.fs.writeFault != nil {
		if err := f.fs.writeFault(f.name); err != nil {
			return 0, err
		}
	}
	if end := off + int64(len(p)); end > int64(len(f.ino.data)) {
		f.ino.data = append(f.ino.data, make([]byte, end-int64(len(f.ino.data)))...)
	}
	copy(f.ino.data[off:], p)
	return len(p), nil
}

func (f *memFile) Truncate(size int64) error {
	if f.closed {
		return fs.ErrClosed
	}
	if size < int64(len(f.ino.data)) {
		f.ino.data = f.ino.data[:size:size]
	} else {
		f.ino.data = append(f.ino.data, make([]byte, size-int64(len(f.ino.data)))...)
	}
	return nil
}

func (f *memFile) Sync() error {
	if f.closed {
		return fs.ErrClosed
	}
	if f.fs.syncFault != nil {
		if err := f.fs.syncFault(f.name); err != nil {
			return err
		}
	}
	f.fs.syncs++
	f.ino.synced = bytes.Clone(f.ino.data)
	return nil
}

func (f *memFile) Size() (int64, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return nil
}

var _ FS = (*memFS)(nil)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

var errEIO error = syscall.EIO
