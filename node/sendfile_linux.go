package node

import (
	"io"
	"net"
	"os"
	"syscall"
)

// canSendfile says whether sendFile sends (it does on Linux).
const canSendfile = true

// sendfileChunkMax bounds one sendfile(2) call.
const sendfileChunkMax = 1 << 30

// sendFile writes the n bytes of f at pos to c with sendfile(2): the kernel moves them
// from the page cache to the socket without the process touching them. The position is
// the call's own, not the file's offset, so sends from one file on several connections
// do not disturb each other. It waits while the socket's buffer is full, as a write
// does, and returns the bytes sent; a file that ends before pos+n is an
// io.ErrUnexpectedEOF.
func sendFile(c *net.TCPConn, f *os.File, pos, n int64) (int64, error) {
	dst, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	src, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var sendErr error
	ctlErr := src.Control(func(sfd uintptr) {
		err := dst.Write(func(dfd uintptr) bool {
			for sent < n {
				off := pos + sent
				k, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(n-sent, sendfileChunkMax)))
				if k > 0 {
					sent += int64(k)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
				case err != nil:
					sendErr = err
					return true
				case k == 0:
					sendErr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = err
		}
	})
	if sendErr == nil {
		sendErr = ctlErr
	}
	if sendErr != nil {
		return sent, &os.SyscallError{Syscall: "sendfile", Err: sendErr}
	}
	return sent, nil
}
