package node

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// Zero-copy fetch. The disk worker reads a consumer fetch's batches as spans (stretches
// of segment files, disk.Span), checking every batch as any read does, and the client
// writer sends each span from its file with sendfile(2) (sendSpan): record bytes never
// pass through the node's memory on their way to a consumer. spanFiles is what keeps
// that safe between the read and the send:
//
//   - A file span names its file by a FileID, for which spanFiles holds a descriptor of
//     its own (a dup of the log's), taken on the disk worker while the read runs, before
//     any later op may delete, replace or cut the file. A segment that retention deletes
//     or compaction replaces meanwhile stays readable through it, unchanged. Held files
//     are known by inode, not by the log's File: the log's file cache
//     (storage.FileCache) may close a segment file and open it again as another File.
//   - In place, a log only ever cuts a segment file (a truncation, damage fencing):
//     spanFS tells spanFiles before every cut, and the writer refuses a span a cut
//     reaches into, checking after the send too. It then closes the connection before
//     the frame is complete, so the client never takes bytes the read did not validate;
//     it reconnects and fetches again. (The core never truncates below the high
//     watermark it reads under, except after a loss its configuration allowed.)
//   - A descriptor is closed once no span into it was held or sent for spanFileIdle. A
//     response that waits longer in its connection's queue finds its file gone, and its
//     connection is closed the same way. Deleted segments keep their disk space until
//     then, as Kafka keeps them for file.delete.delay.ms.
//   - At most fetch.span.files.max files are held (counted in the open-file budget,
//     fdlimit.go). A read that would hold one more first closes the least recently used
//     idle one: no writer sending from it and no span of it handed out and not yet
//     sent. Spans the core drops unsent (a response trimmed to fetch.max.bytes, a
//     connection closed) are not told back, so a file whose spans were all unused for
//     spanFileIdle counts as idle too, as the sweep closes it. When every held file is
//     busy, the hold is refused and the read's bytes go as a copy (diskexec.readSpans):
//     the fetch is served, only not with sendfile.
//
// Checksums are checked as before: the read that makes the spans reads their batches
// (into a buffer the disk worker keeps) and validates each, CRC included, so damage is
// still found, fenced and never served. sendfile then sends from the page cache that
// read just filled. Only a page evicted and read back from a disk that now returns other
// bytes, in the milliseconds between the read and the send, would leave unchecked
// (Kafka checks nothing on fetch; clients that check CRCs, as Java's does by default,
// would refuse it).

// spanFileIdle is how long spanFiles keeps a descriptor no span used.
const spanFileIdle = time.Minute

// errSpanFilesFull refuses a hold when fetch.span.files.max files are held, all busy.
var errSpanFilesFull = errors.New("node: every held span file is in use")

// errSpanLost means a span's bytes can no longer be sent as the read validated them.
var errSpanLost = errors.New("a fetched span's file was cut or closed before it was sent")

// spanFiles holds the files of file spans (diskexec.SpanFiles). Hold runs on the disk
// worker, open and release on client writers.
type spanFiles struct {
	now func() time.Time
	max int // files held at most (fetch.span.files.max)
	// refused counts holds refused for want of room (their bytes went as a copy), and
	// evicted the idle files closed to make room.
	refused, evicted atomic.Int64

	mu   sync.Mutex
	last disk.FileID
	byID map[disk.FileID]*heldFile
	// byInode is the hold a new read of each file shares; a file cut since its hold
	// was taken has none until the next read.
	byInode map[fileKey]*heldFile
	sweptAt time.Time
}

// fileKey names a file by its inode. A held file keeps its inode alive, so no other file
// takes its key while it is held.
type fileKey struct{ dev, ino uint64 }

func keyOf(f *os.File) (fileKey, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileKey{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, fmt.Errorf("node: no inode for %s", f.Name())
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

var _ diskexec.SpanFiles = (*spanFiles)(nil)

// heldFile is a segment file spans point into.
type heldFile struct {
	f   *os.File // the descriptor spanFiles holds
	key fileKey
	id  disk.FileID
	// intact is how many leading bytes of the file are still those it held when spans
	// were taken from it: a cut lowers it, nothing raises it.
	intact atomic.Int64
	// Guarded by spanFiles.mu.
	used    time.Time
	sending int
	// pending counts spans into the file that Hold handed out and no writer opened
	// yet: a file with pending spans is not closed to make room.
	pending int
}

// newSpanFiles returns a spanFiles that holds at most filesMax files.
func newSpanFiles(now func() time.Time, filesMax int) *spanFiles {
	return &spanFiles{now: now, max: filesMax, byID: map[disk.FileID]*heldFile{}, byInode: map[fileKey]*heldFile{}}
}

// Hold implements diskexec.SpanFiles for the files of spanFS.
func (s *spanFiles) Hold(f storage.File) (disk.FileID, error) {
	sf, ok := f.(*spanFile)
	if !ok {
		return 0, fmt.Errorf("node: %T is not a file of the span file system", f)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	key, err := sf.key()
	if err != nil {
		return 0, err
	}
	if h := s.byInode[key]; h != nil {
		h.used = now
		h.pending++
		return h.id, nil
	}
	if len(s.byID) >= s.max && !s.evictOne(now) {
		s.refused.Add(1)
		return 0, errSpanFilesFull
	}
	dup, err := dupFile(sf.osFile)
	if err != nil {
		return 0, err
	}
	s.last++
	h := &heldFile{f: dup, key: key, id: s.last, used: now, pending: 1}
	h.intact.Store(math.MaxInt64)
	s.byInode[key] = h
	s.byID[h.id] = h
	return h.id, nil
}

// dupFile returns a descriptor of its own for f's file, closed on exec like every
// descriptor Go opens.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(src uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if fd, dupErr = syscall.Dup(int(src)); dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("node: dup %s: %w", f.Name(), dupErr)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// open returns the file of span id for a writer to send from, until release; nil when
// it is no longer held.
func (s *spanFiles) open(id disk.FileID) *heldFile {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.byID[id]
	if h != nil {
		h.sending++
		h.pending = max(h.pending-1, 0) // never below: a send not counted is harmless
		h.used = now
	}
	return h
}

func (s *spanFiles) release(h *heldFile) {
	now := s.now()
	s.mu.Lock()
	h.sending--
	h.used = now
	s.mu.Unlock()
}

// cut records that f is about to be truncated to size bytes. The spans held lose what
// the cut reaches; a later read holds the file afresh, with its new bytes. When f's
// inode is unknown, every held file counts as cut: a send refused costs a reconnect.
func (s *spanFiles) cut(f *spanFile, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, err := f.key()
	if err != nil {
		for _, h := range s.byID { // order-independent: each is cut alike
			h.intact.Store(0)
		}
		clear(s.byInode)
		return
	}
	for _, h := range s.byID { // order-independent: each file's own bound
		if h.key == key && size < h.intact.Load() {
			h.intact.Store(size)
		}
	}
	delete(s.byInode, key)
}

// sweep closes the files no span used for spanFileIdle, at most a few times per idle
// period.
func (s *spanFiles) sweep(now time.Time) {
	if now.Sub(s.sweptAt) < spanFileIdle/4 {
		return
	}
	s.sweptAt = now
	for id, h := range s.byID { // order-independent: each idle file is closed
		if h.sending == 0 && now.Sub(h.used) >= spanFileIdle { // pending or not
			s.drop(id, h)
		}
	}
}

// idle says whether h may be closed: no writer sends from it, and no span of it
// handed out was used within spanFileIdle.
func (h *heldFile) idle(now time.Time) bool {
	return h.sending == 0 && (h.pending == 0 || now.Sub(h.used) >= spanFileIdle)
}

// evictOne closes the least recently used idle file, if any; s.mu is held.
func (s *spanFiles) evictOne(now time.Time) bool {
	var lru *heldFile
	for _, h := range s.byID { // order-independent: the oldest, ties to the lowest id
		if h.idle(now) && (lru == nil || h.used.Before(lru.used) || h.used.Equal(lru.used) && h.id < lru.id) {
			lru = h
		}
	}
	if lru == nil {
		return false
	}
	s.drop(lru.id, lru)
	s.evicted.Add(1)
	return true
}

func (s *spanFiles) drop(id disk.FileID, h *heldFile) {
	delete(s.byID, id)
	if s.byInode[h.key] == h {
		delete(s.byInode, h.key)
	}
	h.f.Close()
}

// close closes every file held; no writer may send after it.
func (s *spanFiles) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.byID { // order-independent: every file is closed
		s.drop(id, h)
	}
}

// held reports how many files are held.
func (s *spanFiles) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// spanFS is the node's storage.FS: the OS's, with files that tell spanFiles before they
// are cut.
type spanFS struct {
	storage.FS
	files *spanFiles
}

// spanFile is a file of spanFS.
type spanFile struct {
	storage.File
	files  *spanFiles
	osFile *os.File // nil when the FS beneath has no descriptors
	// inode, known once keyed is set; guarded by files.mu.
	inode fileKey
	keyed bool
}

// key returns the inode of the file; files.mu is held.
func (f *spanFile) key() (fileKey, error) {
	if f.keyed {
		return f.inode, nil
	}
	if f.osFile == nil {
		return fileKey{}, fmt.Errorf("node: %T has no descriptor", f.File)
	}
	k, err := keyOf(f.osFile)
	if err != nil {
		return fileKey{}, err
	}
	f.inode, f.keyed = k, true
	return k, nil
}

func (s spanFS) Open(name string) (storage.File, error) { return s.wrap(s.FS.Open(name)) }

// Create cuts an existing file of that name to nothing (O_TRUNC): held spans into it are
// told.
func (s spanFS) Create(name string) (storage.File, error) {
	f, err := s.wrap(s.FS.Create(name))
	if err == nil {
		s.files.cut(f.(*spanFile), 0)
	}
	return f, err
}

func (s spanFS) wrap(f storage.File, err error) (storage.File, error) {
	if err != nil {
		return nil, err
	}
	sf := &spanFile{File: f, files: s.files}
	if osf, ok := f.(interface{ OSFile() *os.File }); ok {
		sf.osFile = osf.OSFile()
	}
	return sf, nil
}

// Truncate tells spanFiles first: a writer that reads intact after sending then knows
// whether the cut may have reached the bytes it sent.
func (f *spanFile) Truncate(size int64) error {
	f.files.cut(f, size)
	return f.File.Truncate(size)
}
