package raft

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/seedlog/seedlog/core/plant"
)

// leaderState is what a leader tracks about its epoch.
type leaderState struct {
	peers   []peerProgress // by voter index; the leader's own entry is unused
	held    []heldFetch    // at most one per replica, in arrival order
	beginAt int64          // next BeginQuorumEpoch to voters that have not fetched yet
	// epochStart is the offset after this leader's leader-change record: once the high
	// watermark reaches it, everything earlier epochs committed is committed here too.
	epochStart int64
	reads      readState
	// observers are the non-voters that fetched in this epoch, by id, for Describe.
	observers []observerSeen
}

type peerProgress struct {
	// readRound is the highest read round this voter echoed in a fetch of this epoch.
	readRound uint64
	// durable is the fetch offset of the voter's last fetch that matched this log: its
	// log equals this one below it, and it is synced there. -1 until it fetches. It is
	// credited no further than sent.
	durable int64
	// sent is the largest offset this leader's answers to the voter covered in this
	// epoch (an answer at offset F carrying batches up to E covers max(F, E)); -1 none.
	// A voter cannot hold more than it was sent, or than an earlier answer confirmed it
	// holds, so a fetch claiming more, from a faulty or impersonated voter, is not
	// counted for the high watermark.
	sent      int64
	lastFetch int64 // for check-quorum; the election time until the first fetch
	fetched   bool  // fetched in this epoch, so it knows the leader
	seen      fetchSeen
}

type heldFetch struct {
	from  int32
	req   Fetch
	until int64
}

func (r *Raft) becomeLeader(now int64) {
	r.role, r.leader = Leader, r.cfg.ID
	r.votes, r.rejects = nil, nil
	r.lead = &leaderState{
		peers:   make([]peerProgress, len(r.cfg.Voters)),
		beginAt: now + int64(r.cfg.ElectionTimeout)/2,
	}
	for i := range r.lead.peers {
		r.lead.peers[i] = peerProgress{durable: -1, sent: -1, lastFetch: now, seen: newFetchSeen()}
	}
	r.note("elected", "%d leads epoch %d from offset %d", r.cfg.ID, r.epoch, r.log.end())
	value := leaderChangeValue(r.cfg.ID, r.epoch, r.cfg.Voters)
	batch, err := buildBatch(r.log.end(), r.epoch, now/1e6, true, [][]byte{value})
	if err != nil {
		panic(fmt.Sprintf("raft %d: %v", r.cfg.ID, err))
	}
	r.appendLocal(batch)
	r.lead.epochStart = r.log.end()
	r.beginQuorumEpoch()
	r.advanceLeaderHW()
}

// beginQuorumEpoch tells the voters that have not fetched yet who leads.
func (r *Raft) beginQuorumEpoch() {
	for i, v := range r.cfg.Voters {
		if i != r.voterIdx && !r.lead.peers[i].fetched {
			r.send(v, &BeginQuorumEpoch{Epoch: r.epoch, LeaderID: r.cfg.ID})
		}
	}
}

// dropLeadership stops serving: held fetches learn that this member no longer leads.
func (r *Raft) dropLeadership() {
	r.failReads()
	for _, h := range r.lead.held {
		r.send(h.from, r.refusal(&h.req, CodeNotLeader, -1))
	}
	r.lead = nil
}

func (r *Raft) tickLeader(now int64) {
	if now >= r.quorumDeadline() {
		r.resign(now)
		return
	}
	r.expireHeldFetches(now)
	if now >= r.lead.beginAt {
		r.beginQuorumEpoch()
		r.lead.beginAt = now + int64(r.cfg.ElectionTimeout)/2
	}
}

func (r *Raft) leaderDeadline() int64 {
	d := r.quorumDeadline()
	for _, h := range r.lead.held {
		d = min(d, h.until)
	}
	for i, p := range r.lead.peers {
		if i != r.voterIdx && !p.fetched {
			d = min(d, r.lead.beginAt)
		}
	}
	return d
}

// quorumDeadline is when the leader must resign unless more voters fetch: FetchTimeout
// after the time by which a majority (itself included) last fetched.
func (r *Raft) quorumDeadline() int64 {
	if r.majority == 1 {
		return math.MaxInt64
	}
	times := make([]int64, 0, len(r.cfg.Voters)-1)
	for i, p := range r.lead.peers {
		if i != r.voterIdx {
			times = append(times, p.lastFetch)
		}
	}
	slices.SortFunc(times, func(a, b int64) int { return cmp.Compare(b, a) })
	return times[r.majority-2] + int64(r.cfg.FetchTimeout)
}

// resign gives up leadership after losing touch with a majority, staying in the epoch
// so that an election can pick a leader that a majority reaches.
func (r *Raft) resign(now int64) {
	r.note("resigned", "%d lost touch with a majority in epoch %d", r.cfg.ID, r.epoch)
	r.leaveRole("check-quorum")
	r.role, r.leader = Unattached, -1
	r.lastLeaderContact = noTime
	r.resetElectionTimer(now)
}

// advanceLeaderHW moves the high watermark to the largest offset a majority of voters
// has durably, provided the entry below it is of this epoch (an entry of an older epoch
// on a majority can still be replaced by a leader that never saw it).
func (r *Raft) advanceLeaderHW() {
	offs := make([]int64, len(r.cfg.Voters))
	for i, p := range r.lead.peers {
		offs[i] = p.durable
	}
	// Its own offset counts only as far as it is acknowledged: the write that makes the
	// resulting high watermark durable carries that acknowledgement too.
	offs[r.voterIdx] = min(r.durableOffset, r.ackedMem)
	slices.SortFunc(offs, func(a, b int64) int { return cmp.Compare(b, a) })
	m := offs[r.majority-1]
	if m <= r.hwMem {
		return
	}
	if r.log.epochBefore(m) != r.epoch && !r.cfg.Plants.On(plant.CommitOldEpoch) {
		return
	}
	r.raiseHW(min(m, r.durableOffset))
}

func (r *Raft) onFetch(now int64, from int32, m *Fetch) {
	if m.ReplicaID != from || from == r.cfg.ID || m.FetchOffset < 0 || m.LastFetchedEpoch < 0 {
		return
	}
	if m.Epoch > r.epoch {
		r.adopt(now, m.Epoch, -1)
	}
	switch {
	case m.Epoch < r.epoch:
		r.send(from, r.refusal(m, CodeFencedEpoch, r.leader))
		return
	case r.role != Leader:
		r.send(from, r.refusal(m, CodeNotLeader, r.leader))
		return
	}
	vi := r.voterIndex(from)
	if vi >= 0 {
		r.lead.peers[vi].lastFetch = now
		r.lead.peers[vi].fetched = true
		r.lead.peers[vi].readRound = max(r.lead.peers[vi].readRound, m.ReadRound)
		r.confirmReads()
	}
	div, snap := r.checkFetchPosition(m.FetchOffset, m.LastFetchedEpoch)
	if div == nil && !snap {
		r.seenFetch(now, vi, from, m.FetchOffset)
		credited := vi < 0 || r.creditFetch(vi, m.FetchOffset)
		// A fetch not fully credited is answered at once: the answer is what lets the
		// next fetch count, and the high watermark should not wait a long poll for it.
		if credited && m.FetchOffset == r.log.end() && m.KnownHW == r.hwDurable && r.cfg.FetchMaxWait > 0 {
			r.holdFetch(now, from, m)
			return
		}
	}
	r.serveFetch(from, m)
}

// creditFetch counts a voter's fetch offset as its durable offset, as far as this
// leader's answers covered it, and reports whether it counted whole.
func (r *Raft) creditFetch(vi int, offset int64) bool {
	p := &r.lead.peers[vi]
	p.durable = min(offset, p.sent)
	r.advanceLeaderHW()
	return p.durable == offset
}

// covered records that an answer to voter `to` covered the log up to offset.
func (r *Raft) covered(to int32, offset int64) {
	if vi := r.voterIndex(to); vi >= 0 && r.lead != nil {
		r.lead.peers[vi].sent = max(r.lead.peers[vi].sent, offset)
	}
}

func (r *Raft) refusal(m *Fetch, code Code, leader int32) *FetchResponse {
	resp := &FetchResponse{Epoch: r.epoch, Leader: leader, Code: code, FetchOffset: m.FetchOffset,
		LastFetchedEpoch: m.LastFetchedEpoch, HW: r.hwDurable, LogStartOffset: r.log.start, EndOffset: r.log.end()}
	if r.lead != nil {
		resp.ReadRound = r.lead.reads.round
	}
	return resp
}

// checkFetchPosition compares a fetcher's position with this log: nil and false when
// its log matches below offset; where to truncate when it diverges; true when the
// position is below this log's start and only the snapshot can help.
func (r *Raft) checkFetchPosition(offset int64, lastEpoch int32) (div *EpochEnd, snapshot bool) {
	if offset < r.log.start {
		return nil, true
	}
	e, end, ok := r.log.endOfEpoch(lastEpoch)
	if !ok {
		return nil, true
	}
	if e == lastEpoch && end >= offset {
		return nil, false
	}
	return &EpochEnd{Epoch: e, EndOffset: end}, false
}

// serveFetch answers a fetch with batches, a divergence or a snapshot id.
func (r *Raft) serveFetch(to int32, m *Fetch) {
	resp := r.refusal(m, CodeNone, r.cfg.ID)
	div, snap := r.checkFetchPosition(m.FetchOffset, m.LastFetchedEpoch)
	switch {
	case snap && r.snap == nil:
		return // only a malformed position gets here: a log starting above 0 has a snapshot
	case snap:
		resp.Snapshot = &SnapshotID{EndOffset: r.snap.EndOffset, Epoch: r.snap.Epoch}
	case div != nil:
		resp.Diverging = div
	default:
		var next int64
		resp.Batches, next = r.log.slice(m.FetchOffset, r.cfg.FetchBytesMax)
		r.covered(to, max(m.FetchOffset, next))
	}
	r.send(to, resp)
}

// holdFetch parks a fetch that would return nothing, replacing an older one from the
// same replica, until data arrives, the high watermark moves or FetchMaxWait passes.
func (r *Raft) holdFetch(now int64, from int32, m *Fetch) {
	h := heldFetch{from: from, req: *m, until: now + int64(r.cfg.FetchMaxWait)}
	for i := range r.lead.held {
		if r.lead.held[i].from == from {
			r.lead.held[i] = h
			return
		}
	}
	if len(r.lead.held) >= r.cfg.HeldFetchesMax {
		r.serveFetch(from, m)
		return
	}
	r.lead.held = append(r.lead.held, h)
}

func (r *Raft) completeHeldFetches() {
	if r.lead == nil {
		return
	}
	held := r.lead.held
	r.lead.held = nil
	for i := range held {
		r.serveFetch(held[i].from, &held[i].req)
	}
}

func (r *Raft) expireHeldFetches(now int64) {
	kept := r.lead.held[:0]
	for _, h := range r.lead.held {
		if now >= h.until {
			r.serveFetch(h.from, &h.req)
		} else {
			kept = append(kept, h)
		}
	}
	clear(r.lead.held[len(kept):])
	r.lead.held = kept
}

func (r *Raft) onFetchSnapshot(now int64, from int32, m *FetchSnapshot) {
	if m.ReplicaID != from || from == r.cfg.ID {
		return
	}
	if m.Epoch > r.epoch {
		r.adopt(now, m.Epoch, -1)
	}
	resp := &FetchSnapshotResponse{Epoch: r.epoch, Leader: r.leader, Snapshot: m.Snapshot, Position: m.Position}
	switch {
	case m.Epoch < r.epoch:
		resp.Code = CodeFencedEpoch
	case r.role != Leader:
		resp.Code = CodeNotLeader
	case r.snap == nil || r.snap.EndOffset != m.Snapshot.EndOffset || r.snap.Epoch != m.Snapshot.Epoch ||
		m.Position < 0 || m.Position > int64(len(r.snap.Data)):
		resp.Code = CodeUnknownSnapshot
	default:
		if vi := r.voterIndex(from); vi >= 0 {
			r.lead.peers[vi].lastFetch = now
			r.lead.peers[vi].fetched = true
		}
		data := r.snap.Data
		resp.Size = int64(len(data))
		resp.Chunk = data[m.Position:min(int64(len(data)), m.Position+int64(r.cfg.SnapshotChunkBytes))]
		if m.Position+int64(len(resp.Chunk)) == resp.Size {
			r.covered(from, r.snap.EndOffset) // the last chunk completes the snapshot
		}
	}
	r.send(from, resp)
}

// observersSeenMax bounds the observers a leader remembers for Describe: observers are
// the cluster's brokers, and one beyond the bound is simply not described.
const observersSeenMax = 1024

// fetchSeen is what a leader saw of one replica's fetches in its epoch, for Describe.
type fetchSeen struct {
	// offset is the fetch offset of the last fetch that matched this log (the replica
	// holds this log below it), capped at the log end; -1 before one.
	offset int64
	at     int64 // when the last matching fetch came; noTime before one
	// caughtUpAt is the last time the replica was known to hold this whole log: a fetch
	// at the log end, or a fetch reaching the log end as of the one before it (that one
	// then proved it caught up). noTime when never.
	caughtUpAt int64
	endThen    int64 // this log's end when the last matching fetch came
}

func newFetchSeen() fetchSeen { return fetchSeen{offset: -1, at: noTime, caughtUpAt: noTime} }

// fetched records a fetch at offset that matched this log, whose end is end.
func (f *fetchSeen) fetched(now, offset, end int64) {
	offset = min(offset, end)
	switch {
	case offset >= end:
		f.caughtUpAt = now
	case f.at != noTime && offset >= f.endThen:
		f.caughtUpAt = max(f.caughtUpAt, f.at)
	}
	f.offset, f.at, f.endThen = offset, now, end
}

// observerSeen is an observer's fetchSeen.
type observerSeen struct {
	id int32
	fetchSeen
}

// seenFetch records, for Describe, a fetch from replica `from` whose position matched.
func (r *Raft) seenFetch(now int64, vi int, from int32, offset int64) {
	end := r.log.end()
	if vi >= 0 {
		r.lead.peers[vi].seen.fetched(now, offset, end)
		return
	}
	obs := r.lead.observers
	i, found := slices.BinarySearchFunc(obs, from, func(o observerSeen, id int32) int { return cmp.Compare(o.id, id) })
	if !found {
		if len(obs) >= observersSeenMax {
			return
		}
		obs = slices.Insert(obs, i, observerSeen{id: from, fetchSeen: newFetchSeen()})
		r.lead.observers = obs
	}
	obs[i].fetched(now, offset, end)
}

// ReplicaProgress is one member's progress as the quorum leader saw it. Times are on the
// leader's clock; NoTime when unknown.
type ReplicaProgress struct {
	ID           int32
	LogEndOffset int64 // -1 when unknown
	LastFetch    int64
	LastCaughtUp int64
}

// NoTime marks a time a ReplicaProgress does not know.
const NoTime = noTime

// Description is the quorum as its leader sees it.
type Description struct {
	Leader      int32
	LeaderEpoch int32
	HW          int64
	// Voters are every voter, in id order, the leader among them; Observers the
	// non-voters that fetched in this epoch, in id order.
	Voters, Observers []ReplicaProgress
}

// Describe describes the quorum when this member leads it (ok false otherwise): only
// the leader knows how far the others got. The leader describes itself with its own
// log end and the time of its last input.
func (r *Raft) Describe() (d Description, ok bool) {
	if r.role != Leader || r.lead == nil {
		return d, false
	}
	d = Description{Leader: r.cfg.ID, LeaderEpoch: r.epoch, HW: r.hwDurable}
	if r.cfg.Plants.On(plant.DescribeQuorumEndAsHW) {
		d.HW = r.log.end()
	}
	for i, id := range r.cfg.Voters {
		if i == r.voterIdx {
			d.Voters = append(d.Voters, ReplicaProgress{ID: id, LogEndOffset: r.log.end(), LastFetch: r.lastNow, LastCaughtUp: r.lastNow})
			continue
		}
		d.Voters = append(d.Voters, r.lead.peers[i].seen.progress(id))
	}
	for _, o := range r.lead.observers {
		d.Observers = append(d.Observers, o.progress(o.id))
	}
	return d, true
}

func (f *fetchSeen) progress(id int32) ReplicaProgress {
	return ReplicaProgress{ID: id, LogEndOffset: f.offset, LastFetch: f.at, LastCaughtUp: f.caughtUpAt}
}
