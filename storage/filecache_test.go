package storage

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

// countingFS counts, into n, the files open on an FS and the most open at once.
type countingFS struct {
	FS
	n *fileCount
}

type fileCount struct{ open, peak int }

type countedFile struct {
	File
	fs     *countingFS
	closed bool
}

func (c *countingFS) opened(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	c.n.open++
	c.n.peak = max(c.n.peak, c.n.open)
	return &countedFile{File: f, fs: c}, nil
}

func (c *countingFS) Create(name string) (File, error) { return c.opened(c.FS.Create(name)) }
func (c *countingFS) Open(name string) (File, error)   { return c.opened(c.FS.Open(name)) }

func (f *countedFile) Close() error {
	if !f.closed {
		f.closed = true
		f.fs.n.open--
	}
	return f.File.Close()
}

// TestFileCacheHoldsTenThousandLogs opens, writes, reads, closes and reopens 10,000
// logs through a cache of 256 files: the files open at once stay within the bound (plus
// the few one log's operation opens: a rolled and a new segment pinned until the sync,
// the rolled one's index files, a checkpoint), and every log reads back what was
// written.
func TestFileCacheHoldsTenThousandLogs(t *testing.T) {
	const logs, bound, perOp = 10_000, 256, 5
	// A disk per log: the test FS lists a directory by looking at every file it holds.
	count := &fileCount{}
	disks := make([]FS, logs)
	for i := range disks {
		disks[i] = &countingFS{FS: newMemFS(), n: count}
	}
	cfg := LogConfig{SegmentBytesMax: 150}
	open := func() []*Log {
		cfg.Files = NewFileCache(bound, plant.Set{})
		ls := make([]*Log, logs)
		for i := range ls {
			ls[i] = mustOpen(t, disks[i], fmt.Sprintf("p-%d", i), cfg)
		}
		return ls
	}
	ls := open()
	want := make([][]byte, logs)
	for round := range 3 {
		for i, l := range ls {
			// Every round rolls a segment (150 bytes hold one such batch).
			b := simpleBatch(t, l.EndOffset(), 3, int64(round))
			if err := l.Append(b); err != nil {
				t.Fatalf("append to log %d: %v", i, err)
			}
			if err := l.Sync(); err != nil {
				t.Fatalf("sync log %d: %v", i, err)
			}
			want[i] = append(want[i], b...)
		}
	}
	check := func(ls []*Log) {
		t.Helper()
		for i, l := range ls {
			got, err := l.Read(0, l.EndOffset(), 1<<20)
			if err != nil || !bytes.Equal(got, want[i]) {
				t.Fatalf("log %d reads %d bytes (%v), want %d", i, len(got), err, len(want[i]))
			}
			if n := len(l.Segments()); n < 3 {
				t.Fatalf("log %d has %d segments; the test means to roll", i, n)
			}
		}
	}
	check(ls)
	if s := cfg.Files.Stats(); s.Open > bound || s.Pinned != 0 || s.Evictions == 0 || s.Opens == 0 {
		t.Fatalf("cache after syncs: %+v, want at most %d open, none pinned, files closed and reopened", s, bound)
	}
	for _, l := range ls {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if count.open != 0 {
		t.Fatalf("%d files open after every log closed", count.open)
	}
	ls = open()
	check(ls)
	for _, l := range ls {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if count.peak > bound+perOp {
		t.Fatalf("%d files were open at once, want at most %d", count.peak, bound+perOp)
	}
}

// TestFileCachePinsUnsyncedFiles: a file written since its last sync is never closed by
// the cache, whatever the bound; once synced it is, and the log reads it back through a
// file opened again.
func TestFileCachePinsUnsyncedFiles(t *testing.T) {
	const logs = 3 * FileCacheBoundMin
	count := &fileCount{}
	fsys := &countingFS{FS: newMemFS(), n: count}
	files := NewFileCache(FileCacheBoundMin, plant.Set{})
	ls := make([]*Log, logs)
	batches := make([][]byte, logs)
	for i := range ls {
		ls[i] = mustOpen(t, fsys, fmt.Sprintf("p-%d", i), LogConfig{Files: files})
	}
	for i, l := range ls {
		batches[i] = simpleBatch(t, 0, 2, 1)
		if err := l.Append(batches[i]); err != nil {
			t.Fatal(err)
		}
	}
	if s := files.Stats(); s.Open != logs || s.Pinned != logs {
		t.Fatalf("cache with every log written and none synced: %+v, want all %d open and pinned", s, logs)
	}
	for _, l := range ls {
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if s := files.Stats(); s.Open != FileCacheBoundMin || s.Pinned != 0 {
		t.Fatalf("cache after the syncs: %+v, want %d open, none pinned", s, FileCacheBoundMin)
	}
	for i, l := range ls {
		got, err := l.Read(0, l.EndOffset(), 1<<20)
		if err != nil || !bytes.Equal(got, batches[i]) {
			t.Fatalf("log %d reads %d bytes (%v), want its batch", i, len(got), err)
		}
	}
	if s := files.Stats(); s.Open != FileCacheBoundMin || s.Opens < logs-FileCacheBoundMin {
		t.Fatalf("cache after reading every log: %+v", s)
	}
	for _, l := range ls {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if s := files.Stats(); s.Open != 0 || count.open != 0 {
		t.Fatalf("after closing: cache %+v, %d files open", s, count.open)
	}
}

// TestFileCacheNeverEvictsTheFileInUse: with every other file pinned, the file a call
// needs stays open past the bound until the next call needs another.
func TestFileCacheNeverEvictsTheFileInUse(t *testing.T) {
	fsys := newMemFS()
	c := NewFileCache(FileCacheBoundMin, plant.Set{})
	var fs []*cachedFile
	for i := range FileCacheBoundMin + 2 {
		name := fmt.Sprintf("f%d", i)
		f, err := fsys.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, c.adopt(fsys, name, f, true))
	}
	if s := c.Stats(); s.Open != FileCacheBoundMin+2 || s.Pinned != FileCacheBoundMin+2 {
		t.Fatalf("%+v", s)
	}
	// Sync one: it is the only clean file, and stays open although the cache is over.
	if err := fs[0].Sync(); err != nil {
		t.Fatal(err)
	}
	if fs[0].f == nil || c.Stats().Open != FileCacheBoundMin+2 {
		t.Fatalf("the synced file was closed while in use: %+v", c.Stats())
	}
	// Sync another: the first goes, being clean and the least recently used.
	if err := fs[1].Sync(); err != nil {
		t.Fatal(err)
	}
	if fs[0].f != nil || fs[1].f == nil || c.Stats().Open != FileCacheBoundMin+1 {
		t.Fatalf("after a second sync: %+v", c.Stats())
	}
	if _, err := fs[0].WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if fs[0].f == nil || !fs[0].dirty || fs[1].f != nil {
		t.Fatalf("a write reopens its file pinned and the other clean file goes: %+v", c.Stats())
	}
	for _, f := range fs {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fs[0].ReadAt(make([]byte, 1), 0); err == nil {
		t.Fatal("read of a closed file succeeded")
	}
	if s := c.Stats(); s.Open != 0 || s.Pinned != 0 {
		t.Fatalf("after closing every file: %+v", s)
	}
}
