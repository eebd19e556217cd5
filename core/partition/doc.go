// Package partition is one broker's replica of one partition: Kafka's ISR replication
// with seedlog's durability, as a pure state machine. The node feeds it metadata
// (Update), client requests (Produce, Fetch, ListOffsets, OffsetForLeaderEpoch,
// DeleteRecords), messages from the other replicas (Step), disk completions (Done) and
// time (Tick), and collects disk work from its disk.Queue and everything else from Ready.
// Client answers are callbacks, made before the call that decided them returns (inside
// Produce or Fetch when the answer is immediate, inside Done, Step, Tick, Update or
// AlterPartitionResult otherwise), in a deterministic order.
//
// # State
//
// A replica keeps its log start offset, its log end offset (LEO, counting appends it has
// emitted: later Ops see them, because a node executes its Ops in order), its durable
// offset (what completed syncs cover), its high watermark (HW), its leader-epoch cache
// (for each epoch that wrote, the offset of its first batch; persisted with
// disk.LeaderEpochs whenever it changes, always before the batches that need it) and the
// state of idempotent producers. Role comes from metadata: leader when State.Leader is
// this broker, follower when it is among State.Replicas, inactive otherwise.
//
// # Durability modes
//
// In the default mode a replica's durable offset is what a completed disk.Sync covers:
// the leader counts itself through it, followers report it in every fetch and, when a
// sync completes after their last fetch was sent, in a Synced message at once. A
// follower fetches again once what it appended is written, so the fetch overlaps the
// sync; only what completed syncs cover is ever reported durable. An acknowledged acks=all
// record is therefore on the disks of every member of the ISR, at least
// min.insync.replicas of them, and survives any crash pattern that leaves one of those
// disks intact, all brokers losing power at once included.
//
// With Config.FlushAsync (log.flush=async, Kafka's page-cache durability) the durable
// offset is the log end as soon as an append completes; syncs run every
// AsyncSyncInterval and nothing waits for them. A record is acknowledged once it is in
// the page cache of every ISR member, which survives a minority of crashes but not a
// correlated power loss of the ISR: that can lose acknowledged acks=all writes (the
// package's TestPowerLoss shows it), and a follower may then have to truncate below its
// high watermark (noted as "truncate-below-hw").
//
// # Leader
//
// Produce validates the batch (record.ValidateProduce against max.message.bytes),
// applies the idempotence rules, stamps its base offset (the LEO) and leader epoch in
// place (both lie outside the CRC) and emits Append then, in sync mode, Sync. acks=0 is
// answered at once (the handler sends nothing); acks=1 once the leader's own append is
// durable (sync) or done (async), held behind a disk.Gate; acks=all is refused with
// NOT_ENOUGH_REPLICAS when the ISR is smaller than min.insync.replicas, and otherwise
// waits in a purgatory until the HW passes its last offset. It fails with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR falls below the minimum, REQUEST_TIMED_OUT
// after its timeout, and NOT_LEADER_OR_FOLLOWER when leadership ends (the record may
// still commit; the client retries).
//
// The HW is the smallest durable offset over the maximal ISR (the committed ISR, the
// leader, and the members of a pending AlterPartition: a joining member counts as soon as
// it is proposed, a leaving one until its removal is committed, KIP-497/841). It advances
// only while that set has at least min.insync.replicas members, and never moves back
// while leader. The leader tracks each follower's fetch offset, durable offset, last
// fetch and last caught-up time (a fetch at the leader's LEO, or reaching the LEO the
// leader had at the follower's previous fetch: Kafka's lastCaughtUpTime). It credits a
// follower's offsets no further than its own answers to that follower covered in this
// leadership (an answer at F with records up to E covers max(F, E)): a follower cannot
// hold what it was never sent, so a buggy or impersonated one that claims the whole log
// moves neither the HW nor acks=all, nor joins the ISR. A fetch claiming more than is
// credited is answered at once rather than held, so that the next fetch, which counts,
// follows a round trip later (a new leader's HW and reads do not wait a long poll).
//
// ISR changes go to the controller as AlterPartition requests (Ready.AlterISR, one
// outstanding at a time, carrying the partition epoch for compare-and-set). A member not
// caught up for ReplicaLagMax leaves; a follower joins once its durable offset reaches
// both the HW and the start of the leader's epoch (so it holds everything committed and
// everything of earlier epochs) and it is not lagging by time. The node reports each
// outcome with AlterPartitionResult. Success applies the new ISR; an unknown outcome
// (timeout, NOT_CONTROLLER, a call whose controller was replaced before answering)
// keeps the proposed members counted and resends after AlterBackoff (only metadata could
// settle a change no controller saw, and none comes for it); a stale view (INVALID_UPDATE_VERSION, FENCED_LEADER_EPOCH) keeps them
// counted until metadata with a newer partition epoch settles it; a refusal
// (INELIGIBLE_REPLICA, INVALID_REQUEST) drops the change. Metadata is authoritative.
//
// A leader serves clients (produce, consumer fetch, ListOffsets, OffsetForLeaderEpoch,
// DeleteRecords) only while Config.LeaseValid says its controller lease holds; it answers
// NOT_LEADER_OR_FOLLOWER otherwise. Replication traffic is not gated: serving a follower
// cannot expose anything. A new leader accepts produces at once but serves reads
// (consumer fetch, ListOffsets latest or by time) only once its HW covers its LEO at
// election; before that it answers OFFSET_NOT_AVAILABLE, which clients retry after a
// metadata refresh (KIP-207 uses the code for a leader whose HW has not caught up), so no
// client ever sees an HW below one an earlier leader showed it.
//
// A leader that replaced a live one (a preferred election keeps the old leader in the
// ISR; every other move takes it out) serves no client until the old leader fetched from
// it in the new epoch, which it does only once it applied the change and follows, or
// left the ISR: two leaders never serve at once. The leader it replaced may itself never
// have served, still waiting for its own predecessor, so a new leader waits so for the
// leaders of all the epochs it saw one after another that are still in the ISR. When a
// replica did not see the change that made it leader, it waits so for every other ISR
// member.
//
// Client requests are fenced by leader epoch (KIP-320): a current leader epoch below the
// replica's is FENCED_LEADER_EPOCH, above it UNKNOWN_LEADER_EPOCH, -1 is not checked.
// Produce carries no epoch.
//
// Consumer fetches read below the HW only (read_committed ones below the last stable
// offset, see Transactions) and are held while fewer than MinBytes are readable,
// up to MaxWait; readable bytes are estimated from an in-memory index of the latest
// TailBatchesMax batches, and a range reaching below it counts as enough. Reads are
// disk.Read Ops emitted in order after the appends they cover, answered when their Done
// arrives. ListOffsets answers -2 (and -4) with the log start, -1 with the HW, a
// timestamp with disk.FindTime below the HW, -3 (the largest timestamp) with
// disk.FindMaxTime below the HW; both answer the found record's offset and timestamp.
// With isolation level 1 (read_committed) the last stable offset stands in for the HW.
// DeleteRecords advances the log start (to at most the HW; -1 means the HW) with
// disk.DeleteBelow. Retention runs on the leader every RetentionCheckInterval with
// disk.Retain bounded by the HW. Followers follow the leader's log start as they fetch
// and report the start their disk holds durably in the next fetch, which they send once
// their DeleteBelow is done. DeleteRecords is answered once the leader's disk and every
// other member of the maximal ISR hold the new start durably (or REQUEST_TIMED_OUT at
// its timeout), and a follower joins the ISR only holding the leader's durable start:
// whichever replica leads next starts there or above, so no failover shows records an
// acknowledged DeleteRecords removed (Kafka waits for every live replica's log start,
// kept in memory).
//
// # Followers
//
// On becoming follower in an epoch (and after a restart, which starts as inactive until
// metadata arrives) a replica asks the leader where its own latest epoch ends
// (OffsetForLeaderEpoch, KIP-101): the leader answers with the largest epoch not above
// it that it knows and that epoch's end in its log. The follower truncates to the smaller
// of that end and its own end of that epoch. If the leader answers with an epoch the
// follower does not have, the follower cuts at the end of its own newest epoch below the
// answer and asks again (KIP-279); each round removes an epoch, so the exchange ends.
// Truncation (disk.Truncate) is durable.
//
// Then it fetches: each Fetch carries its fetch offset (LEO), durable offset, last
// fetched epoch and log start. The leader checks the last fetched epoch against its own
// epochs on every fetch (KIP-595) and answers a diverging follower with where that epoch
// ends; the follower reconciles exactly as above. A fetch offset below the leader's log
// start gets OFFSET_OUT_OF_RANGE and the follower restarts its log at the leader's
// start (disk.Reset), or at the start of the batch holding it when the leader's start
// lies inside a batch; its fetches report the new start as durable only once the Reset
// is done (a crash before then brings the old log back). The follower checks every batch (CRC, dense offsets from its LEO,
// epochs never above the leader's nor below its own newest), appends the valid prefix,
// syncs, keeps its producer state in step, takes HW = min(leader's HW, own LEO) and the
// log start min(leader's, own HW). It fetches again once the append is written, before
// the sync that makes it durable completes; that completion goes to the leader in a
// Synced naming the last fetch, which the leader counts only if that fetch is the last
// it took from the follower, and no further than its offset (the follower's log below
// it is the leader's, and a cut since lowered the durable offset too). A
// follower truncates below its HW only after a loss the configuration allowed (async
// mode) or a disk lost synced data; that is noted ("truncate-below-hw") and done, since
// keeping a suffix the leader disowns would leave replicas disagreeing forever.
//
// A follower at the log end asks to be held FollowerFetchMaxWait, doubled after each
// answer that brings nothing new (no records, high watermark or log start) up to
// FollowerIdleWaitMax and no more than an eighth of ReplicaLagMax; anything new, damage,
// or a reassignment adding the follower sets it back. Requests that get no answer are sent
// again after the wait they asked for plus PeerRequestTimeout; error answers are retried after FollowerBackoff, but for those of a
// leader whose metadata is behind (UNKNOWN_LEADER_EPOCH, and UNKNOWN_TOPIC_OR_PARTITION
// from a node that does not hold the partition yet: UnhostedAnswer), retried after 50 ms.
// Answers are matched to the outstanding request id and its echoed fields, so duplicates
// and stale answers are dropped.
//
// # Peer messages
//
// Fetch, FetchAnswer, EpochQuery, EpochAnswer and Synced travel between replicas of one partition,
// encoded with EncodeMessage (a kind byte and big-endian fields, package enc) and decoded
// with DecodeMessage, which never panics and bounds every length by its input. Each
// carries the partition's Key for routing; the replica names peers by node id only.
//
// # Idempotent producers
//
// Per producer id the replica keeps the epoch and the latest batches (first and last
// sequence, first and last offset). On produce, an older epoch is INVALID_PRODUCER_EPOCH;
// a newer epoch must start at sequence 0; in the same epoch a batch equal to one of the
// latest is a duplicate, answered with the offset of the first copy under the same acks
// rule (an acks=all retry waits for the HW like the original) and not appended; a batch
// whose sequences all precede the oldest one remembered was written before it (a leader
// appends one epoch's batches in sequence order only) and is answered
// DUPLICATE_SEQUENCE_NUMBER, which Kafka clients take as success, once that oldest batch
// is committed (acks=all) or durable (acks=1); anything else must follow the last
// sequence (wrapping after MaxInt32) or gets OUT_OF_ORDER_SEQUENCE_NUMBER.
//
// A producer the replica does not know must start at 0. Kafka accepts any sequence
// there, which lets a batch in ahead of an earlier one that failed and reorders the
// producer's records; clients answer OUT_OF_ORDER_SEQUENCE_NUMBER by taking a new epoch
// and starting again (the answer carries the log start so they can tell state that went
// with the log from loss).
//
// State changes when batches are appended, on followers too, so it survives failover.
// Six batches are kept per producer: the five a client may have in flight, plus one, so
// that truncating an uncommitted suffix (at most five batches per producer) leaves its
// last committed sequence. Producer state outlives the log it describes: retention and
// DeleteRecords do not drop it, since a client told its state is gone restarts its
// sequences, and a retry of a batch deleted here but still above another replica's log
// start would then be written twice after a failover. A replica snapshots the state
// (below) before it deletes records, so that a restart, which replays the log from the
// newest snapshot, does not forget it either. (A follower that restarts its log at its
// leader's log start never saw the batches below it, and knows nothing of their
// producers.) Beyond ProducersMax the producer whose newest batch is oldest is
// forgotten.
//
// Every SnapshotInterval, once SnapshotBytesMin of log were appended since the last
// snapshot, the state as of min(HW, durable offset) is written atomically
// to SnapshotFile(log) (a CRC-protected encoding, version 4: per producer its batches
// and its transactions; whatever lies above the snapshot offset is left out, as a
// truncation there would; versions 1 and 2, without the transactions, and 3, with a list
// of aborted transactions handed to the disk's index once, still decode). A new replica reads the snapshot from the files it is given and replays the
// batch headers of the log after it with disk.Read Ops ("loading"); replaying also
// completes the leader-epoch cache. While loading it serves nothing.
//
// # Transactions
//
// A transaction's data batches carry the transactional bit and their producer's id and
// epoch; a marker (a control batch of one record, commit or abort, with the
// coordinator's epoch) ends it. Per producer the replica keeps the first offset of its
// open transaction, the coordinator epoch of its last marker, and its last ended
// transaction. The aborted transactions are the disk's: each Append carries the entries
// of the abort markers it writes (disk.AbortedTxn: producer, first offset, marker, and
// where the log was stable once the marker was written) for the aborted-transactions
// index of the segment the marker lands in, and a read_committed Read asks for those
// overlapping what it returns (Op.ListAborted). Like the rest of the producer state this
// changes as batches are appended, on leaders, on followers and while a restart replays
// the log: a transactional data batch opens a transaction when none is open, a marker
// closes it (an abort goes to the index), and a marker for a producer with nothing open
// is appended all the same and changes only its epochs, so markers sent again are
// harmless. Truncation undoes what it cuts: a transaction whose first batch is cut never
// was, one whose marker is cut is open again. The producer's last ended transaction is
// reopened at once; an older one (a repair truncation cutting below it, which only
// damage, async mode or a broken disk allow) when the Truncate's Done lists it among the
// index entries the cut took (a follower fetches nothing until then). After a restart
// the replay from the snapshot lists the aborts after it again (disk.SetAborted): the
// index entries below the snapshot offset were synced with their data; when recovery
// found the index damaged below it, the replay first reads the log from its start to
// list every abort again.
//
// The last stable offset (LSO) is the smaller of the HW and the first offset of the
// oldest transaction that is open or whose marker the HW does not cover yet: until it
// does, a failover could cut the marker and reopen the transaction, which might then
// abort. It never goes below the log start (as in Kafka; so where the log start goes
// back across a failover, as a start retention moved on the leader alone can, a last
// stable offset raised to it may too). Status reports it, every fetch answer carries it, read_committed fetches
// (Isolation 1) read below it only and count only what lies below it as readable for
// their long poll, and they are told the aborted transactions whose range (first offset
// to marker) overlaps the records returned, whether read as bytes or spans. Producers
// with an open transaction are the last the ProducersMax bound forgets (forgetting one
// would move the LSO past records an abort may yet disown).
//
// Clients write transactional batches with Produce under the usual idempotence rules (a
// fenced epoch is INVALID_PRODUCER_EPOCH) and may not write control batches. A
// transaction coordinator writes markers with WriteMarker, which the leader builds and
// appends like an acks=all produce (through the same checks, purgatory and answers); it
// refuses a marker whose producer epoch is below the producer's (INVALID_PRODUCER_EPOCH)
// or whose coordinator epoch is below the one of the producer's last marker
// (TRANSACTION_COORDINATOR_FENCED). A coordinator writing its own transactional records
// (a group coordinator's transactional offset commits: base sequence -1) uses
// ProduceInternal: no sequence checks, a fenced epoch refused, the transaction tracked
// like any other; as for a client's batch, one that would open the producer's
// transaction needs a verification (StartInternalTxnVerification, then
// ProduceInternalVerified; see verify.go).
//
// # Damaged replicas
//
// A replica whose synced data fails validation stops counting as a durable copy until
// it fetched the damage back from an intact leader. Damage is found by recovery (the
// LogState's FencedNow) or when a read fails its CRC twice (Done.Corrupt): the replica
// answers the reader KAFKA_STORAGE_ERROR (retriable) and emits disk.CheckDamage, which
// fences the damage on disk when two reads of it agree and finds nothing after a
// transient fault. The replica keeps a copy of its log's fences: FenceDamaged ranges are
// this disk's damage, FenceLost ones gaps the partition declared lost.
//
//   - A follower with damage says so in every Fetch (Damaged, DamagedFrom). Its leader
//     counts it out of sync at once (it proposes the ISR without it) and never in sync
//     while the flag is set, whatever its offsets. Once the answer to a fetch that
//     said so also says the leader no longer counts it in the ISR (FetchAnswer.InISR
//     false), the follower truncates to the start of the damage (below its high
//     watermark: noted "repair") and fetches the range again; it rejoins when caught up
//     like any follower. An answer to a fetch sent before the damage was found does not
//     count: the leader may still add the follower on the strength of that fetch.
//   - A leader with damage while its committed ISR has other members resigns: it stops
//     serving at once (produces, reads and followers get NOT_LEADER_OR_FOLLOWER, like a
//     broker in controlled shutdown), then sends an AlterPartition whose ISR is the
//     committed one without itself; the controller removes it and elects another member
//     (see core/controller). So no damaged copy leads while an in-sync replica may hold
//     the data intact, and it cannot be elected again until it rejoined the ISR. A
//     replica elected while damaged resigns the same way, before serving anything.
//   - A leader with damage that is the only member of its ISR has no intact in-sync copy
//     to hand over to: the damaged range is lost (noted "lost", once). Consumer reads of
//     a fenced offset get CORRUPT_MESSAGE, which Kafka's Java consumer raises to the
//     application (rather than retry forever, as it does KAFKA_STORAGE_ERROR), so it can
//     seek past; a follower fetching inside it gets a FetchAnswer with GapEnd and the
//     epochs that began in it, and copies the gap with disk.Skip (FenceLost). The log end
//     never moves back, so no offset is used twice. When another replica later joins its
//     ISR, a leader that still has damage resigns to it (that replica may hold the range
//     intact) and repairs as a follower.
//
// A follower's copy of the fences is updated as its ops go (truncations cut them, a
// reset drops them, a skip adds one); a fence reported by an op emitted before a later
// truncation is dropped, since the truncation may have removed it.
//
// # Restarts
//
// A restarted replica's log is durable (recovery syncs what it keeps), its HW is the
// log start until a leader says more, and it refuses to lead any epoch up to the newest
// its recovered checkpoint names: it may have lost unsynced batches of that epoch that
// followers copied, and writing different batches at those offsets under the same epoch
// would break the rule that logs agreeing on an epoch agree on its bytes. The controller
// bumps the epoch whenever a broker registers again, so this only guards against a
// broken controller.
//
// # Contract with the node
//
//   - Every Op goes through Config.Queue; the node routes each Done back to the replica
//     that emitted it, in emission order (a Done out of order panics). A failed write
//     makes the replica fatal (Ready.Fatal); the node must stop and recover.
//   - A zero disk.LogState (ID "") means the log does not exist: the replica emits
//     CreateLog first.
//   - Ready is drained after each input; AlterISR must be sent and answered with
//     AlterPartitionResult (REQUEST_TIMED_OUT when no answer came).
//   - Produce takes ownership of the batch bytes (the replica stamps them in place and
//     hands them to the disk).
//   - Close fails everything pending with NOT_LEADER_OR_FOLLOWER; Dones for the Ops still
//     outstanding are then ignored.
//   - A failed CheckDamage or Skip is a failed write (Ready.Fatal): both change the log.
//
// Limits: PendingMax bounds waiting produces and markers, offset lookups and deletions (beyond it:
// REQUEST_TIMED_OUT, nothing appended); FetchesMax bounds held or reading consumer
// fetches (beyond it a fetch is answered at once with no records); one held fetch per
// follower; ProducersMax; max.message.bytes per batch; FollowerResponseBytesMax per
// replication answer, whatever the follower asks for.
package partition
