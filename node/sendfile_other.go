//go:build !linux

package node

import (
	"errors"
	"net"
	"os"
)

// canSendfile says whether sendFile sends: elsewhere than on Linux spans are copied.
const canSendfile = false

func sendFile(c *net.TCPConn, f *os.File, pos, n int64) (int64, error) {
	return 0, errors.ErrUnsupported
}
