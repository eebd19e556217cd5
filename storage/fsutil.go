package storage

import (
	"errors"
	"fmt"
	"io"
	"path"
)

// TmpSuffix ends the name of the scratch file WriteFileAtomic writes before renaming it
// into place. A file with this suffix left in a log directory is the debris of a crash and
// OpenLog removes it.
const TmpSuffix = ".tmp"

// WriteFileAtomic replaces name with data so that after a crash the file holds either
// its old contents or data, never a mix: it writes name+".tmp", syncs it, renames it over
// name and syncs the parent directory. When it returns nil the new contents are durable.
func WriteFileAtomic(fsys FS, name string, data []byte) error {
	tmp := name + TmpSuffix
	if err := writeAndSync(fsys, tmp, data); err != nil {
		// Best effort: the scratch file is harmless, and recovery removes it anyway.
		_ = fsys.Remove(tmp)
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, name); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("storage: rename %s to %s: %w", tmp, name, err)
	}
	if err := fsys.SyncDir(path.Dir(name)); err != nil {
		return fmt.Errorf("storage: sync directory of %s: %w", name, err)
	}
	return nil
}

func writeAndSync(fsys FS, name string, data []byte) error {
	f, err := fsys.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// ReadFile returns the whole contents of name.
func ReadFile(fsys FS, name string) ([]byte, error) {
	return ReadFileAtMost(fsys, name, -1)
}

// ErrFileTooLarge reports a file larger than its reader allows: none written by the
// storage could be, so it is garbled, and nothing is allocated for it.
var ErrFileTooLarge = errors.New("storage: file too large")

// ReadFileAtMost is ReadFile for a file that holds at most limit bytes (limit < 0: no
// bound); a larger one is an error wrapping ErrFileTooLarge.
func ReadFileAtMost(fsys FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", name, err)
	}
	data, err := readAll(f, limit)
	closeErr := f.Close()
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", name, err)
	}
	if closeErr != nil {
		return nil, fmt.Errorf("storage: close %s: %w", name, closeErr)
	}
	return data, nil
}

func readAll(f File, limit int64) ([]byte, error) {
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if limit >= 0 && size > limit {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFileTooLarge, size, limit)
	}
	data := make([]byte, size)
	if err := readFull(f, data, 0); err != nil {
		return nil, err
	}
	return data, nil
}

// readFull reads exactly len(p) bytes at off. A file that ends early is an error here:
// every caller knows how many bytes the file holds.
func readFull(f File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("read %d bytes at %d: got %d: %w", len(p), off, n, io.ErrUnexpectedEOF)
	}
	return err
}
