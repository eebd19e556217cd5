// Package node is the real seedlog process around the core state machine: TCP for
// clients and peers, files on disk, the clock, signals, logs and metrics.
//
// # Goroutines
//
// One goroutine, the loop, owns the core.Node. It takes an input (a client request, a
// peer message, disk completions, a timer tick) and whatever else is already waiting, up
// to core.InputBatchMax inputs, steps the core with each, and carries out what the
// core's Drain returned for all of them: disk ops go to the disk worker, messages to peer links,
// responses to connection writers. Nothing else touches the core, so the code that runs
// here is the code the simulator checks.
//
//   - Listeners: one accept loop per listener of the listeners setting. Client
//     listeners serve Kafka clients only; the controller and inter-broker listeners
//     serve peers only. An accept that fails because descriptors or buffers ran out
//     is retried with backoff, never the end of the listener; refusals of every kind
//     are logged at most once per ten seconds per reason, with a count.
//   - Client connections: a reader per connection takes an in-flight slot
//     (max.inflight.requests.per.connection), waits for the next frame (a connection
//     with nothing in flight that stays silent for connections.max.idle.ms is
//     closed), then reads the frame within socket.request.read.timeout.ms. The body
//     goes into a buffer that grows only as bytes arrive, charged against
//     queued.max.request.bytes across all connections (see budget.go: nearly-complete
//     requests are served first, and stalled ones are evicted when memory is short).
//     The reader decodes the request and hands it to the loop, which returns the
//     bytes to the budget once it took the request. A writer per connection encodes
//     the responses in request order, as the core emits them; an acks=0 produce has
//     none, but holds its slot until the core emits its completion (a nil response), so
//     the reader never has more in flight than the core counts against the same bound.
//     The write buffer is allocated with the first response. A Fetch response's records
//     are spans of segment files, which the writer sends with sendfile between the
//     frame's own bytes (frames.go; spans.go says how a file stays what the read saw).
//   - The disk worker executes ops with diskexec in two lanes (disk.Lane), each on a
//     goroutine and an executor of its own and in emission order: the controller
//     quorum's (its metadata log and state files), and the partitions'. The quorum's
//     syncs thus never wait behind thousands of log creations or a restart's recovery
//     work. In a lane, ops arriving while a batch runs form the next batch, whose syncs
//     are one fsync per log (group commit). Completions return to the loop in lane
//     order; those before a batch's first sync return before the fsync, so reads do not
//     wait for other writers' syncs. The lanes, the batches and which completions leave
//     before the fsync are diskexec's (LaneOf, Queue, Batch), which the simulator runs
//     too; a lane only takes its whole queue when it is free.
//   - Peer links: one outgoing connection per peer, redialled with exponential backoff
//     and jitter; messages are dropped while the peer is unreachable or its queue
//     (peer.queue.max) is full, which the protocols tolerate. Incoming peer
//     connections (at most peer.connections.max, the oldest unfinished handshake
//     making room for a new one) are authenticated, then read by their own goroutine.
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
// when the metadata quorum has had no leader for three election timeouts (the last
// broker of a cluster stopped one by one: nothing can move its leaderships), or after
// controlled.shutdown.timeout.ms; a second signal stops it at once.
//
// # Configuration
//
// A broker reads a Kafka-style properties file (key=value lines, # comments) and then
// flags of the same names (--node.id=2), which win. Every key has a default; an unknown
// key is an error. example.properties in this directory lists every key with its
// default and meaning; Settings returns the same table. The main ones:
//
//	node.id                         this node's id
//	process.roles                   broker, controller, or broker,controller
//	listeners                       NAME://host:port of every listener
//	                                (default PLAINTEXT://127.0.0.1:9092,PEER://127.0.0.1:9093)
//	controller.listener.names       the listeners voters take peers on (default PEER)
//	inter.broker.listener.name      the listener brokers take peers on (default: the
//	                                first controller listener)
//	listener.security.protocol.map  NAME:PROTOCOL; a PLAINTEXT peer listener
//	                                authenticates with peer.secret.file, an SSL one
//	                                with mutual TLS (peer.tls.cert.file, .key.file,
//	                                .ca.file); client listeners are PLAINTEXT, SSL,
//	                                SASL_PLAINTEXT or SASL_SSL
//	tls.cert.file, tls.key.file     certificate chain and key of the TLS client
//	                                listeners (SSL, SASL_SSL), reread when they change
//	ssl.client.auth                 none, requested or required: client certificates,
//	                                signed by tls.client.ca.file
//	advertised.listeners            NAME://host:port given out where it differs from
//	                                the bound address
//	controller.quorum.voters        id@host:port of each voter's controller listener
//	log.dirs                        the data directory
//	metrics.listener                Prometheus endpoint host:port (/metrics; :port binds
//	                                127.0.0.1); metrics.pprof.enable adds /debug/pprof/
//	log.flush                       sync (default; acks wait for fsync) or async (UNSAFE:
//	                                Kafka's page-cache durability, loses acknowledged
//	                                records when every replica loses power)
//
// Bounds on what clients and peers can make a broker hold: socket.request.max.bytes
// (one request), message.max.bytes (one batch, compressed or not: the ceiling of every
// topic's max.message.bytes), fetch.max.bytes and replica.fetch.response.max.bytes
// (one fetch response), max.incremental.fetch.session.cache.slots (fetch sessions; each
// holds at most 1000 partitions, all together at most 100,000), queued.max.request.bytes
// (request bytes across connections),
// max.connections and peer.connections.max, connections.max.idle.ms,
// socket.request.read.timeout.ms, and memory.limit.bytes (the heap's soft limit, set by
// `seedlog broker`). At start a broker checks that its descriptor limit covers
// max.connections and peer.connections.max with room for its files.
//
// The timings of core.Timing (controller.quorum.*.ms, broker.heartbeat.interval.ms,
// broker.session.timeout.ms, broker.lease.ms, clock.drift.max, replica.*.ms,
// request.timeout.ms) and the topic defaults of core.Defaults (num.partitions,
// default.replication.factor, min.insync.replicas, offsets.topic.num.partitions,
// offsets.topic.replication.factor) use Kafka's names, and Kafka's defaults where Kafka
// has them (offsets.topic.replication.factor defaults to 0: as many replicas as brokers
// are live when the first group looks for its coordinator, up to 3). So do the
// committed offsets' lifetime, offsets.retention.minutes (Kafka's 10080, one minute at
// least, about a century at most: offsets of a group with members never expire) and
// offsets.retention.check.interval.ms (600000).
//
// Every broker-level key of a topic config (min.insync.replicas, log.flush,
// message.max.bytes, log.segment.bytes, log.roll.ms, log.retention.ms,
// log.retention.bytes, log.cleanup.policy, log.message.timestamp.type,
// unclean.leader.election.enable) is a setting too. One the file or the flags give is
// this broker's static default of its topic config (Config.TopicDefaults): topics get it
// unless they, or the cluster-wide default (IncrementalAlterConfigs on broker ""), set
// the config, and DescribeConfigs reports it as STATIC_BROKER_CONFIG, as Kafka reports
// what server.properties sets.
//
// The data directory holds the logs (one directory per partition, Kafka's layout), the
// quorum state and metadata snapshot, a lock file (one process per directory) and
// meta.properties, which pins the directory to one node id and cluster id.
//
// # Peers
//
// Peers talk only on the controller and inter-broker listeners, in a compact framing
// (peer.go): a preamble "SDLP", a handshake, then frames of a u32 length and one core
// message. With a cluster secret the handshake is peerauth's (each side proves the
// secret over fresh nonces; every frame carries an HMAC under the connection's key);
// with SSL it is mutual TLS, and a node's id is the URI SAN seedlog:node:<id> of its
// certificate. Either way the sender of a message is the id the handshake proved. A
// cluster of several nodes refuses to start with neither; a lone node (the only voter,
// no peers configured) takes no peer connections at all. Each node writes only on the
// connections it opened. A node finds a peer at its configured address
// (controller.quorum.voters, peers), else at the address its authenticated handshake
// announced, else at the inter-broker listener of its broker registration.
// `seedlog peer-auth secret|certs` makes the credentials; `seedlog dev` makes its own.
//
// # Clients over TLS
//
// A client listener mapped to SSL or SASL_SSL terminates TLS here (clienttls.go), at
// TLS 1.2 or later, before the connection's reader and writer start; the core sees the
// same requests as on a plaintext listener. Each listener is registered with Kafka's
// code of its protocol (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL), which
// Metadata hands to clients and by which the core knows where to demand SASL; until
// the core answers SASL handshakes, SASL listeners are refused. A handshake counts
// against max.connections and must end within tls.handshake.timeout.ms; failures are
// counted and logged like other refusals. The certificate (tls.cert.file,
// tls.key.file) is reread when a handshake finds its files changed, looking at most
// once a second: new handshakes take a rotated certificate without a restart, and
// files that do not load leave the previous one in place, logged once.
//
// # Metrics
//
// metrics.listener serves the Prometheus text format at /metrics: request counts and
// latency histograms per API (seedlog_requests_total, seedlog_request_duration_seconds),
// client and peer bytes, dropped peer messages, bad frames, connections, fsync latency
// per group commit (seedlog_fsync_duration_seconds), the quorum's role, epoch, leader
// and high watermark, the broker's lease, and per partition replica: ISR size (on the
// leader), high watermark, log end offset, and the count of under-replicated partitions
// led here. Gauges of the core's state are read on the loop at scrape time. Connection
// limits have their counters (idle closes, read timeouts, failed accepts, evicted
// stalled requests, request bytes held, peer connections, peer authentication
// failures, failed client TLS handshakes, certificate reloads and failed reloads), and
// the Go runtime and process collectors add heap, goroutines and open
// descriptors. With metrics.pprof.enable the same listener serves Go's profiles at
// /debug/pprof/.
package node
