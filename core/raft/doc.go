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
// # Replication
//
// Followers and observers pull: Fetch{epoch, fetchOffset, lastFetchedEpoch, knownHW}. A
// member sends its next fetch only when everything it appended is synced, so a voter's
// fetch offset is also its durable offset, which the leader counts. The leader checks
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
// (the leader through its own synced offset) hold the log durably, provided the entry
// just below it has the leader's epoch: an older entry on a majority can still be
// overwritten by a leader that never had it (Raft's figure 8). A follower's is the
// smaller of the leader's and its own durable offset.
//
// # Messages
//
// VoteRequest/VoteResponse (pre-votes and votes), BeginQuorumEpoch and its response,
// Fetch/FetchResponse and FetchSnapshot/FetchSnapshotResponse. EncodeMessage writes a
// kind byte and the body with core/enc; DecodeMessage never panics, bounds lengths by
// the input and rejects trailing bytes. Responses echo what they answer, so duplicated,
// reordered and stale responses are recognized and ignored.
//
// # What is durable when
//
//   - The quorum state (QuorumStateFile: epoch, vote, high watermark) is written with
//     disk.WriteFile, one write at a time; changes made meanwhile go out together in the
//     next write. Every message that depends on an epoch or a vote waits behind a
//     disk.Gate for the write that records it: vote answers, a candidate's vote
//     requests, a follower's fetches in a new epoch.
//   - The high watermark is exposed (Ready.Committed, Status.HW, fetch responses) only
//     as far as it is durable, so it never goes back on a member, across restarts too.
//     After a restart the entries from the snapshot (or log start) up to the persisted
//     high watermark are delivered again, for the node to rebuild its image.
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
// Lost quorum-state writes are harmless: nothing that depended on them left. What
// cannot be survived is a majority losing *synced* data (a disk that lies about fsync,
// or one wiped): committed entries can then be lost or replaced, and a voter that forgot
// its vote can vote twice in an epoch. A member notices some of this at restart (a high
// watermark beyond its log, a log epoch beyond its quorum state) and refuses to start;
// the rest is invisible to it.
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
// fetcher knows so the leader does not hold a fetch whose answer would move it; and
// Status.Epoch is the durable epoch, with PendingEpoch the one the member acts in.
package raft
