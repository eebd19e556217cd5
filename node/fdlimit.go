package node

import (
	"fmt"
	"syscall"
)

// fdReserve is the descriptors a node needs besides its connections: listeners, the
// data directory's logs and indexes, checkpoints, and outgoing peer links.
const fdReserve = 256

// checkFileLimit refuses to start when the process may not open enough descriptors for
// the connections its configuration allows. (Go raises the soft limit to the hard limit
// at start-up, so the soft limit is what the process really has.) Connections past the
// limit would fail accept(2) with EMFILE; the accept loops survive that, but a
// configuration that invites it is better refused with the number to change.
func checkFileLimit(cfg *Config) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // no limit to check against
	}
	need := uint64(cfg.ConnectionsMax) + uint64(cfg.PeerConnectionsMax) + fdReserve
	if lim.Cur < need {
		return fmt.Errorf("the open-file limit is %d, below the %d that max.connections=%d and peer.connections.max=%d need with %d files for the data directory: raise it (ulimit -n, or LimitNOFILE= in a systemd unit) or lower max.connections",
			lim.Cur, need, cfg.ConnectionsMax, cfg.PeerConnectionsMax, fdReserve)
	}
	return nil
}
