package disksim

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"

	"github.com/seedlog/seedlog/storage"
)

// tb is what the helpers need from *testing.T and *rapid.T alike.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func newFS(t tb, seed uint64, cfg Config) *FS {
	t.Helper()
	return New(seeded(seed), cfg)
}

// checked fails the test when the FS's internal invariants are broken.
func checked(t tb, f *FS) {
	t.Helper()
	if err := f.CheckInvariants(); err != nil {
		t.Fatalf("invariants: %v\n%s", err, f.DumpTree())
	}
}

func must(t tb, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func create(t tb, f *FS, name string) storage.File {
	t.Helper()
	h, err := f.Create(name)
	must(t, err)
	return h
}

func open(t tb, f *FS, name string) storage.File {
	t.Helper()
	h, err := f.Open(name)
	must(t, err)
	return h
}

func writeAt(t tb, h storage.File, p []byte, off int64) {
	t.Helper()
	n, err := h.WriteAt(p, off)
	if err != nil || n != len(p) {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(p), off, n, err)
	}
}

// writeFile creates name with data and optionally syncs it; it leaves the directory
// unsynced.
func writeFile(t tb, f *FS, name string, data []byte, sync bool) {
	t.Helper()
	h := create(t, f, name)
	writeAt(t, h, data, 0)
	if sync {
		must(t, h.Sync())
	}
	must(t, h.Close())
}

// contents reads the whole of name as the current view has it.
func contents(t tb, f *FS, name string) []byte {
	t.Helper()
	h := open(t, f, name)
	defer h.Close()
	size, err := h.Size()
	must(t, err)
	p := make([]byte, size)
	n, err := h.ReadAt(p, 0)
	if n != len(p) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt whole %s: %d, %v", name, n, err)
	}
	return p
}

func exists(t tb, f *FS, name string) bool {
	t.Helper()
	_, err := f.Stat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(%s): %v", name, err)
	}
	return err == nil
}

// pattern returns n bytes that differ from their neighbours and from pattern(seed+1).
func pattern(seed byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7+i/251) ^ seed
	}
	return p
}

func wantErr(t tb, err error, target error, op string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", op, err, target)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: %T is not a *fs.PathError", op, err)
	}
}

func TestCreateWriteReadTruncate(t *testing.T) {
	f := newFS(t, 1, Config{})
	h := create(t, f, "a.log")
	data := pattern(1, 10000)
	writeAt(t, h, data, 0)
	writeAt(t, h, []byte("xyz"), 5000)
	copy(data[5000:], "xyz")

	got := make([]byte, 10000)
	n, err := h.ReadAt(got, 0)
	if n != 10000 || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAt = %d, %v, equal=%v", n, err, bytes.Equal(got, data))
	}
	n, err = h.ReadAt(got, 9990)
	if n != 10 || err != io.EOF || !bytes.Equal(got[:10], data[9990:]) {
		t.Fatalf("ReadAt across the end = %d, %v", n, err)
	}
	if n, err := h.ReadAt(got, 10000); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end = %d, %v", n, err)
	}
	if n, err := h.ReadAt(nil, 20000); n != 0 || err != nil {
		t.Fatalf("empty ReadAt = %d, %v", n, err)
	}

	// A write past the end leaves a zero-filled gap.
	writeAt(t, h, []byte{9}, 20000)
	if size, _ := h.Size(); size != 20001 {
		t.Fatalf("size after sparse write = %d", size)
	}
	gap := make([]byte, 100)
	h.ReadAt(gap, 15000)
	if !bytes.Equal(gap, make([]byte, 100)) {
		t.Fatal("gap not zero")
	}

	// Shrinking then growing exposes zeros, not the old bytes.
	must(t, h.Truncate(4100))
	must(t, h.Truncate(9000))
	tail := make([]byte, 9000-4100)
	h.ReadAt(tail, 4100)
	if !bytes.Equal(tail, make([]byte, len(tail))) {
		t.Fatal("bytes beyond a truncate came back")
	}
	head := make([]byte, 4100)
	h.ReadAt(head, 0)
	if !bytes.Equal(head, data[:4100]) {
		t.Fatal("truncate damaged the kept bytes")
	}
	if info, err := f.Stat("a.log"); err != nil || info != (storage.FileInfo{Size: 9000}) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	must(t, h.Close())
	checked(t, f)
}

func TestCreateReplacesWithNewInode(t *testing.T) {
	f := newFS(t, 1, Config{})
	writeFile(t, f, "x", []byte("old contents"), true)
	old := open(t, f, "x")
	h := create(t, f, "x")
	if size, _ := h.Size(); size != 0 {
		t.Fatalf("Create of an existing name: size %d", size)
	}
	writeAt(t, h, []byte("new"), 0)
	buf := make([]byte, 12)
	if n, _ := old.ReadAt(buf, 0); n != 12 || string(buf) != "old contents" {
		t.Fatalf("old handle reads %q", buf[:n])
	}
	if got := contents(t, f, "x"); string(got) != "new" {
		t.Fatalf("name reads %q", got)
	}
	must(t, old.Close())
	must(t, h.Close())
	checked(t, f)
}

func TestDirectoriesListStatRemoveRename(t *testing.T) {
	f := newFS(t, 1, Config{})
	must(t, f.MkdirAll("d/e/f"))
	must(t, f.MkdirAll("d/e")) // exists already
	must(t, f.MkdirAll("."))
	writeFile(t, f, "d/b", []byte("b"), false)
	writeFile(t, f, "d/a", []byte("a"), false)
	names, err := f.List("d")
	must(t, err)
	if !slices.Equal(names, []string{"a", "b", "e"}) {
		t.Fatalf("List = %v", names)
	}
	if info, err := f.Stat("d/e"); err != nil || !info.IsDir {
		t.Fatalf("Stat dir = %+v, %v", info, err)
	}
	if names, _ := f.List("."); !slices.Equal(names, []string{"d"}) {
		t.Fatalf("List root = %v", names)
	}

	must(t, f.Rename("d/a", "d/e/a2"))
	if exists(t, f, "d/a") || string(contents(t, f, "d/e/a2")) != "a" {
		t.Fatal("rename did not move the file")
	}
	must(t, f.Rename("d/b", "d/e/a2")) // replaces a file
	if string(contents(t, f, "d/e/a2")) != "b" || exists(t, f, "d/b") {
		t.Fatal("rename did not replace the target")
	}
	must(t, f.Rename("d/e/a2", "d/e/a2")) // onto itself: nothing happens
	must(t, f.Rename("d/e", "g"))         // a directory, with its contents
	if string(contents(t, f, "g/a2")) != "b" || !exists(t, f, "g/f") || exists(t, f, "d/e") {
		t.Fatal("directory rename lost its contents")
	}
	must(t, f.MkdirAll("empty"))
	must(t, f.Rename("g/f", "empty")) // a directory onto an empty directory

	must(t, f.Remove("g/a2"))
	must(t, f.Remove("empty"))
	must(t, f.Remove("g"))
	if names, _ := f.List("."); !slices.Equal(names, []string{"d"}) {
		t.Fatalf("List root after removals = %v", names)
	}
	checked(t, f)
}

func TestErrors(t *testing.T) {
	f := newFS(t, 1, Config{})
	must(t, f.MkdirAll("d/sub"))
	writeFile(t, f, "d/file", []byte("x"), false)

	_, err := f.Open("missing")
	wantErr(t, err, fs.ErrNotExist, "Open missing")
	_, err = f.Open("d")
	wantErr(t, err, syscall.EISDIR, "Open dir")
	_, err = f.Create("nodir/x")
	wantErr(t, err, fs.ErrNotExist, "Create in missing dir")
	_, err = f.Create("d/file/x")
	wantErr(t, err, syscall.ENOTDIR, "Create under a file")
	_, err = f.Create("d/sub")
	wantErr(t, err, syscall.EISDIR, "Create over a dir")
	_, err = f.Open("d/file/x")
	wantErr(t, err, syscall.ENOTDIR, "Open under a file")
	for _, bad := range []string{"", "/abs", "../up", "a/../../b"} {
		_, err = f.Create(bad)
		wantErr(t, err, syscall.EINVAL, "Create "+bad)
		wantErr(t, f.MkdirAll(bad), syscall.EINVAL, "MkdirAll "+bad)
	}
	wantErr(t, f.MkdirAll("d/file/deeper"), syscall.ENOTDIR, "MkdirAll through a file")
	wantErr(t, f.MkdirAll("d/file"), syscall.ENOTDIR, "MkdirAll on a file")
	wantErr(t, f.Remove("d"), syscall.ENOTEMPTY, "Remove non-empty dir")
	wantErr(t, f.Remove("d/nope"), fs.ErrNotExist, "Remove missing")
	wantErr(t, f.Remove("."), syscall.EINVAL, "Remove root")
	wantErr(t, f.Rename("d/nope", "d/x"), fs.ErrNotExist, "Rename missing")
	wantErr(t, f.Rename("d/file", "nodir/x"), fs.ErrNotExist, "Rename into missing dir")
	wantErr(t, f.Rename("d", "d/sub/d"), syscall.EINVAL, "Rename dir into itself")
	wantErr(t, f.Rename("d/file", "d/sub"), syscall.EISDIR, "Rename file over dir")
	wantErr(t, f.Rename("d/sub", "d/file"), syscall.ENOTDIR, "Rename dir over file")
	must(t, f.MkdirAll("e/x"))
	wantErr(t, f.Rename("d/sub", "e"), syscall.ENOTEMPTY, "Rename over non-empty dir")
	_, err = f.List("d/file")
	wantErr(t, err, syscall.ENOTDIR, "List a file")
	_, err = f.List("nope")
	wantErr(t, err, fs.ErrNotExist, "List missing")
	_, err = f.Stat("nope")
	wantErr(t, err, fs.ErrNotExist, "Stat missing")
	wantErr(t, f.SyncDir("d/file"), syscall.ENOTDIR, "SyncDir a file")
	wantErr(t, f.SyncDir("nope"), fs.ErrNotExist, "SyncDir missing")
	wantErr(t, f.FailNextSync("nope"), fs.ErrNotExist, "FailNextSync missing")
	wantErr(t, f.CorruptAtRest("d", 0, 1), syscall.EISDIR, "CorruptAtRest dir")

	h := open(t, f, "d/file")
	_, err = h.ReadAt(make([]byte, 1), -1)
	wantErr(t, err, syscall.EINVAL, "ReadAt negative")
	_, err = h.WriteAt([]byte{1}, -1)
	wantErr(t, err, syscall.EINVAL, "WriteAt negative")
	wantErr(t, h.Truncate(-1), syscall.EINVAL, "Truncate negative")
	must(t, h.Close())
	wantErr(t, h.Close(), fs.ErrClosed, "Close twice")
	_, err = h.ReadAt(make([]byte, 1), 0)
	wantErr(t, err, fs.ErrClosed, "ReadAt closed")
	_, err = h.WriteAt([]byte{1}, 0)
	wantErr(t, err, fs.ErrClosed, "WriteAt closed")
	wantErr(t, h.Truncate(0), fs.ErrClosed, "Truncate closed")
	wantErr(t, h.Sync(), fs.ErrClosed, "Sync closed")
	_, err = h.Size()
	wantErr(t, err, fs.ErrClosed, "Size closed")
	checked(t, f)
}

func TestOpenFileSurvivesRemoveAndRename(t *testing.T) {
	f := newFS(t, 1, Config{})
	h := create(t, f, "a")
	writeAt(t, h, []byte("hello"), 0)
	must(t, f.Rename("a", "b"))
	writeAt(t, h, []byte("!"), 5)
	if got := contents(t, f, "b"); string(got) != "hello!" {
		t.Fatalf("renamed file reads %q", got)
	}
	must(t, f.Remove("b"))
	writeAt(t, h, []byte("?"), 6)
	must(t, h.Sync())
	checked(t, f)
	must(t, h.Close())
	if len(f.inodes) != 1 {
		t.Fatalf("%d inodes after closing the last handle of a removed file, want the root only", len(f.inodes))
	}
	checked(t, f)
}

func TestUseAfterCrashPanics(t *testing.T) {
	f := newFS(t, 1, Config{})
	h := create(t, f, "a")
	f.Crash(seeded(2))
	for name, op := range map[string]func(){
		"Create":  func() { f.Create("b") },
		"List":    func() { f.List(".") },
		"WriteAt": func() { h.WriteAt([]byte{1}, 0) },
		"Sync":    func() { h.Sync() },
		"Crash":   func() { f.Crash(seeded(3)) },
		"Latency": func() { f.Latency(OpSync, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s after Crash did not panic", name)
				}
			}()
			op()
		}()
	}
	_ = f.Digest() // inspection stays allowed
}

func TestUsedBytesFollowLiveFiles(t *testing.T) {
	f := newFS(t, 1, Config{})
	writeFile(t, f, "a", make([]byte, 5000), false)
	h := open(t, f, "a")
	must(t, f.Remove("a"))
	if f.usedBytes != 5000 {
		t.Fatalf("open removed file: used %d", f.usedBytes)
	}
	must(t, h.Close())
	if f.usedBytes != 0 {
		t.Fatalf("closed removed file: used %d", f.usedBytes)
	}
	checked(t, f)
}
