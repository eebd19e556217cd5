package disksim

import (
	"io"
	"io/fs"
	"syscall"

	"github.com/seedlog/seedlog/storage"
)

// handle is an open file. It names the inode it was opened on, so it keeps working on an
// unlinked or renamed file as an OS file descriptor does.
type handle struct {
	fs     *FS
	n      *inode
	name   string
	closed bool
}

var _ storage.File = (*handle)(nil)

func (f *FS) openHandle(n *inode, name string) *handle {
	n.opens++
	f.recount(n)
	return &handle{fs: f, n: n, name: name}
}

func (h *handle) check(op string) error {
	h.fs.mustLive()
	if h.closed {
		return pathErr(op, h.name, fs.ErrClosed)
	}
	return nil
}

// ReadAt reads from the current image. With Faults.ReadCorruptProb one bit of the
// returned bytes may be flipped; the stored bytes stay intact.
func (h *handle) ReadAt(p []byte, off int64) (int, error) {
	if err := h.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", h.name, syscall.EINVAL)
	}
	n := h.n.file.read(p, off)
	if n > 0 && chance(h.fs.rng, h.fs.cfg.Faults.ReadCorruptProb) {
		p[h.fs.rng.IntN(n)] ^= 1 << h.fs.rng.IntN(8)
		h.fs.stats.ReadCorruptions++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes to the current image. A failed write (EIO or ENOSPC) writes nothing.
func (h *handle) WriteAt(p []byte, off int64) (int, error) {
	if err := h.check("write"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", h.name, syscall.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := h.fs.writeFault(h.n, off+int64(len(p))); err != nil {
		return 0, pathErr("write", h.name, err)
	}
	fd := h.n.file
	before := fd.cur.size
	fd.write(p, off)
	h.fs.grow(h.n, fd.cur.size-before)
	return len(p), nil
}

// writeFault decides whether a write that ends at end fails, and how.
func (f *FS) writeFault(n *inode, end int64) error {
	fd, faults := n.file, f.cfg.Faults
	if fd.failNextWrite {
		fd.failNextWrite = false
		f.stats.WriteEIO++
		return syscall.EIO
	}
	if chance(f.rng, faults.WriteEIOProb) {
		f.stats.WriteEIO++
		return syscall.EIO
	}
	if growth := end - fd.cur.size; growth > 0 && faults.CapacityBytes > 0 && f.usedBytes+growth > faults.CapacityBytes {
		f.stats.ENOSPCCapacity++
		return syscall.ENOSPC
	}
	if chance(f.rng, faults.ENOSPCProb) {
		f.stats.ENOSPCRandom++
		return syscall.ENOSPC
	}
	return nil
}

// grow accounts for a change of n's current size.
func (f *FS) grow(n *inode, delta int64) {
	if n.counted {
		f.usedBytes += delta
	}
}

// Truncate sets the current size. Shrinking removes data; growing adds zeros.
func (h *handle) Truncate(size int64) error {
	if err := h.check("truncate"); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", h.name, syscall.EINVAL)
	}
	fd := h.n.file
	before := fd.cur.size
	fd.truncate(size)
	h.fs.grow(h.n, size-before)
	return nil
}

// Sync makes the current image durable. A failed Sync (injected) makes nothing durable
// and marks every unsynced byte lost: no later Sync will make it durable.
func (h *handle) Sync() error {
	if err := h.check("sync"); err != nil {
		return err
	}
	fd := h.n.file
	if fd.failNextSync || chance(h.fs.rng, h.fs.cfg.Faults.SyncEIOProb) {
		fd.failNextSync = false
		h.fs.stats.SyncEIO++
		h.fs.stats.LostBytes += fd.markLost()
		return pathErr("sync", h.name, syscall.EIO)
	}
	fd.sync()
	return nil
}

// Size returns the current size.
func (h *handle) Size() (int64, error) {
	if err := h.check("stat"); err != nil {
		return 0, err
	}
	return h.n.file.cur.size, nil
}

// Close releases the handle; a second Close fails.
func (h *handle) Close() error {
	if err := h.check("close"); err != nil {
		return err
	}
	h.closed = true
	h.n.opens--
	h.fs.release(h.n)
	return nil
}
