package sim

import (
	"time"

	"github.com/seedlog/seedlog/netsim"
)

// Faults at the edges (wide.go). With FaultConfig.EdgePPM some fault durations (a
// crash's downtime, a pause, a partition) land close to one of the timeouts rather than
// anywhere below their bound: within 2% and a few milliseconds of a lease, a session
// timeout, a lease plus quorum fetch timeout, an election timeout, ... (edgeTimeouts),
// where a node's view flips just as it comes back. FaultConfig.LeaseEdge cuts a broker
// off (isolated, or paused) until just about the moment its current lease ends, as
// the inspection hook LeaseValid tells it: the heartbeat answers that would renew it
// and the lapse race each other. Both are ordinary steps of the schedule (a crash,
// pause or network fault with its duration), so scenarios replay them as they are.

// edgeSlack is how far from the exact moment an edge fault ends, either way.
const edgeSlack = 3 * time.Millisecond

// edgeDuration returns, with EdgePPM, a duration close to one of the timeouts.
func (f *faultSchedule) edgeDuration() (time.Duration, bool) {
	if f.cfg.EdgePPM <= 0 || f.rng.Int64N(1_000_000) >= f.cfg.EdgePPM {
		return 0, false
	}
	edges := edgeTimeouts(&f.w.cfg.Timing)
	e := int64(edges[f.rng.IntN(len(edges))])
	spread := e / 50
	d := e + f.rng.Int64N(2*spread+1) - spread + f.rng.Int64N(int64(2*edgeSlack)+1) - int64(edgeSlack)
	f.w.cov.Inc("fault:edge-duration")
	return time.Duration(max(d, 1)), true
}

// leaseEdge isolates or pauses a broker with a valid lease until just about the moment
// its lease ends; or, half of the time in a run with data, cuts a partition leader
// and every client off from the other nodes until well after its lease ended and
// the controller moved its partitions (splitLeader).
func (f *faultSchedule) leaseEdge() bool {
	w := f.w
	valid := w.opts.Inspect.LeaseValid
	if valid == nil {
		return false
	}
	if w.data != nil && f.rng.IntN(2) == 0 {
		return f.splitLeader()
	}
	var able []*simNode
	for _, n := range f.upNodes() {
		if n.spec.Broker && valid(n.m, n.localNow()) {
			able = append(able, n)
		}
	}
	if len(able) == 0 {
		return false
	}
	n := able[f.rng.IntN(len(able))]
	slack := f.rng.Int64N(int64(2*edgeSlack)+1) - int64(edgeSlack)
	pause := f.rng.IntN(2) == 0
	end, ok := f.leaseEnd(n)
	if !ok {
		return false
	}
	d := time.Duration(n.clock.virtual(end, w.now) - w.now + slack)
	if d <= 0 {
		return false
	}
	w.cov.Inc("fault:lease-edge")
	if pause {
		f.apply(Step{Kind: StepPause, Node: n.spec.ID, For: d}, nil)
	} else {
		f.apply(Step{Kind: StepNet, Net: netsim.Isolate(n.addr), For: d}, nil)
	}
	return true
}

// leaseEnd finds the local time at which node n's lease lapses if nothing renews it:
// LeaseValid is true before it and false from it on.
func (f *faultSchedule) leaseEnd(n *simNode) (int64, bool) {
	valid := f.w.opts.Inspect.LeaseValid
	t := &f.w.cfg.Timing
	lo := n.localNow()
	hi := lo + int64(float64(t.LeaseDuration)*(1+t.ClockDriftMax)) + int64(time.Second)
	if valid(n.m, hi) {
		return 0, false
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if valid(n.m, mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, true
}

// partitionLeader picks, three times in four in a run with data, a node that leads a
// partition, a group coordinator's first: crashing it makes the partition or the
// coordinator fail over.
func (f *faultSchedule) partitionLeader() *simNode {
	w := f.w
	if w.data == nil || w.opts.Inspect.Replicas == nil || f.rng.IntN(4) == 0 {
		return nil
	}
	var coordinators, leaders []*simNode
	for _, n := range f.upNodes() {
		if !n.spec.Broker {
			continue
		}
		coord, lead := false, false
		for _, r := range w.opts.Inspect.Replicas(n.m, nil) {
			if r.Leader && !r.Closed {
				coord = coord || r.Topic == coreOffsetsTopic
				lead = true
			}
		}
		if coord {
			coordinators = append(coordinators, n)
		}
		if lead {
			leaders = append(leaders, n)
		}
	}
	if len(coordinators) > 0 && len(w.cfg.Data.Groups) > 0 && f.rng.IntN(3) != 0 {
		return f.pick(coordinators)
	}
	return f.pick(leaders)
}

// splitLeader cuts a broker that leads a data partition, with every client on its
// side, off from the other nodes, for longer than the controller takes to fence it and
// elect new leaders. Until its lease ends it takes writes its followers never see
// (acks=1 ones are acknowledged); after the heal it follows the new leaders and
// truncates them: the divergent suffix of the classic acks=1 loss, which a leader
// crash rarely leaves (its followers fetch within a round trip of every append).
func (f *faultSchedule) splitLeader() bool {
	w := f.w
	var leaders []*simNode
	for _, n := range f.upNodes() {
		if !n.spec.Broker {
			continue
		}
		for _, r := range w.opts.Inspect.Replicas(n.m, nil) {
			if _, data := w.cfg.Data.topic(r.Topic); (data || r.Topic == coreOffsetsTopic) && r.Leader && !r.Closed {
				leaders = append(leaders, n)
				break
			}
		}
	}
	n := f.pick(leaders)
	if n == nil || len(w.cfg.Nodes) < 2 {
		return false
	}
	side := []netsim.Addr{n.addr}
	for _, c := range w.clients {
		side = append(side, c.addr)
	}
	t := &w.cfg.Timing
	// The controller moves leadership once the session expired by more than the lease
	// and the drift allowance (DESIGN.md 4.3).
	d := t.SessionTimeout + t.LeaseDuration + t.QuorumFetchTimeout + 2*t.ElectionTimeout + time.Duration(f.rng.Int64N(int64(2*time.Second)))
	w.cov.Inc("fault:lease-edge-split")
	f.apply(Step{Kind: StepNet, Net: netsim.Split(side...), For: d}, nil)
	return true
}
