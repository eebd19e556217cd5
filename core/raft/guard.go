package raft

import (
	"cmp"
	"math"
	"slices"
)

// epochSlack is how far above the guard's anchor epoch a peer's epoch may be before any
// time has passed (see "Epochs from peers" in the package doc). It covers what the rate
// bound cannot see: elections the quorum held while this member was down or cut off
// before the anchor, a pre-vote's epoch+1, stands already under way at the anchor, and
// the rounding of clock jumps. A whole simulated run under crash and partition storms
// moves the epoch by a few hundred at most, so 1024 leaves room; a peer that lies gets
// at most 1024 of the 2^31 epochs at once, and after that only as many as real
// elections could add.
const epochSlack = 1024

// epochGuard bounds the epochs a member accepts: at most
//
//	baseEpoch + epochSlack + len(Voters) * ceil((now - baseAt) / period)
//
// where period is the shortest time, on this member's clock, in which a voter can stand
// twice. Only Step consults it.
type epochGuard struct {
	period    int64
	baseEpoch int32
	baseAt    int64
	// claims is, by voter index, the highest epoch above this member's own that a
	// message from that voter carried in this incarnation; -1 none. A majority of voters
	// claiming an epoch vouches for it (a majority cannot all be lying).
	claims []int32
}

// newEpochGuard sizes the guard for cfg. A voter stands at most once per ElectionTimeout
// (its timer restarts when it stands) or FetchTimeout (a follower stands when the leader
// has been silent that long, and it only follows after standing), on its own clock; its
// clock may run 1+ρ fast while this member's runs 1-ρ slow.
func newEpochGuard(cfg Config) epochGuard {
	stand := float64(min(cfg.ElectionTimeout, cfg.FetchTimeout))
	rho := cfg.ClockDriftMax
	g := epochGuard{period: max(int64(stand*(1-rho)/(1+rho)), 1), claims: make([]int32, len(cfg.Voters))}
	for i := range g.claims {
		g.claims[i] = -1
	}
	return g
}

// anchor measures the allowance from epoch at now.
func (g *epochGuard) anchor(now int64, epoch int32) {
	g.baseEpoch, g.baseAt = epoch, now
}

// epochLimit is the highest epoch any legitimate sequence of elections could have reached
// by now.
func (r *Raft) epochLimit(now int64) int64 {
	g := &r.guard
	elapsed := max(now-g.baseAt, 0)
	periods := elapsed / g.period
	if elapsed%g.period != 0 {
		periods++
	}
	if periods > math.MaxInt32 {
		return math.MaxInt64
	}
	return int64(g.baseEpoch) + epochSlack + int64(len(r.cfg.Voters))*periods
}

// epochChanged moves the anchor to a new epoch this member adopted or stood in, when that
// tightens the bound. It never loosens it: the epoch may come from a peer that lies
// within the bound, and anchoring on it would let the lie grow by epochSlack each time.
func (r *Raft) epochChanged(now int64, epoch int32) {
	if int64(epoch)+epochSlack < r.epochLimit(now) {
		r.guard.anchor(now, epoch)
	}
}

// admitEpoch reports whether m's epoch is within the bound, noting a refusal. An epoch a
// majority of voters vouch for moves the anchor up to it: that is how a member that was
// away while the quorum went through many elections catches up.
func (r *Raft) admitEpoch(now int64, from int32, m Message) bool {
	if m == nil {
		return false
	}
	e := messageEpoch(m)
	if e <= r.epoch {
		return true
	}
	if vi := r.voterIndex(from); vi >= 0 && from != r.cfg.ID {
		r.guard.claims[vi] = max(r.guard.claims[vi], e)
	}
	if int64(e) <= r.epochLimit(now) {
		return true
	}
	if v := r.vouchedEpoch(); int64(v)+epochSlack > r.epochLimit(now) {
		r.note("epoch-vouched", "%d: a majority of voters reports epoch %d or more", r.cfg.ID, v)
		r.guard.anchor(now, v)
		if int64(e) <= r.epochLimit(now) {
			return true
		}
	}
	r.note("epoch-refused", "%d refuses %s of epoch %d from %d: elections since epoch %d %dns ago reach %d at most",
		r.cfg.ID, m.Kind(), e, from, r.guard.baseEpoch, now-r.guard.baseAt, r.epochLimit(now))
	return false
}

// vouchedEpoch is the highest epoch that a majority of the other voters claimed, -1 if
// none. This member's own epoch is below every claim, so it cannot help.
func (r *Raft) vouchedEpoch() int32 {
	cs := slices.Clone(r.guard.claims)
	if r.voterIdx >= 0 {
		cs[r.voterIdx] = -1
	}
	slices.SortFunc(cs, func(a, b int32) int { return cmp.Compare(b, a) })
	return cs[r.majority-1]
}

// messageEpoch is the epoch a message carries: the one a receiver would adopt.
func messageEpoch(m Message) int32 {
	switch m := m.(type) {
	case *VoteRequest:
		return m.Epoch
	case *VoteResponse:
		return m.Epoch
	case *BeginQuorumEpoch:
		return m.Epoch
	case *BeginQuorumEpochResponse:
		return m.Epoch
	case *Fetch:
		return m.Epoch
	case *FetchResponse:
		return m.Epoch
	case *FetchSnapshot:
		return m.Epoch
	case *FetchSnapshotResponse:
		return m.Epoch
	case *EpochQuery:
		return m.Epoch
	case *EpochAnswer:
		return m.Epoch
	}
	return math.MaxInt32 // not a message of this package: refused
}
