package node

import (
	"fmt"
	"syscall"
)

// fdReserve is the descriptors a node needs besides its connections and its replicas'
// logs: listeners, the metadata log, checkpoints, and outgoing peer links.
const fdReserve = 256

// filesPerReplica is the descriptors a partition replica may hold besides the file
// cache's log.open.files.max: its active segment, pinned open from a write until the
// fsync after it (index files are open only from a roll to that fsync).
const filesPerReplica = 1

// checkFileLimit refuses to start when the process may not open enough descriptors for
// the connections its configuration allows, and warns when what is left after the file
// cache and the span files (fetch.span.files.max) cannot hold max.broker.partitions
// replicas. (Go raises the soft limit to the hard limit at start-up, so the soft limit
// is what the process really has.) Connections past the
// limit would fail accept(2) with EMFILE, which the accept loops survive; that is
// refused at start with the numbers to change. A replica whose log cannot be opened
// stops the broker, but a broker holds as many replicas as it is given, not as many as
// the controller allows: refusing to start on a machine with a modest limit for
// partitions it may never get would trade a likely nuisance for an unlikely failure, so
// the shortfall is a warning, logged at start with the numbers to change.
func checkFileLimit(cfg *Config) (warning string, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return "", nil // no limit to check against
	}
	return fileLimitCheck(cfg, lim.Cur)
}

// fileLimitCheck says why limit open files are too few for cfg's connections (err), or
// for its replicas (warning); both are empty when they suffice.
func fileLimitCheck(cfg *Config, limit uint64) (warning string, err error) {
	conns := uint64(cfg.ConnectionsMax) + uint64(cfg.PeerConnectionsMax) + fdReserve
	if limit < conns {
		return "", fmt.Errorf("the open-file limit is %d, below the %d that max.connections=%d and peer.connections.max=%d need with %d files for the data directory: raise it (ulimit -n, or LimitNOFILE= in a systemd unit) or lower max.connections",
			limit, conns, cfg.ConnectionsMax, cfg.PeerConnectionsMax, fdReserve)
	}
	if !cfg.Broker {
		return "", nil // a controller-only node holds no replicas
	}
	conns += uint64(cfg.OpenFilesMax) + uint64(cfg.SpanFilesMax)
	if need := conns + uint64(cfg.BrokerPartitionsMax)*filesPerReplica; limit < need {
		return fmt.Sprintf("the open-file limit %d holds the logs of %d partition replicas (%d file each) besides max.connections=%d, peer.connections.max=%d, log.open.files.max=%d and fetch.span.files.max=%d, fewer than max.broker.partitions=%d: a broker given more stops when it cannot open a log; raise the limit to %d (ulimit -n, or LimitNOFILE= in a systemd unit) or lower max.broker.partitions",
			limit, (limit-min(limit, conns))/filesPerReplica, filesPerReplica, cfg.ConnectionsMax, cfg.PeerConnectionsMax, cfg.OpenFilesMax, cfg.SpanFilesMax, cfg.BrokerPartitionsMax, need), nil
	}
	return "", nil
}
