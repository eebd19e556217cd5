// Package raft is the controller quorum of seedlog: one Raft group that replicates the
// cluster's metadata log among a fixed set of voters (the controllers) and to observers
// (brokers that follow the log without voting). Its shape is Kafka's KRaft (KIP-595):
// durable epoch and vote, pull-based replication with divergence detection by epoch, a
// high watermark by majority, and snapshots.
//
// It is a pure state machine in the style of etcd's raft. Inputs are method calls that
// carry the time on the member's own clock (Step for a peer message, Tick for time, Done
// for a disk completion, Propose, SnapshotTaken); outputs are data: disk ops go to the
// node's disk.Queue, everything else comes out of Ready. There is no I/O, clock or
// goroutine, and randomness comes from Config.Rand, so a seeded run reproduces exactly.
// Clocks of different members may be skewed and drift; raft only compares times taken
// on the same member.
//
// # Roles and elections
//
// Time is divided into epochs, each with at most one leader. A voter that knows no
// leader (Unattached), or a follower that got no good fetch response for FetchTimeout,
// becomes Prospective and asks the other voters for pre-votes for epoch+1. A pre-vote
// changes nothing on the voter; it is granted when the candidate's log is at least as up
// to date (last epoch, then end offset) and the voter has not heard from a live leader
// within ElectionTimeout. So a member cut off from the others asks again and again
// without raising the epoch, and does not depose a healthy leader when it returns.
// With a majority of pre-votes it becomes a Candidate: epoch+1, a vote for itself,
// persisted before any vote request leaves. Voters grant one vote per epoch, persisted
// before the answer leaves, and only to a log at least as up to date as theirs. Election
// timeouts are drawn from [ElectionTimeout, 2*ElectionTimeout), which breaks split votes;
// unanswered requests are repeated every quarter timeout.
//
// A new leader appends a leader-change control record in its epoch (DecodeLeaderChange),
// which gives it an entry of its own epoch to commit, and sends BeginQuorumEpoch to the
// voters that have not fetched from it yet (again every half election timeout). A
// leader that no majority of voters (itself included) fetched from within FetchTimeout
// resigns: it stays in its epoch as Unattached, stops serving at once (held fetches are
// refused) and lets an election happen.
//
// Any message with a higher epoch makes the receiver adopt it (persisted before anything
// that depends on it leaves); a request with a lower epoch is answered with the current
// epoch and leader, so the sender catches up. Observers never vote or stand; they learn
// epochs and leaders from responses.
//
// # Epochs from peers
//
// Epochs only grow, and adopting one is persisted, so a single message carrying epoch
// 2^31-1 would make a member unable to ever stand again (startPreVote stops there), and
// three such messages would leave the quorum leaderless for good. Step therefore drops,
// with an "epoch-refused" note, any message whose epoch exceeds what a legitimate
// sequence of elections could have reached. The bound rests on the election timer:
// a voter stands at most once per S = min(ElectionTimeout, FetchTimeout) on its own clock
// (its election timer restarts when it stands; a follower stands when its leader was
// silent for FetchTimeout, and it follows only after standing), and every stand raises
// the quorum's highest epoch by at most one. Clocks run at 1±ρ (ρ = ClockDriftMax), so
// while e passes on this member's clock a voter's clock advances at most
// e(1+ρ)/(1-ρ), and the quorum's epoch grows by at most V per period
// P = S(1-ρ)/(1+ρ) of this member's clock, plus one stand per voter in progress. A member
// accepts epochs up to
//
//	anchorEpoch + epochSlack + V * ceil((now - anchorTime) / P)
//
// where the anchor is its epoch when it started (as recovered from disk) and moves to
// each epoch it later adopts or stands in, but only when that tightens the bound: an
// adopted epoch may come from a peer that lies within the bound, and anchoring on it
// would let the lie grow by epochSlack at every message. epochSlack (1024) covers what
// the rate cannot see: the elections the quorum held while this member was down or cut
// off before its anchor, the stands in progress at the anchor, a pre-vote's epoch+1 and
// clock jumps. Simulated runs with crash and partition storms stay below a hundred
// epochs. Observers apply the same bound.
//
// A member that was away longer than the slack covers (a broker added to an old
// cluster, a voter whose quorum state was lost) would refuse the real epoch. So every
// epoch above a member's own that another voter's message carried is remembered, and
// once a majority of the voters carried an epoch, the anchor moves up to it
// ("epoch-vouched"): not every member of a majority can be the faulty one. A minority of
// faulty voters can therefore raise the epoch by epochSlack once, and then only as fast
// as legitimate elections could: 2^31/V periods to exhaust the epochs, about 14 years
// with five voters and the default one-second election timeout. The guard defends the epoch only: a faulty voter can still lie in
// every other field (its log in a vote request, its fetch offset), which Raft does not
// survive in general.
//
// # Replication
//
// Followers and observers pull: Fetch{epoch, fetchOffset, lastFetchedEpoch, knownHW}. A
// member sends its next fetch only when everything it appended is synced, so a voter's
// fetch offset is also its durable offset, which the leader counts, but no further than
// its own answers to that voter covered in its epoch (an answer at offset F with batches
// up to E covers max(F, E); the last snapshot chunk covers the snapshot's end): a voter
// cannot hold what it was never sent, so a faulty one claiming the leader's whole log
// does not commit it. A fetch that claims more than is credited is answered at once, not
// held, so the next fetch, which counts, follows a round trip later. The leader checks
// (fetchOffset, lastFetchedEpoch) against its epochs: when they match it answers with
// whole batches from fetchOffset (at most FetchBytesMax, the first batch always whole);
// when they do not, with Diverging{epoch, endOffset}, the largest epoch it has up to
// lastFetchedEpoch and where it ends, and the follower truncates to the smaller of that
// end and its own end of the epoch, in one round trip; when fetchOffset is below the
// leader's log start, with the id of its snapshot, which the follower fetches in chunks
// (FetchSnapshot), writes to SnapshotFile, restarts its log at (disk.Reset) and hands to
// the node in Ready.Installed. A fetch that would return nothing is held up to
// FetchMaxWait (long poll) and answered early when entries are appended or the high
// watermark moves. Followers check every batch (CRC, dense offsets, uncompressed, epoch
// between their last and the leader's) and append the valid prefix.
//
// The leader's high watermark is the largest offset below which a majority of voters
// (the leader through its own synced and acknowledged offset) hold the log durably, provided the entry
// just below it has the leader's epoch: an older entry on a majority can still be
// overwritten by a leader that never had it (Raft's figure 8). A follower's is the
// smaller of the leader's and its own durable offset.
//
// # Messages
//
// VoteRequest/VoteResponse (pre-votes and votes), BeginQuorumEpoch and its response,
// Fetch/FetchResponse, FetchSnapshot/FetchSnapshotResponse, and EpochQuery/EpochAnswer
// (a recovering member asks a voter for its epoch and leader). EncodeMessage writes a
// kind byte and the body with core/enc; DecodeMessage never panics, bounds lengths by
// the input and rejects trailing bytes. Responses echo what they answer, so duplicated,
// reordered and stale responses are recognized and ignored.
//
// # What is durable when
//
//   - The quorum state (epoch, vote, high watermark, acknowledged end, recovery state)
//     is written with disk.WriteFile to QuorumStateFile and then to QuorumStateCopyFile,
//     one write at a time; changes made meanwhile go out together in the next write. A
//     write counts when its second copy is written. Every message that depends on an
//     epoch or a vote waits behind a disk.Gate for the write that records it: vote
//     answers, a candidate's vote requests, a follower's fetches in a new epoch.
//   - The acknowledged end is the log end a member reported as durable. A voter fetches
//     from an offset (which the leader counts as its durable end) only once a
//     quorum-state write acknowledges it; a leader counts its own log only as far as the
//     write that records the resulting high watermark acknowledges it. Cutting the log
//     (a divergent suffix, a log replaced by a snapshot) first lowers the acknowledged
//     end, durably; the cut follows.
//   - The high watermark is exposed (Ready.Committed, Status.HW, fetch responses) only
//     as far as it is durable, so it never goes back on a member, across restarts too
//     (unless the quorum state itself is lost, Status.QuorumStateLost, or the snapshot
//     that raised it, Status.SnapshotLost). After a restart
//     the entries from the snapshot (or log start) up to the persisted high watermark
//     are delivered again, as far as the log holds them, for the node to rebuild its
//     image.
//   - Log entries are durable once the Sync after their Append completes; Truncate,
//     Reset and DeleteBelow are durable when done. A failed op stops raft (Ready.Fatal):
//     the node must recover from disk rather than trust what it believes was written.
//   - Snapshots are the node's: it writes them (EncodeSnapshotFile) and calls
//     SnapshotTaken, at an offset that ends a committed batch. Raft keeps the newest to
//     serve followers and drops the log below it.
//
// # What is survived
//
// Losing unsynced data on a minority of voters (crash, power loss, lost fsync) loses
// nothing: the high watermark only covers what a majority has synced. If a majority
// loses unsynced data at once, nothing acknowledged as committed is lost either, for the
// same reason; entries above the high watermark may vanish, and their offsets may be
// reused by later proposals (a proposer only learns an entry's fate when it commits).
// Lost quorum-state writes are harmless: nothing that depended on them left. Damage at
// rest to a minority of voters is survived too (next section). What cannot be survived
// is a majority losing *synced* data (disks that lie about fsync, or are wiped or
// damaged together): committed entries can then be lost or replaced, and voters that
// forgot their votes can elect two leaders in an epoch. Damage that checksums do not
// reveal is invisible to a member.
//
// # Surviving a damaged disk
//
// Raft assumes that what a member wrote durably stays written; seedlog also survives
// damage at rest to the quorum files (metadata log, quorum state, snapshot) of a
// minority of voters. Detecting the damage is not enough: a voter that restarts with a
// shorter log may have helped commit an entry it no longer holds, and if it votes as if
// its log were whole, a majority lacking the entry can elect a leader without it.
//
// Detection. At restart every batch is checked again (CRC, dense offsets, epochs: the
// epoch in a batch header is outside the batch CRC, but every epoch in a log begins with
// its leader's leader-change record, which names the epoch under the CRC), and the log is
// cut at the first batch that fails. A log that then ends below the acknowledged end or
// the high watermark lost acknowledged entries; one that ends at or beyond them did not,
// since deliberate cuts lower the acknowledged end first. Of the two quorum-state copies
// the newer intact one (epoch, then write sequence) is used: each alone is at least the
// state last acted on, because a state counts only once both copies hold it. Copies that
// differ are both written again before anything depends on the newer, so that losing it
// later cannot silently bring back the older. A snapshot that does not decode takes the
// log below it along: the member removes it and restarts its log empty at 0.
//
// Recovering. A member that lost acknowledged entries, its snapshot or both quorum-state
// copies starts Recovering (Status.Recovering, persisted until it ends): it grants no
// votes or pre-votes and does not stand. It asks every voter for its epoch and leader
// (EpochQuery) and follows the leader. It has recovered once, in the epoch of a leader
// that answered one of its fetches, its durable log reaches its own high watermark, the
// leader's high watermark in that first answer, and the leader's log end in that answer
// as far as the end it had acknowledged (the whole of it when that end is unknown). From
// then on it votes only in epochs above that leader's. Meanwhile Status.HW may exceed
// Status.EndOffset, and Ready.Committed delivers entries as the log holds them again.
//
// Why nothing committed is lost. Let entry e be committed in epoch E: a majority M
// acknowledged it. From then on each member of M holds e durably or is recovering. A
// member that loses e finds its log below its acknowledged end (or its snapshot or
// quorum state gone) and recovers; it stops only when its log holds the prefix of a
// leader's log, in an epoch at least E, up to its acknowledged end; that leader holds e
// at the same offset (leader completeness, by induction on epochs), so the member holds e
// again. Recovering members do not vote, so every election majority consists of members
// that do; it intersects M, the members of M in it hold e, and they vote only for logs
// that hold e (the up-to-date check). So every leader after E holds e. The argument needs
// no bound on the number of recovering members: that bound (a minority of voters
// damaged) is what keeps a majority able to vote and a copy of e in existence. A
// recovering member's fetches still count toward the high watermark, since it
// acknowledged them: it is one more member that holds the entries or recovers. A lone
// voter that loses data stays recovering: nobody else holds what it lost.
//
// Votes after losing the quorum state. A member without its quorum state may have voted
// in epochs it no longer knows, and voting again in one of them could elect a second
// leader there. Its log does not bound those epochs (its last epoch plus one would not
// do): a member can vote in many epochs, for candidates that never win, without
// receiving an entry. So it votes only above its vote floor: the highest epoch that every
// other voter reports in answer to queries sent after its restart (answers carry the
// query's nonce). Say it voted for C in epoch E' before the loss. If C still holds its
// state, C persisted E' before asking for votes, reports at least E', and the floor
// covers E'. If C lost its state, its candidacy ended with it, unless C had already won
// E'; then a majority persisted E' to vote for it, one of them kept its state (only a
// minority is damaged), reports at least E', and the floor covers E' again. Either way
// the member never votes in E' again, or its old vote can help nobody win E'. The price
// is liveness: it votes again only after every voter answered. The same argument bounds
// the epochs of the commits it acknowledged, so the leader it catches up with, in an
// epoch at least the floor, holds all those entries; their offsets being unknown, it
// catches up with that leader's whole log.
//
// # Planted bugs
//
// With -tags simbugs, plant.VoteBeforeSync releases votes before they are durable,
// plant.CommitOldEpoch drops the current-epoch condition of the high watermark, and
// plant.NoTruncateDivergent makes a follower keep a diverging suffix (it claims the
// leader's epoch for its tail and fetches on from its own end). The package's simulation
// test shows that its checkers catch each of them.
//
// # Differences from KIP-595
//
// Pre-votes (KIP-996) are always on; there is no EndQuorumEpoch (a resigning leader
// refuses the fetches it holds, and followers time out otherwise); the leader id is not
// persisted, so a restarted member starts Unattached and learns the leader from
// BeginQuorumEpoch or from pre-vote answers; Fetch carries the high watermark the
// fetcher knows so the leader does not hold a fetch whose answer would move it;
// Status.Epoch is the durable epoch, with PendingEpoch the one the member acts in; and
// recovery from damaged disks (acknowledged ends, two quorum-state copies, EpochQuery,
// the leader's log end in FetchResponse) is seedlog's own.
package raft
