package storage

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func TestOSFSFileOperations(t *testing.T) {
	o := NewOSFS(t.TempDir())
	f, err := o.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("hello world"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("!"), 20); err != nil {
		t.Fatal(err)
	}
	if size, err := f.Size(); err != nil || size != 21 {
		t.Fatalf("size %d, %v; want 21", size, err)
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
		t.Fatalf("read %q, %d, %v", buf, n, err)
	}
	if n, err := f.ReadAt(buf, 18); n != 3 || !errors.Is(err, io.EOF) {
		t.Fatalf("short read: %d, %v; want 3, EOF", n, err)
	}
	if err := f.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(o, "a")
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	// Create truncates an existing file.
	f, err = o.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, err := o.Stat("a"); err != nil || st.Size != 0 || st.IsDir {
		t.Fatalf("stat after create: %+v, %v", st, err)
	}
}

func TestOSFSDirectoryOperations(t *testing.T) {
	root := t.TempDir()
	o := NewOSFS(root)
	if err := o.MkdirAll("d/e"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d/c", "d/a", "d/b"} {
		f, err := o.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	names, err := o.List("d")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "e"}; !slices.Equal(names, want) {
		t.Fatalf("List = %v, want %v", names, want)
	}
	if st, err := o.Stat("d/e"); err != nil || !st.IsDir {
		t.Fatalf("stat dir: %+v, %v", st, err)
	}
	if err := o.Rename("d/a", "d/b"); err != nil {
		t.Fatal(err)
	}
	if names, _ := o.List("d"); !slices.Equal(names, []string{"b", "c", "e"}) {
		t.Fatalf("after rename: %v", names)
	}
	if err := o.SyncDir("d"); err != nil {
		t.Fatal(err)
	}
	if err := o.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("d/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "d", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removed file still there: %v", err)
	}
}

// TestOSFSErrorsKeepErrno checks that callers can test errors with errors.Is against both
// the io/fs sentinels and the errnos, as FS promises.
func TestOSFSErrorsKeepErrno(t *testing.T) {
	o := NewOSFS(t.TempDir())
	_, err := o.Open("missing")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("open missing: %v", err)
	}
	if err := o.MkdirAll("full"); err != nil {
		t.Fatal(err)
	}
	f, _ := o.Create("full/x")
	f.Close()
	if err := o.Remove("full"); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("remove non-empty dir: %v", err)
	}
	if _, err := o.List("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("list missing: %v", err)
	}
	if err := o.SyncDir("missing"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("syncdir missing: %v", err)
	}
	if _, err := o.Create("nodir/x"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("create in missing dir: %v", err)
	}
}

func TestOSFSRejectsEscapingNames(t *testing.T) {
	o := NewOSFS(t.TempDir())
	for _, name := range []string{"../x", "/etc/passwd", "a/../../x", ""} {
		if _, err := o.Create(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Create(%q) = %v, want fs.ErrInvalid", name, err)
		}
		if _, err := o.Stat(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Stat(%q) = %v, want fs.ErrInvalid", name, err)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	for name, fsys := range map[string]FS{"os": NewOSFS(t.TempDir()), "mem": newMemFS()} {
		t.Run(name, func(t *testing.T) {
			if err := WriteFileAtomic(fsys, "ck", []byte("one")); err != nil {
				t.Fatal(err)
			}
			if err := WriteFileAtomic(fsys, "ck", []byte("two")); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFile(fsys, "ck")
			if err != nil || string(got) != "two" {
				t.Fatalf("ReadFile = %q, %v", got, err)
			}
			if names, _ := fsys.List("."); !slices.Equal(names, []string{"ck"}) {
				t.Fatalf("directory holds %v, want only ck", names)
			}
			if _, err := ReadFile(fsys, "missing"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("ReadFile missing: %v", err)
			}
		})
	}
}

// TestWriteFileAtomicIsDurable checks with memFS's crash model that the new contents
// survive any crash once WriteFileAtomic returned, and that a failed write leaves the
// old contents in place.
func TestWriteFileAtomicIsDurable(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("d"); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(m, "d/ck", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(m, "d/ck", []byte("new")); err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(50) {
		img := m.crash(newRand(seed))
		got, err := ReadFile(img, "d/ck")
		if err != nil || string(got) != "new" {
			t.Fatalf("seed %d: after crash %q, %v", seed, got, err)
		}
	}

	m.syncFault = func(name string) error {
		if filepath.Base(name) == "ck.tmp" {
			return syscall.EIO
		}
		return nil
	}
	err := WriteFileAtomic(m, "d/ck", []byte("lost"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("WriteFileAtomic with failing sync: %v", err)
	}
	if got, _ := ReadFile(m, "d/ck"); !bytes.Equal(got, []byte("new")) {
		t.Fatalf("after failed write: %q", got)
	}
	if names, _ := m.List("d"); !slices.Equal(names, []string{"ck"}) {
		t.Fatalf("scratch file left behind: %v", names)
	}
}
