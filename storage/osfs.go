package storage

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// OSFS is an FS backed by the operating system, rooted at a directory. Errors are the
// *os.PathError values the os package returns, so errors.Is(err, syscall.EIO) and
// errors.Is(err, fs.ErrNotExist) work as FS promises.
type OSFS struct {
	root string
}

// NewOSFS returns an FS whose names resolve below root. It does not touch the disk: root
// must exist before the first call that needs it.
func NewOSFS(root string) *OSFS {
	return &OSFS{root: root}
}

// Root returns the directory the FS is rooted at.
func (o *OSFS) Root() string { return o.root }

// path turns an FS name into an OS path. Names that could escape the root (absolute,
// "..", empty elements) are refused so that a bad name from a caller cannot touch files
// outside the data directory.
func (o *OSFS) path(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return filepath.Join(o.root, filepath.FromSlash(name)), nil
}

const (
	osFilePerm = 0o644
	osDirPerm  = 0o755
)

// Create implements FS.
func (o *OSFS) Create(name string) (File, error) {
	p, err := o.path("create", name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, osFilePerm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Open implements FS.
func (o *OSFS) Open(name string) (File, error) {
	p, err := o.path("open", name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove implements FS.
func (o *OSFS) Remove(name string) error {
	p, err := o.path("remove", name)
	if err != nil {
		return err
	}
	return os.Remove(p)
}

// Rename implements FS.
func (o *OSFS) Rename(oldname, newname string) error {
	po, err := o.path("rename", oldname)
	if err != nil {
		return err
	}
	pn, err := o.path("rename", newname)
	if err != nil {
		return err
	}
	return os.Rename(po, pn)
}

// MkdirAll implements FS.
func (o *OSFS) MkdirAll(dir string) error {
	p, err := o.path("mkdir", dir)
	if err != nil {
		return err
	}
	return os.MkdirAll(p, osDirPerm)
}

// List implements FS. os.ReadDir already sorts by name.
func (o *OSFS) List(dir string) ([]string, error) {
	p, err := o.path("list", dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// Stat implements FS.
func (o *OSFS) Stat(name string) (FileInfo, error) {
	p, err := o.path("stat", name)
	if err != nil {
		return FileInfo{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Size: st.Size(), IsDir: st.IsDir()}, nil
}

// SyncDir implements FS: a directory's entries become durable when the directory itself
// is fsynced, which needs a descriptor opened on it.
func (o *OSFS) SyncDir(dir string) error {
	p, err := o.path("syncdir", dir)
	if err != nil {
		return err
	}
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	if syncErr != nil {
		return syncErr
	}
	if closeErr != nil {
		return fmt.Errorf("close directory after sync: %w", closeErr)
	}
	return nil
}

// osFile adapts *os.File to File.
//
// Sync is fsync(2) through (*os.File).Sync, not fdatasync: seedlog appends, so every
// sync also has to persist the file's new size, which fdatasync must write as well; the
// mtime update fsync adds costs nothing measurable next to that (BenchmarkAppendSync shows
// the log at the plain file's speed), and fsync is the portable call (on macOS Go maps it
// to F_FULLFSYNC, which is what durability needs there).
type osFile struct {
	f *os.File
}

func (f osFile) ReadAt(p []byte, off int64) (int, error)  { return f.f.ReadAt(p, off) }
func (f osFile) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }
func (f osFile) Truncate(size int64) error                { return f.f.Truncate(size) }
func (f osFile) Sync() error                              { return f.f.Sync() }
func (f osFile) Close() error                             { return f.f.Close() }

// OSFile returns the *os.File beneath: a shell that sends file bytes to sockets itself
// (sendfile) needs the descriptor.
func (f osFile) OSFile() *os.File { return f.f }

func (f osFile) Size() (int64, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
