// Package node is the real seedlog process around the core state machine: TCP for
// clients and peers, files on disk, the clock, signals, logs and metrics.
//
// # Goroutines
//
// One goroutine, the loop, owns the core.Node. It takes an input (a client request, a
// peer message, disk completions, a timer tick), steps the core, and carries out what
// the core's Drain returned: disk ops go to the disk worker, messages to peer links,
// responses to connection writers. Nothing else touches the core, so the code that runs
// here is the code the simulator checks.
//
//   - Client connections: a reader per connection reads frames (socket.request.max.bytes;
//     an oversized, truncated or malformed frame closes that connection only), parses
//     the header and decodes the request, and hands it to the loop. It stops reading
//     while the connection has max.inflight.requests.per.connection requests waiting. A
//     writer per connection encodes the responses in request order, as the core emits
//     them; an acks=0 produce has none.
//   - The disk worker executes ops in emission order with diskexec. Ops arriving while a
//     batch runs form the next batch, whose syncs are one fsync per log (group commit).
//     Completions return to the loop in order; those before a batch's first sync return
//     before the fsync, so reads do not wait for other writers' syncs.
//   - Peer links: one outgoing connection per peer, redialled with exponential backoff
//     and jitter; messages are dropped while the peer is unreachable or its queue
//     (peer.queue.max) is full, which the protocols tolerate. Incoming peer connections
//     are read by their own goroutine.
//
// The clock is the wall time at start plus the monotonic time since, in Unix
// nanoseconds: it never goes backwards, whatever happens to the wall clock.
//
// # Stopping
//
// When the core reports a fatal error (a failed write or fsync leaves the durable state
// unknown), Run returns it; the process exits non-zero and a restart recovers from disk
// (`seedlog dev` restarts such a broker itself after a second). On SIGINT or SIGTERM the
// broker asks the controller to move its leaderships away and stops when that is done,
// or after controlled.shutdown.timeout.ms; a second signal stops it at once.
//
// # Configuration
//
// A broker reads a Kafka-style properties file (key=value lines, # comments) and then
// flags of the same names (--node.id=2), which win. Every key has a default; an unknown
// key is an error. example.properties in this directory lists every key with its
// default and meaning; Settings returns the same table. The main ones:
//
//	node.id                    this node's id
//	process.roles              broker, controller, or broker,controller
//	controller.quorum.voters   id@host:port of each voter's peer listener
//	listeners                  client listener host:port
//	advertised.listeners       host:port given to clients (default: the listener's)
//	peer.listener              peer listener (default: the node's voter address; a
//	                           node outside the quorum takes peers on its client listener)
//	log.dirs                   the data directory
//	metrics.listener           Prometheus endpoint host:port (/metrics)
//	log.flush                  sync (default; acks wait for fsync) or async (UNSAFE:
//	                           Kafka's page-cache durability, loses acknowledged records
//	                           when every replica loses power)
//
// The timings of core.Timing (controller.quorum.*.ms, broker.heartbeat.interval.ms,
// broker.session.timeout.ms, broker.lease.ms, clock.drift.max, replica.*.ms,
// request.timeout.ms) and the topic defaults of core.Defaults (num.partitions,
// default.replication.factor, min.insync.replicas, offsets.topic.num.partitions) use
// Kafka's names and defaults where Kafka has them.
//
// The data directory holds the logs (one directory per partition, Kafka's layout), the
// quorum state and metadata snapshot, a lock file (one process per directory) and
// meta.properties, which pins the directory to one node id and cluster id.
//
// # Peer protocol
//
// Nodes exchange the core's messages over TCP in a compact framing: a 4-byte preamble
// "SDLP", a handshake frame (protocol version, sender node id, cluster id, the sender's
// peer address; a peer from another cluster is refused), then frames of a u32
// big-endian length and one message. Each node writes only on the connections it
// opened. A node finds a peer at its configured address (controller.quorum.voters,
// peers), else at the address its handshake announced, else at the client address of its
// broker registration. The preamble, read as a Kafka frame size, exceeds any allowed
// request, so the client listener also accepts peers: a broker outside the quorum needs
// no peer listener of its own.
//
// # Metrics
//
// metrics.listener serves the Prometheus text format at /metrics: request counts and
// latency histograms per API (seedlog_requests_total, seedlog_request_duration_seconds),
// client and peer bytes, dropped peer messages, bad frames, connections, fsync latency
// per group commit (seedlog_fsync_duration_seconds), the quorum's role, epoch, leader
// and high watermark, the broker's lease, and per partition replica: ISR size (on the
// leader), high watermark, log end offset, and the count of under-replicated partitions
// led here. Gauges of the core's state are read on the loop at scrape time. The same
// listener serves Go's profiles at /debug/pprof/.
package node
