package storage

// FS is the boundary between seedlog and a disk. The OS implementation (OSFS) and the
// simulated disk (disksim) both satisfy it, so the partition log, the metadata log and
// every checkpoint run the same code in the real and the simulated world.
//
// Names are slash-separated and relative to the root of the FS. Durability follows POSIX
// as seedlog assumes it:
//
//   - bytes written to a file survive a crash only once File.Sync has returned nil since
//     they were written;
//   - a created, renamed or removed directory entry survives a crash only once SyncDir of
//     its parent directory has returned nil since the change;
//   - after a Sync that fails, the bytes written since the last good Sync may be gone even
//     if a later Sync succeeds. Callers must treat the file's tail as unknown.
//
// Errors wrap the io/fs sentinels (fs.ErrNotExist, fs.ErrExist) and the syscall errnos
// (syscall.EIO, syscall.ENOSPC) so callers can use errors.Is in both worlds.
type FS interface {
	// Create creates name, truncating it if it exists, and opens it for reading and writing.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Rename atomically replaces newname with oldname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// Stat returns the size of a file in bytes, and whether it is a directory.
	Stat(name string) (FileInfo, error)
	// SyncDir makes the entries of dir (creations, renames, removals) durable.
	SyncDir(dir string) error
}

// FileInfo describes a file or directory.
type FileInfo struct {
	Size  int64
	IsDir bool
}

// File is an open file. A File is used by one goroutine at a time.
type File interface {
	// ReadAt reads len(p) bytes at off. It returns io.EOF when fewer bytes exist.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes p at off, extending the file if needed.
	WriteAt(p []byte, off int64) (int, error)
	// Truncate sets the file's size.
	Truncate(size int64) error
	// Sync makes the file's contents durable.
	Sync() error
	// Size returns the file's current size in bytes.
	Size() (int64, error)
	Close() error
}
