package storage

import (
	"fmt"
	"io/fs"
	"math"

	"github.com/seedlog/seedlog/core/plant"
)

// FileCache bounds the segment files that the logs sharing it keep open. A broker with
// thousands of partition replicas would otherwise hold a descriptor per segment, most of
// them idle: the cache closes the least recently used files past its bound and opens
// them again by name when a read or write needs them.
//
// A file written or cut since its last successful sync is pinned open until that sync:
// durability never depends on a descriptor opened after the writes (an fsync through a
// new descriptor is not guaranteed, on every system, to report a writeback error that
// happened before it was opened). So the bound holds for the files a cache may close;
// after every call, the cache holds open at most max(bound, pinned+1) files.
//
// A log reopens a file only under the name it was opened with while that name is still
// its file's (segments are renamed or replaced only after their files were closed). A
// FileCache is used by one goroutine at a time, like the logs sharing it.
type FileCache struct {
	bound  int
	open   int // files open, pinned ones included
	pinned int
	// lru links the open files that are not pinned, most recently used first.
	lru    cachedFile
	stats  FileCacheStats
	plants plant.Set
}

// FileCacheStats counts what a FileCache did.
type FileCacheStats struct {
	Open, Pinned int   // files open now, and how many of them are pinned
	Opens        int64 // files opened again after the cache closed them
	Evictions    int64 // files the cache closed to stay within its bound
}

// FileCacheBoundMin is the least bound a FileCache accepts: a read across segments
// touches a few files at once, and keeping them open until it ends spares a reopen.
const FileCacheBoundMin = 8

// NewFileCache returns a cache holding at most bound files open, besides pinned ones.
// A bound below FileCacheBoundMin is raised to it. plants are the simulator's planted
// bugs (none in the node).
func NewFileCache(bound int, plants plant.Set) *FileCache {
	c := &FileCache{bound: max(bound, FileCacheBoundMin), plants: plants}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// unboundedFiles is the cache of a log opened without one: it never closes a file.
func unboundedFiles() *FileCache { return NewFileCache(math.MaxInt, plant.Set{}) }

// Bound returns the cache's bound.
func (c *FileCache) Bound() int { return c.bound }

// Stats returns the cache's counters.
func (c *FileCache) Stats() FileCacheStats {
	s := c.stats
	s.Open, s.Pinned = c.open, c.pinned
	return s
}

// cachedFile is a segment file of a log sharing a FileCache: a File that the cache
// may close while it is clean and that opens itself again on use.
type cachedFile struct {
	c    *FileCache
	fsys FS
	name string
	f    File // nil while closed
	// dirty: written or cut since the last successful Sync; the file is pinned open.
	dirty  bool
	closed bool // by its log: every call fails
	// prev and next link it into c.lru while it is open and not dirty.
	prev, next *cachedFile
}

var _ File = (*cachedFile)(nil)

// adopt makes f, just opened or created under name, a file of the cache. A created
// file comes pinned: it is new, and its segment is synced before it holds anything
// acknowledged.
func (c *FileCache) adopt(fsys FS, name string, f File, created bool) *cachedFile {
	cf := &cachedFile{c: c, fsys: fsys, name: name, f: f}
	c.open++
	if created {
		cf.dirty = true
		c.pinned++
	} else {
		c.pushFront(cf)
	}
	c.evict(cf)
	return cf
}

func (c *FileCache) pushFront(cf *cachedFile) {
	cf.prev, cf.next = &c.lru, c.lru.next
	c.lru.next.prev = cf
	c.lru.next = cf
}

func (c *FileCache) unlink(cf *cachedFile) {
	if cf.prev == nil {
		return
	}
	cf.prev.next, cf.next.prev = cf.next, cf.prev
	cf.prev, cf.next = nil, nil
}

// evict closes the least recently used clean files until the cache is within its bound,
// never keep (the file in use).
func (c *FileCache) evict(keep *cachedFile) {
	for c.open > c.bound {
		victim := c.lru.prev
		if victim == &c.lru || victim == keep {
			return
		}
		c.unlink(victim)
		if !c.plants.On(plant.FileCacheEvictLeaks) {
			// The file is synced: a close error cannot lose anything acknowledged.
			_ = victim.f.Close()
		}
		victim.f = nil
		c.open--
		c.stats.Evictions++
	}
}

// file returns the open file, opening it again if the cache closed it, and marks it
// the most recently used.
func (cf *cachedFile) file(op string) (File, error) {
	if cf.closed {
		return nil, &fs.PathError{Op: op, Path: cf.name, Err: fs.ErrClosed}
	}
	c := cf.c
	if cf.f == nil {
		f, err := cf.fsys.Open(cf.name)
		if err != nil {
			return nil, fmt.Errorf("reopen: %w", err)
		}
		cf.f = f
		c.open++
		c.stats.Opens++
		c.pushFront(cf)
		c.evict(cf)
		return f, nil
	}
	if !cf.dirty && c.lru.next != cf {
		c.unlink(cf)
		c.pushFront(cf)
	}
	return cf.f, nil
}

// pin marks the file written: it stays open until a Sync succeeds.
func (cf *cachedFile) pin() {
	if cf.dirty {
		return
	}
	cf.c.unlink(cf)
	cf.dirty = true
	cf.c.pinned++
}

func (cf *cachedFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := cf.file("read")
	if err != nil {
		return 0, err
	}
	return f.ReadAt(p, off)
}

func (cf *cachedFile) WriteAt(p []byte, off int64) (int, error) {
	f, err := cf.file("write")
	if err != nil {
		return 0, err
	}
	cf.pin()
	return f.WriteAt(p, off)
}

func (cf *cachedFile) Truncate(size int64) error {
	f, err := cf.file("truncate")
	if err != nil {
		return err
	}
	cf.pin()
	return f.Truncate(size)
}

// Sync syncs the file, through a descriptor opened again if the cache closed it: a
// clean file's sync (recovery syncs what it scanned) is then an fsync of a file whose
// writes all came before this process or were synced through an earlier descriptor.
func (cf *cachedFile) Sync() error {
	f, err := cf.file("sync")
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err // still pinned, if it was: the log fails and closes it
	}
	if cf.dirty {
		cf.dirty = false
		cf.c.pinned--
		cf.c.pushFront(cf)
		cf.c.evict(cf)
	}
	return nil
}

// unpin lets the cache close a file that was created and never written: it holds no
// writes whose writeback error a closed descriptor could hide.
func (cf *cachedFile) unpin() {
	if !cf.dirty || cf.closed {
		return
	}
	cf.dirty = false
	cf.c.pinned--
	cf.c.pushFront(cf)
	cf.c.evict(cf)
}

func (cf *cachedFile) Size() (int64, error) {
	f, err := cf.file("stat")
	if err != nil {
		return 0, err
	}
	return f.Size()
}

// Close closes the file for good.
func (cf *cachedFile) Close() error {
	if cf.closed {
		return &fs.PathError{Op: "close", Path: cf.name, Err: fs.ErrClosed}
	}
	cf.closed = true
	c := cf.c
	if cf.dirty {
		cf.dirty = false
		c.pinned--
	}
	c.unlink(cf)
	if cf.f == nil {
		return nil
	}
	f := cf.f
	cf.f = nil
	c.open--
	return f.Close()
}

// openFile returns the descriptor a file of the log holds now, nil when its cache closed
// it: a span (ReadSpans) names the file a shell sends from.
func openFile(f File) File {
	if cf, ok := f.(*cachedFile); ok {
		if cf.f == nil {
			return nil
		}
		return cf.f
	}
	return f
}

// openSegmentFile opens the log file of a segment through the log's cache.
func (l *Log) openSegmentFile(name string) (File, error) {
	f, err := l.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return l.files.adopt(l.fsys, name, f, false), nil
}

// createSegmentFile creates the log file of a segment through the log's cache.
func (l *Log) createSegmentFile(name string) (File, error) {
	f, err := l.fsys.Create(name)
	if err != nil {
		return nil, err
	}
	return l.files.adopt(l.fsys, name, f, true), nil
}
