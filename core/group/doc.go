// Package group is seedlog's consumer group coordinator for Kafka's classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the committed offsets of
// groups (OffsetCommit, TxnOffsetCommit, OffsetFetch, OffsetDelete, and their expiry),
// plus DescribeGroups, ListGroups and DeleteGroups.
//
// A broker runs one Coordinator for each partition of the internal topic
// __consumer_offsets it leads. A group lives in partition PartitionFor(groupID, n),
// Kafka's rule, so clients find the same coordinator they would in Kafka. Like all of
// core it is a pure state machine: time arrives as `now` (nanoseconds on the broker's
// clock), member ids come from Config.Rand, and the partition is reached only through
// the Log interface the node provides. Replies are callbacks, invoked before the call
// that caused them returns (a request, Tick, Close, or a Log callback), once the
// coordinator's state has settled, in a fixed order (groups and members by id); a reply
// may call back into the coordinator. A Log callback carries no time: timers it starts
// (a session restarting when a member gets its assignment) start at the next input, and
// Deadline asks for that input at once.
//
// # Group states
//
//	Empty               no members (it may hold committed offsets)
//	PreparingRebalance  the join phase: members (re)send JoinGroup
//	CompletingRebalance a generation was handed out; the leader's assignment is awaited
//	Stable              the assignment is durable and handed out
//	Dead                being deleted
//
// A JoinGroup moves a group to PreparingRebalance. The join phase completes when every
// member has rejoined (and no member id handed out with MEMBER_ID_REQUIRED is still
// expected), or when the rebalance timeout (the members' longest, fixed when the phase
// opens) runs out; members that did not rejoin are then removed. A group starting from
// Empty first waits InitialRebalanceDelay, extended by the same again whenever a new
// member arrives, up to the rebalance timeout, so a burst of members lands in one
// generation. Completing the phase advances the generation, picks the protocol by
// Kafka's vote (among the protocols every member supports, each member votes for its
// first; most votes wins, ties go to the earliest member's preference), keeps the leader
// if it rejoined or else takes the earliest-joined member, and answers every waiting
// JoinGroup; the leader's answer lists every member's metadata. A phase that ends with no
// members leaves the group Empty in a new generation, which is recorded.
//
// The leader's SyncGroup carries the assignment. It is written to the log as a group
// record; only once that record is durable does the group become Stable and each member
// waiting in SyncGroup get its part. A SyncGroup arriving later in a Stable group is
// answered at once. If the write fails, the waiting members get NOT_COORDINATOR or
// COORDINATOR_NOT_AVAILABLE and the group rebalances. Members given a generation that
// never send SyncGroup within the rebalance timeout are removed (the leader among them,
// when it never assigns), which rebalances the group.
//
// Heartbeats keep sessions alive and answer REBALANCE_IN_PROGRESS during a join phase,
// which is how members learn to rejoin. A member whose session expires is removed and
// the group rebalances; a member waiting for a JoinGroup or SyncGroup answer does not
// need to heartbeat, as the phase it waits on is bounded by the rebalance timeout. A
// current member rejoining a Stable group with unchanged metadata gets the current
// generation without a rebalance, unless it is the leader: a leader's rejoin is how
// consumers ask for a new assignment.
//
// Static members (group.instance.id, JoinGroup v5+): a JoinGroup with a known instance
// id and no member id takes over that instance's slot under a new member id; the old id
// is fenced (FENCED_INSTANCE_ID for requests carrying the instance id with it, and for
// requests it was waiting on). In a Stable group whose member offers exactly the
// protocols and metadata it had, the new id is recorded and the member keeps its
// assignment without a rebalance; otherwise the group rebalances. A static member's
// session expiry removes it like any member.
//
// The coordinator does not watch topics. When partitions are added, the consumers'
// leader sees it in its metadata and rejoins, which rebalances the group.
//
// # Offsets
//
// OffsetCommit is accepted from a current member in the current generation (not while
// the group waits for the leader's assignment: REBALANCE_IN_PROGRESS), or, with
// generation -1 and no member id, for a group without members (consumers that assign
// partitions themselves, and administrators). A stale generation gets ILLEGAL_GENERATION,
// an unknown member UNKNOWN_MEMBER_ID. Commits are written to the log and acknowledged,
// and shown to OffsetFetch, only once durable on the ISR. OffsetFetch with RequireStable
// answers UNSTABLE_OFFSET_COMMIT for a partition with a commit on its way (or offsets of
// an open transaction, below). Topics are not checked here: the node answers unknown
// topics itself.
//
// Offsets expire as in Kafka since KIP-211 (Config.OffsetsRetention, checked every
// Config.OffsetsRetentionCheck, both on the coordinator's clock): never while the group
// has members; in an Empty group that had members, OffsetsRetention after the group
// became Empty (recorded with the group, so it survives failover); in a group that
// never had members (one that only commits), OffsetsRetention after each commit. An
// expired offset is deleted by a tombstone and stays visible until the tombstone is
// durable. A group left Empty with no offsets is removed the same way (Dead until its
// tombstone is durable; Kafka does the same); the next group of that name starts from
// generation 0. Config.Events hears of each expiry and removal.
//
// OffsetDelete (KIP-496) deletes the offsets of the partitions named: all of them in an
// Empty group; in a consumer group with members, those of topics no member subscribes to
// (the others get GROUP_SUBSCRIBED_TO_TOPIC); a group of another protocol type with
// members refuses (NON_EMPTY_GROUP), an unknown group gets GROUP_ID_NOT_FOUND. It is
// answered once its tombstones are durable; an Empty group whose last offsets it deleted
// is removed with them.
//
// DeleteGroups deletes only an Empty group (else NON_EMPTY_GROUP): tombstones for its
// group record and every offset, answered once durable.
//
// # Transactional offsets
//
// TxnOffsetCommit (KIP-98, with KIP-447's member checks) commits offsets as part of a
// producer's transaction. The committer is checked as for OffsetCommit, with two
// differences Kafka makes too: a commit without member and generation (every request
// before v3) is accepted whatever the group holds, and a group waiting for its
// assignment does not refuse it. The offsets are written as one batch of the producer's
// (its producer id and epoch, base sequence -1, the transactional bit) through
// Log.AppendTxn and answered once durable; the partition refuses an epoch older than
// the producer's (INVALID_PRODUCER_EPOCH), and a batch that would open the producer's
// transaction there without the transaction coordinator's word (INVALID_TXN_STATE):
// before the coordinator sees the request the broker asks for it (KIP-890; the kafka
// handler and core/verify.go), and hands the guard it got through TxnCommit.Guard to
// Log.AppendTxn. They then wait, per producer id, for the
// marker that ends the transaction: OffsetFetch does not show them (with RequireStable
// their partitions answer UNSTABLE_OFFSET_COMMIT), expiry leaves their partitions alone,
// and the group is neither removed by expiry nor deleted by DeleteGroups
// (NON_EMPTY_GROUP) until the marker. A later commit of the same producer for a
// partition replaces its earlier one. The node calls CompleteTxn once the producer's
// marker is durable in the partition. A commit marker makes the offsets the group's
// committed offsets, except for a partition whose committed offset comes from a record
// later in the log than the transaction's (a plain commit made after it wins, as in
// Kafka); an abort marker drops them; a marker for a producer with nothing open changes
// nothing. OffsetDelete deletes the offsets an open transaction committed to the
// partitions it names, as Kafka does: its tombstone follows their record in the log.
//
// # Records and durability
//
// Group state and offsets are records of the coordinator's __consumer_offsets partition,
// in Kafka's formats (kmsg's OffsetCommitKey/Value and GroupMetadataKey/Value; a key's
// leading version 0 or 1 is an offset commit, 2 a group record; a nil value is a
// tombstone). A record counts once it is durable on the ISR (below the high watermark).
//
//   - Group record: written when the leader's assignment arrives (answers wait for it),
//     when a static member's new id replaces the old one in a Stable group (its join waits
//     for it), and when a join phase leaves the group Empty (nothing waits for it).
//   - Offset record: one per committed partition; the commit waits for it. Those of a
//     TxnOffsetCommit are one transactional batch of the producer's.
//   - Tombstones: on DeleteGroups and OffsetDelete, which wait for them, and on expiry.
//     Tombstones of offsets of an Empty group that stays carry its group record in the
//     same batch, so a coordinator that loads them also loads the group without members,
//     never the members of an older record beside offsets deleted for want of them.
//
// A generation's assignment is handed out only after its group record is durable, and
// the join phase hands out generation numbers above the recorded one. So a generation
// number is never used with two assignments, even across coordinator failover.
//
// # Loading
//
// A new coordinator (leadership of the partition moved, or the broker restarted) replays
// the partition from its start through Log.Load, answering COORDINATOR_LOAD_IN_PROGRESS
// until it is done: the last group record of each group and the last commit of each
// partition win, tombstones delete (a tombstone also deletes what open transactions
// committed to its partition before it). Offset records of transactional batches wait
// per producer id for the producer's control batch: a commit marker applies them where
// no later record's offset is committed, an abort marker drops them, and those of
// transactions still open come back open, to be ended by CompleteTxn. Control batches
// of other types are skipped; one whose key does not decode fails the load. A group with members comes back Stable in its
// recorded generation, with its members' recorded assignments and fresh sessions that
// start when the coordinator starts serving; its next rebalance continues from that
// generation. A batch that fails its checks, or a record of the kinds above that does not
// decode, fails the load (COORDINATOR_NOT_AVAILABLE from then on, LoadErr says why):
// skipping it could roll a group back. Record kinds seedlog does not write are skipped.
//
// When leadership moves away, the node calls Close: every reply still waiting gets
// NOT_COORDINATOR and later answers from the Log are ignored.
//
// # Limits
//
// Members per group (GROUP_MAX_SIZE_REACHED; member ids handed out with
// MEMBER_ID_REQUIRED count against the same bound), groups per coordinator (joins and
// commits that would create more get COORDINATOR_NOT_AVAILABLE), protocols per join and
// bytes of protocol metadata and assignments (INVALID_REQUEST), bytes of offset metadata
// (OFFSET_METADATA_TOO_LARGE), and commits and OffsetDeletes waiting for the log
// (COORDINATOR_NOT_AVAILABLE). One expiry check writes at most 1000 tombstones per group
// and keeps at most 256 expiry appends in flight; the rest waits for the next check.
//
// # Differences from Kafka
//
//   - Members that do not rejoin before the rebalance timeout are removed, static ones
//     included (Kafka keeps static members until their session expires).
//   - A static member replaces its old incarnation without a rebalance only when its
//     protocols and metadata are unchanged (Kafka only asks that the chosen protocol
//     would not change).
//   - Offsets of a consumer group with members never expire (Kafka expires those of
//     topics the group no longer subscribes to, retention after their commit).
//   - An offset committed to a group after it became Empty expires retention after its
//     commit (Kafka counts from when the group became Empty, so offsets reset in a group
//     Empty for longer than the retention expire at the next check).
//   - OffsetDelete is answered once its tombstones are durable (Kafka does not wait);
//     a group being removed answers COORDINATOR_NOT_AVAILABLE (Kafka:
//     GROUP_ID_NOT_FOUND). The topics a consumer group subscribes to are those of its
//     current members' metadata (Kafka takes them when a generation starts). OffsetDelete
//     removes an Empty group only when it deleted the group's last offsets.
//   - A removal whose tombstones the log refused leaves the group Dead, and the next
//     expiry check writes them again (Kafka gives the group up in memory at once): once
//     they may be in the log, a new generation must not start here.
//   - A request superseded by a newer one from the same member (a second JoinGroup or
//     SyncGroup while the first waits) is answered REBALANCE_IN_PROGRESS rather than never.
//   - Record values of version 4 (flexible, written by Kafka 3.5+) are not read; seedlog
//     writes version 3 and never loads a log Kafka wrote.
//   - DeleteGroups refuses a group holding offsets of a transaction not yet ended
//     (NON_EMPTY_GROUP); Kafka deletes them with the group.
package group
