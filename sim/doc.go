// Package sim is seedlog's deterministic simulator: a whole cluster of real core nodes,
// each over the shared disk executor (diskexec) and its own simulated disk (disksim), a
// simulated network (netsim), simulated Kafka clients, fault injection and checkers, all
// driven by one event queue on one goroutine. A run is a function of its seed.
//
// # The world
//
// One queue of events ordered by (virtual time, sequence number): ticks at each node's
// deadline, datagrams and stream messages arriving, disk completions, client timers,
// faults and phase changes. The sequence number makes ties resolve in scheduling order.
// There are no fixed ticks: time jumps to the next event.
//
// Randomness comes from one root seed; independent streams are derived from it per
// purpose (see seed.go), so changing how one part draws never shifts another.
//
// Each node has its own clock: a fixed Unix base plus a skew plus virtual time scaled by
// (1 + drift), with |drift| within half of the configured ClockDriftMax, plus forward jumps
// within the rest of the budget (see clock.go). Deadlines the node asks for are converted
// from its clock to virtual time; each node has at most one live Tick event (a generation
// counter makes older ones stale).
//
// # The node shell
//
// The shell takes inputs as the real node's loop does: it drains the node once for a
// round of inputs, up to core.InputBatchMax of them, those that arrive within a short
// window of the round's first (ShellConfig, drawn per seed: from one input per Drain to
// the whole bound, and from the same virtual time to 200µs); the completions a disk batch
// step releases are one input. It acts on the output: disk ops are queued in the two
// lanes of the real node (the quorum's and the partitions', each on its own) and run in
// group commits by the same code as the real node's disk worker (disk.go, diskexec's
// LaneOf, Queue and Batch), with batch boundaries drawn per seed and completions timed
// by disksim's latencies; messages become netsim datagrams, sealed on authenticated peer
// connections (below); responses are framed (kafka.AppendFrame, a Fetch response's
// spans written from the bytes the simulated disk read for them) and sent on the
// client's stream (a nil response, an acks=0 produce's completion, sends nothing); Close
// breaks the stream, and the node is told the connection ended, as the real node's
// reader tells it; notes go to the trace and the coverage counters; a Fatal output
// crashes the node, which restarts from its disk. Bytes that reach a node on a client
// stream are cut into frames as the real node's reader does (a size prefix over the
// frame limit closes the connection; a frame not yet whole waits for its bytes), then
// wire.ParseRequest decodes them: a malformed frame closes the connection. Running a
// batch step's ops when the step completes rather than when they were emitted means a
// crash loses the ops still queued or running, as a real crash loses what the device had
// not done yet: an output released before its op completed is then caught. A crash also
// loses the outputs of inputs the node took and had not drained yet.
//
// Node faults: a crash drops the process and its pending events (an incarnation number
// makes them stale), replaces the disk with disksim's crash image and breaks the node's
// connections; a restart recovers with diskexec on that image and starts a new core node
// with a new seed. A pause buffers the node's inputs in order while its clock runs on; on
// resume they are delivered, then a Tick. Half of the crashes are armed (crashArm) to
// strike at a moment too short for random timing to hit: while the node's next disk op
// is in flight (within the batch step that runs it), once its next batch's writes
// completed and before their fsyncs do, just after it answers a write (an OffsetCommit
// or SyncGroup on a group coordinator, the leader of an offsets partition; in seeds with
// transactions, half of them an EndTxn on a transaction coordinator), or just after it
// wins a quorum election. In a quarter of the seeds with crashes and data
// (FaultConfig.TakeoverCrashPPM), a broker that just took over the leadership of a data
// partition may crash right after: back-to-back failovers. Coverage:
// fault:crash-before-fsync, fault:crash-after-answer, fault:crash-after-takeover.
// A third of the seeds with faults send controlled shutdowns (shutdown.go): a simulated
// SIGTERM makes the shell call Shutdown and keep stepping the node until ShutdownReady
// or the drawn controlled-shutdown timeout, then stop it as a clean process exit (no
// crash image: the disk keeps what was written) and restart it after a downtime.
// Coverage: fault:controlled-shutdown, shutdown:ready, shutdown:timed-out.
// A quarter of the seeds with crashes are storms (FaultConfig.Storm): faults every few
// election timeouts, and new quorum leaders crashing right after their election.
//
// # Peer authentication
//
// Real brokers talk to each other only on a peer listener, over connections that open
// with the peerauth handshake (both sides prove the cluster secret over fresh nonces)
// and carry an HMAC on every frame; a message's sender is the node the handshake
// proved, never a field. The shell runs the same code (auth.go): each ordered pair of
// nodes (from, to), in their current incarnations, is one connection. The first
// datagram from sends to to in these incarnations runs the handshake in-process
// (peerauth.Dial, Accept, Dialer.Finish, Acceptor.Finish) with nonces from the run's
// "auth" stream and a cluster secret drawn from it first; every datagram is sealed with
// the pair's Sealer, opened on arrival with the receiver's Opener (which carries the
// run's plants), and handed to the node with the sender of the session. A crash of
// either end ends the connection: a datagram sealed before it no longer opens and is
// dropped as a connection reset, and one sent to a node that is down finds nobody to
// connect to. Traces record the unsealed payloads: sealing alone changes no fingerprint
// (resets and refused connections do, where they change what nodes receive).
// Coverage: auth:session (handshakes), auth:refused:reset, auth:refused:no-session,
// auth:refused:tag and auth:refused:handshake (datagrams and handshakes refused, by
// reason), auth:dial-refused (messages to a node that was down).
//
// # The byzantine client
//
// A quarter of the seeds with faults (and every seed with Options.Byzantine, sim
// --byzantine) have an attacker outside the cluster (attack.go, attackclient.go) that
// acts every ~FaultConfig.AttackInterval from the start of the run to its end, through
// the liveness phase and the final reads: the cluster must stay live and every checker
// must pass under the attack. It is omniscient: it reads the cluster through the
// checkers' inspection hooks and sees every datagram, so it aims at current leaders,
// epochs and offsets, and builds its messages with core's peer encoders.
//
//   - On a node's client listener (its own netsim stream, client 0): the old peer
//     preamble "SDLP" and handshake, raw and Kafka-framed peer messages, flexible
//     Produce and Fetch requests whose tagged-field count is 0xffffffff (in the header or
//     the body), truncated and random frames (random frames only use read APIs),
//     controller calls, and Kafka fetches with a broker's replica id. The node must close
//     the connection or answer with an error (a follower fetch) and nothing else; the
//     attacker checks the answers it gets ("attack" failures) and hangs up after a while.
//   - On a node's peer endpoint, injected into the connection of (a real node it claims
//     to be, the node): hostile messages unsealed, under a made-up tag or sealed with a
//     key of its own; sealed frames captured from another pair or an earlier
//     incarnation; captured frames with flipped bytes. The messages: VoteRequest and
//     BeginQuorumEpoch at epoch 2^31-1 or just above the target's, granted votes for a
//     candidate, quorum and partition fetches in a follower's name claiming the leader's
//     whole log as fetched and durable, FetchSnapshot, read barriers, and
//     BrokerHeartbeat (fence or shutdown wishes), AlterPartition (the ISR widened to
//     replicas out of sync) and BrokerRegistration in another broker's name. After a
//     leader's fetch answer that carries records, with AimPPM, it sends a fetch in the
//     follower's name claiming exactly what the answer carried as fetched and durable,
//     before the follower can have synced it.
//   - Forged handshakes: a Hello in another node's name (also of an old version, or cut
//     short) fed to peerauth.Accept, then a made-up proof, or the acceptor's own proof
//     reflected, fed to Acceptor.Finish. One that passes fails the run.
//
// Authentication must refuse every peer frame: none may reach a node. The plant
// peer-auth-skipped (an Opener that never checks the tag) shows what they would do:
// leaders acknowledging writes their followers do not hold, two quorum leaders or
// leased partition leaders at once, lost committed quorum records. Coverage:
// fault:byzantine (attacks), attack:client-listener, attack:peer-listener and
// attack:peer-handshake (frames per target listener), attack:client-closed (client
// connections a node closed on an attacker frame), attack:client-answered,
// attack:aimed-fetch, attack:peer-delivered (forged frames that opened: only ever with
// the plant) and attack:kind:<kind>.
//
// # Runs
//
// Each seed first draws its configuration (Draw: cluster shape and roles, timeouts
// (seedlog's defaults in a seed of four, Kafka's at 25%, 50% or 100% in the others),
// clocks, fault kinds and rates, the metadata workload; then, from its own stream, the
// data workload of DataConfig) and prints it. A fifth of the clusters whose voters are
// brokers too run an even quorum (2 or 4 voters). The safety phase runs the workloads under
// faults within the fault budget (faults.go). The liveness phase then heals the network,
// restarts crashed nodes, resumes paused ones and stops all faults: the quorum must elect
// a leader within ten election timeouts and a metadata operation must succeed within
// Config.LivenessBound; then a probe must get an acks=all produce and a fetch of it
// through on every data partition within the same bound (every partition has a leader
// again). Once every producer resolved the batches it held, final reads read every data
// partition from offset 0 to the high watermark the first read answered, consumer groups
// must catch up to it, and every topic is described, which resolves the operations whose
// outcome was unknown.
//
// Some seeds (FaultConfig.LivenessDown) leave a minority of the brokers down for the
// whole liveness phase, crashed and never restarted, keeping a majority of the voters
// and enough brokers for every data topic. Promise 7 then asks for less, and the probe
// checks exactly that: a partition whose ISR, in the quorum leader's image, holds only
// brokers left down may stay offline (unclean election is off) and is skipped; one left
// with fewer live replicas than its min.insync.replicas must refuse acks=all with
// NOT_ENOUGH_REPLICAS and answer a read (OFFSET_NOT_AVAILABLE from a leader that took
// over, since its high watermark cannot move); every other partition must take the
// produce and serve it. Final reads skip the partitions that cannot be read to the end
// (the log checker then looks only at their reads and at the order of their acks=all
// acknowledgements), and a group whose offsets partition is offline need not catch up.
//
// # The data workload
//
// A setup client creates one or two data topics (1 to 4 partitions, replication factor
// up to min(brokers, 5), min.insync.replicas from 1 to the replication factor, half of
// them equal to it). Producers (acks 0, 1 or all; idempotent or not; up to five batches
// in flight per partition; codecs drawn) send real ProduceRequests built with
// core/record, each batch one operation with record values unique in the run; see
// producer.go for retries, leader discovery and producer resets. Readers fetch from the
// leader with the leader epoch they know (KIP-320) and look up the earliest and latest
// offsets. In half the seeds with readers, one or all of them fetch as franz-go does,
// through incremental fetch sessions (sessions.go), judged by the sessions checker. Two
// thirds of the seeds with a group set offsets.topic.replication.factor to
// min(brokers, 3) (the offsets topic then waits for that many live brokers; otherwise it
// takes as many as are live when the first group looks for its coordinator, often one).
// Consumer groups (member.go) join with the KIP-394 member id round trip, sync
// with the range or round-robin assignor computed by their leader, heartbeat, resume from
// OffsetFetch, fetch, process and commit after processing, leave now and then, use
// static membership sometimes, and rejoin when told to or when partitions are added (a
// grower client runs CreatePartitions on the data topics). Half of the seeds with data
// let committed offsets expire within the run (offsets.retention.minutes of half a
// second to ten seconds), and half run an offsets administrator (offsetadmin.go) that
// commits a group without members, deletes offsets with OffsetDelete (of that group and
// of the consumer group, live or Empty) and reads them. Members keep heartbeating,
// and the leader keeps refreshing metadata on its own timer, in every phase until the
// run ends; who leads follows franz-go, including a static leader that rejoined (the
// prefix rule before JoinGroup v9, SkipAssignment from v9, KIP-814).
//
// With Options.FlushAsync every topic runs with log.flush=async and correlated power
// losses (every node crashing at once) are in every fault mix. That mode gives up
// promise 1 of DESIGN.md; a run that loses acknowledged records reports the loss in
// Result.Allowed (and the sweep summary says the mode allows it) instead of failing. So
// does a partition whose later leader's log ended below a high watermark reached before
// (committed records lost): its history cannot be linearizable and is not checked.
//
// # Transactions
//
// A third of the seeds with data (txnproducer.go, drawn from the "txn" stream) run one
// or two transactional producers: each finds its transactional id's coordinator
// (FindCoordinator, key type 1), takes a producer id and epoch (InitProducerID), and
// runs transactions of 1 to 4 partitions of the topics that are not compacted
// (AddPartitionsToTxn v3, transactional batches with sequences, sometimes offsets of its
// own group through AddOffsetsToTxn and TxnOffsetCommit, read back while the
// transaction is open), ended by EndTxn, commit or abort. Now and then an instance
// crashes mid-transaction and a new one with the same id fences it (half of the
// crashed ones then send one more batch with the old epoch, which must be refused),
// and producers with a short transaction timeout idle past it for the coordinator to
// abort. Those fates are drawn per id from the "txn-fates" stream as each transaction
// begins, and are steps of the schedule (txn-crash, txn-idle, txn-sloppy). A transaction with a batch whose outcome is unknown aborts by a new
// InitProducerID rather than EndTxn, so that a late batch cannot open a transaction
// after the abort marker. In those seeds some readers and the group members fetch with
// read_committed, dropping aborted batches as Kafka's consumers do (Op.Hidden). Once
// faults stop each id runs a last InitProducerID, which returns only when every
// transaction of it has its markers; each partition is then read once more with
// read_committed. Fetches return markers as control records (LogRecord.Control) so that
// offsets stay dense; the partition model commits them at an unknown moment. The
// transactions checker (txncheck.go: transactions) takes the final logs as ground
// truth (a record's outcome is the next marker of its producer id) and reports aborted
// and dirty reads, fractured reads, lost writes of acknowledged commits, mixed
// outcomes, records after their transaction's marker, writes with a fenced epoch,
// cycles among committed transactions, transactional offsets visible too early, and a
// final read_committed read that shows an aborted record or lacks a committed one.
// Coverage: txn:commit, txn:abort, txn:timeout, txn:fenced, txn:coordinator-move,
// read-committed-fetch.
//
// A third of the seeds with data where nothing deletes records, offsets never expire
// and no broker is left down (ctp.go, the "ctp" stream) run consume-transform-produce
// workers: the members of group ctp read topic ci with read_committed and, per polled
// batch, write one record per input record to topic co and commit their offsets in the
// same transaction (TxnOffsetCommit with their generation, KIP-447), aborting now and
// then and rewinding to the committed offsets after any failure; they rebalance, leave,
// crash mid-transaction (the slot's next instance fences the open transaction) and
// meet the fault mix like every client (a short transactional.id.expiration.ms is
// raised above a worker's poll of every input partition, or no epoch would outlive the
// poll before its first transaction). Once the producers are idle the workers must
// drain (the group's committed offsets reach every input partition's end within a
// bound); the exactly-once checker (ctpcheck.go: exactly-once) then holds the final
// read_committed reads to every input record below the committed offsets appearing in
// the output exactly once, from a committed transaction, and to nothing else. Half of
// the transactions drawn to abort in the safety phase abort before their
// TxnOffsetCommit (v3-4) goes out late (ctplate.go), which the brokers must refuse
// (KIP-890 part 1) or leave a transaction open on __consumer_offsets.
// Coverage: ctp:commit, ctp:abort, ctp:rebalance, ctp:drained, ctp:late-offsets-refused.
//
// # Clients and histories
//
// Clients speak the Kafka protocol with kmsg over netsim streams: an ApiVersions handshake
// per connection (KIP-511 fallback), versions picked per request by the seed's policy,
// correlation ids matched in order, per-request timeouts, metadata refresh and controller
// discovery. Every operation is recorded with its invocation and completion times; one
// whose effect is unknown (a timeout, a broken connection, an error that means "maybe") is
// indeterminate and may take effect at any time after its invocation.
//
// # Checkers
//
// Invariants run after every step. Quorum: one leader per epoch, committed records never
// lost or changed on any node, logs agreeing up to the smaller high watermark, epochs and
// high watermarks never decreasing, across restarts too. Partitions (partinv.go): one
// leader per (partition, leader epoch); no two replicas of a partition leading with a
// valid lease at once; a replica's high watermark never decreasing within an epoch and
// incarnation (except when it cuts damaged data to fetch it back); every ISR member
// durably holding everything below its leader's high watermark; replicas agreeing below
// the smaller high watermark; in every image the ISR within the replicas and the leader
// within the ISR; a range a replica fences as damaged holding a batch a fault damaged on
// that node; no replica leading while it holds damaged data and its ISR has another
// member (a leader alone in its ISR declares its fenced ranges lost, and reads may fail
// only there). Groups: in every coordinator's view,
// no partition owned by two members of one generation, and a generation never handed out
// twice with different owners. Serving (serve.go): a request that reached a node without
// a valid lease is never answered with success, nor a read that reached a new leader not
// yet ready to serve reads. Plus any Options.Invariants.
//
// After the run: broker lists must only grow; Porcupine checks the metadata history per
// topic; CheckLog checks the produce and fetch history against the final reads (lost,
// duplicated, torn, reordered or phantom records, gaps, reads disagreeing, high
// watermarks going back, reads missing acknowledged writes, offsets answering
// CORRUPT_MESSAGE outside the ranges declared lost; acknowledged records in those
// ranges, and records read there then written again above them by a retry, are reported
// as allowed by the damage, and those partitions' histories are not checked for
// linearizability); Porcupine checks each data
// partition with the partition model (partmodel.go: the state is the committed length;
// a produce present in the final read at base b commits there, in state b; a fetch or
// ListOffsets latest that answered high watermark h reads state h) and each (group,
// partition)'s committed offset as a register (groupmodel.go: OffsetDelete and the
// expiries coordinators report write -1), and whether each expiry and deletion was
// allowed (offsetlife.go: none while a member is in the group, none before the
// retention, no subscribed topic of a live group deleted); the records every data
// replica holds below its high watermark are read back from its disk and compared with
// the final read. As operations complete: no partition assigned to two members of one
// generation as the members saw it, and no commit accepted from a generation older than
// one whose assignment was handed out before the commit began. A group must have
// processed every record of the final read, with no gaps, before the run may end. A
// Porcupine check that runs out of time is "unknown", never a pass. Coverage counts what
// each run exercised (truncations, ISR shrinks and expansions, leader and coordinator
// failovers, duplicates answered to idempotent producers, rebalances, long polls, ...),
// and a sweep of 200 seeds or more fails when an item of the coverage gate (gate.go:
// every fault kind, every kind of client work, the critical paths) was never reached.
//
// # Wider draws
//
// Beyond the cluster, timings, faults and workload, each seed draws (wide.go) how its
// logs lie in segments (drawSegments: Kafka's 1 GiB, or segments of a few batches to
// 1 MiB, some rolled by age), topic retention and readers' DeleteRecords, records and
// batches up to and past message.max.bytes, a tail of 20 to 50 data partitions over
// several topics, whole fault and workload kinds switched on or off, and timings at
// their edges: leases as long as the lease inequality allows, brokers cut off until
// about the moment their lease ends, fault durations within milliseconds of a timeout.
// Options.Duration (--duration) runs the safety phase longer than its draw.
// Compacted topics (compaction.go) and the cleaner's I/O (cleanerio.go: passes in
// steps of a few hundred bytes, throttled to a few KiB/s) run under the same faults; a
// topic's own segment limits (segments.go) are checked on every replica's closed
// segments (segments), and every cleaning step a node starts against
// log.cleaner.io.max.bytes.per.second (cleaner-throttle). Half the seeds give the
// segment logs a small file cache (openfiles.go: open-files), and half let a broker
// create only 1 to 3 partition logs at once (replicasync.go: replica-creates); after
// every step a broker's replicas must match what a full pass over its metadata would
// make of them (replicas-follow-metadata).
// A quarter of the seeds with producers give the producers' client ids, or the default
// client-id, a producer_byte_rate, and half of those a request_percentage too, against
// a seeded cost model of each request's thread time (quotas.go); the quota checker
// (quotacheck.go: quota) holds every node to the mutes its throttled answers announced
// and each client id to what the windowed rates allow.
//
// Credentials and ACLs (credentials.go, acls.go): in a third of the seeds with data
// the nodes get a SASL listener, and a credentials client sets and removes SCRAM
// credentials, authenticates with the latest password, an older one or a wrong one, by
// SCRAM or PLAIN, on any broker (again on a connection it authenticated before, KIP-368's
// re-authentication, where it has one); in half of those the nodes authorize with ACLs and the
// client also creates and removes bindings for its users and tries accesses they decide
// (ListOffsets, Fetch, Metadata, FindCoordinator). Both histories must be linearizable
// per user (credentials, acls): every authentication and every access got the answer
// the credentials or bindings in force at some moment of it give, so a password or a
// permission removed, once acknowledged, works nowhere.
//
// Ground truth (truth.go, leasecheck.go): some checkers read what the nodes cannot lie
// about. The durable images of the simulated disks (what every crash keeps, read
// through disksim and checksummed here) must back every acks=all produce answered with
// success, every high watermark a partition leader advances and every group record an
// OffsetCommit or SyncGroup answer promises, on at least min.insync.replicas replicas;
// the group record must also lie below its offsets partition's high watermark when the
// answer leaves (invariant:durable). After every restart, the batches recovery kept in
// each log's last segment and the metadata batches it handed the node pass their
// checksums (recovery). No broker holds a valid lease while fenced in the newest
// committed metadata (invariant:lease), and an active controller fences a broker only
// after the lease its last heartbeat granted can have ended, LeaseDuration stretched by
// the clock drift allowed (invariant:fence). A fatal stop for a broken invariant
// (core.FatalError.Invariant: the metadata log asked to truncate below its high
// watermark or left diverging, a committed record or a leader's snapshot that does not
// apply) fails the run (fatal); one after a failed disk op is an I/O fault the node
// restarts from.
//
// Replica bound (brokercap.go): a quarter of the seeds with data run a small
// max.broker.partitions, so that the workload's creates, new partitions and moves meet
// it and take POLICY_VIOLATION as a legal refusal; no node's metadata image may put more
// replicas on a broker than the bound (invariant:broker-partitions).
//
// # Traces
//
// Every input, output, fault and client operation is an event of the run's trace: hashed
// into the fingerprint always, kept only when asked (Options.KeepTrace), so replaying a
// seed costs nothing extra and a failing seed can be re-run with its trace kept.
//
// # Failover times
//
// Every run measures how long data partitions stay unavailable after a fault takes
// their leader out of service (failover.go, Result.Failovers). A failover starts with a
// fault of the safety phase on a broker: a crash (a crash fault, an armed crash, a
// power loss, a fatal stop), a pause, or an isolation (a network fault that cuts the
// node alone off from every other node; clients still reach it). Controlled shutdowns
// (SIGTERM) are measured the same way from the signal but reported apart, as a planned
// outage; splits, bridges and one-way cuts are not attributed to a node and not
// measured. Each data partition the node led at that instant counts, when its leader
// could take acks=all writes then: the replica leads, in the newest leader epoch the
// checkers saw, under a valid lease, with an ISR of at least min.insync.replicas whose
// members all run. The failover time runs from the fault to the first acks=all produce
// to the partition answered with success by any broker, the node itself back included
// (an answer of the node that may have left it before the fault, one still on its way,
// does not count). Only acks=all counts: its success says the partition as a whole
// took the write, while a leader cut off from its followers may still answer acks=1
// (writes it will lose), and acks=0 gets no answer at all. A failover is measured only
// when a producer saw the outage: an acks=all produce to the partition was waiting at
// the fault, or one invoked after it failed as a produce to an unavailable partition
// does (indeterminate, never sent, or a leader or replicas error) before the first
// success. Otherwise, or when no success came before the run ended, it is Unmeasured:
// a partition nobody wrote to is not fast, and the time to a first write after a pause
// of the producers would measure the pause. A fault on a partition still in a measured
// outage (no success since; a new leader crashing right after it took over, say) is
// part of that outage and not counted again. seedlog sim run prints a seed's failovers;
// a sweep keeps them per seed in its result file and prints the distribution over all
// seeds (count, p50, p90, p99 and max with its seed) of the faults, of each kind, and
// of controlled shutdowns. Measuring reads the nodes through the inspection hooks and
// the history after the run: it draws nothing and records no event.
//
// # Schedules, scenarios and shrinking
//
// Every run records its schedule (schedule.go, Result.Schedule): each fault the fault
// schedule injected, resolved to its targets and parameters (a crash with its downtime,
// a partition's shape and how long it lasts, a disk fault's rates, an armed crash with
// the moment it waited for and how it struck), and each operation a client's generator
// started, with its arguments (a metadata operation, a producer's batch, a reader's
// fetch or lookup, the grower's round, a group member's start or departure, a
// transactional id's start and what befalls its transactions: a crash, with or without
// a zombie, an idle past the timeout, a sloppy abort), each at its virtual time. Recording draws nothing and records no event: a seed's run and
// fingerprint are the same as without it. A trace's header carries the schedule as a
// scenario file.
//
// A run driven by a schedule (Options.Schedule, script.go) draws its configuration
// from the seed but takes faults and client operations from the schedule only. The
// generators still run and draw as always, and act only at the very times of their
// steps, with the steps' arguments; steps no generator meets come due by themselves. A
// transaction's fate is not drawn at all: the id's first transaction that begins at or
// after a txn-crash, txn-idle or txn-sloppy step takes it, so a shrink keeps only the
// crashes, zombies, idles and sloppy aborts a failure needs.
// Replaying a run's whole schedule therefore repeats the run: same events, same
// fingerprint. A step that cannot apply (a crash of a node that is down, a corruption
// over the fault budget) is skipped and the trace says so (traces.Step). The byzantine
// client, when the seed or the options switch it on, runs as in the seed's run: it is
// part of the configuration, not of the schedule.
//
// A scenario file (scenario.go) is a schedule in text: the seed, plants and modes, then
// one step per line ("at 1.25s crash 2 down=800ms", "at 3s client 6 produce d0/1
// records=2"), for people to read and edit; seedlog sim run --scenario replays one, and
// sim/scenario runs one as a story. seedlog sim shrink minimizes a failing trace's
// schedule by delta debugging (sweep.Shrink): each candidate is a deterministic replay,
// and it still fails when the same checker fails. The shrunk scenario's trace marks its
// steps in the HTML timeline.
package sim
