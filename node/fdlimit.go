package node

import (
	"fmt"
	"syscall"
)

// fdReserve is the descriptors a node needs besides its connections and its replicas'
// logs: listeners, the metadata log, checkpoints, and outgoing peer links.
const fdReserve = 256

// filesPerReplica is the descriptors one partition replica keeps open: its active
// segment, that segment's offset index and its time index. A broker that cannot open a
// replica's log stops (disk errors are fatal), so the limit must hold
// max.broker.partitions of them.
const filesPerReplica = 3

// checkFileLimit refuses to start when the process may not open enough descriptors for
// the connections and replicas its configuration allows. (Go raises the soft limit to
// the hard limit at start-up, so the soft limit is what the process really has.)
// Connections past the limit would fail accept(2) with EMFILE, which the accept loops
// survive; a replica's log that cannot be opened stops the broker. Either is better
// refused at start with the numbers to change.
func checkFileLimit(cfg *Config) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // no limit to check against
	}
	return fileLimitError(cfg, lim.Cur)
}

// fileLimitError says why limit open files are too few for cfg, nil when they suffice.
func fileLimitError(cfg *Config, limit uint64) error {
	conns := uint64(cfg.ConnectionsMax) + uint64(cfg.PeerConnectionsMax) + fdReserve
	var replicaFiles uint64
	if cfg.Broker {
		replicaFiles = uint64(cfg.BrokerPartitionsMax) * filesPerReplica
	}
	if need := conns + replicaFiles; limit < need {
		return fmt.Errorf("the open-file limit is %d, below the %d that max.connections=%d, peer.connections.max=%d and max.broker.partitions=%d (%d files per replica) need with %d files for the data directory: raise it (ulimit -n, or LimitNOFILE= in a systemd unit) or lower max.connections or max.broker.partitions",
			limit, need, cfg.ConnectionsMax, cfg.PeerConnectionsMax, cfg.BrokerPartitionsMax, filesPerReplica, fdReserve)
	}
	return nil
}
