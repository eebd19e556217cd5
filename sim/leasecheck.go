package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// leaseInvariants checks leases against committed metadata and the controller's fencing
// against the leases it granted, after every step of a node:
//
//   - no broker holds a valid lease (on its own clock) while it is fenced in the newest
//     committed metadata any node applied: a fenced broker's partitions move on, and
//     its lease must have ended before the fencing was decided (DESIGN.md 4.3);
//   - an active controller fences a broker (not in controlled shutdown, which gives its
//     lease up) only after the lease its last heartbeat can have granted has ended:
//     later than LeaseDuration*(1+drift)/(1-drift) after that heartbeat reached it, on
//     its clock, computed here from the run's timing rather than the controller's.
type leaseInvariants struct {
	w *World
	// newestImage is the highest metadata image offset any node applied, and fenced the
	// brokers fenced in it.
	newestImage int64
	fenced      []int32
	brokers     []int32
	// unfenced holds, per (controller node, broker, registration epoch) seen unfenced in
	// that controller's view, when the controller had last heard from the broker then,
	// to catch the step that fences it. A step that fences a broker may also take a
	// heartbeat from it (the session ran out first): the fence is judged by what the
	// controller had heard before the step.
	unfenced map[fenceKey]int64
	// controllers holds, by node index, what each controller showed at its last step.
	controllers []controllerSeen
	// seen and ids are scratch space for reading a controller's brokers, and note
	// appends to seen.
	seen []ControllerBroker
	ids  []int32
	note func(ControllerBroker)
	// leaseSpan bounds, on a controller's clock, how long after a heartbeat reached it
	// the lease that heartbeat granted can last.
	leaseSpan int64
}

// controllerSeen is what a controller showed at its last step: whether it was active,
// and then the brokers it showed, all of which were checked. While it stays active and
// shows the same brokers, checking them again would change nothing: each unfenced one
// is in unfenced already, and each fenced one is not.
type controllerSeen struct {
	active  bool
	brokers []ControllerBroker
}

type fenceKey struct {
	controller, broker int32
	epoch              int64
}

func newLeaseInvariants(w *World) *leaseInvariants {
	t := w.cfg.Timing
	l := &leaseInvariants{
		w: w, newestImage: -1, brokers: w.cfg.Brokers(), unfenced: map[fenceKey]int64{}, controllers: make([]controllerSeen, len(w.nodes)),
		leaseSpan: int64(math.Ceil(float64(t.LeaseDuration) * (1 + t.ClockDriftMax) / (1 - t.ClockDriftMax))),
	}
	l.note = func(b ControllerBroker) { l.seen = append(l.seen, b) }
	return l
}

// check runs the invariants after node n took an input; it returns the checker that
// failed with its error. Unless n stepped (took an input since its last check), its
// controller shows what it showed then.
func (l *leaseInvariants) check(n *simNode, stepped bool) (string, error) {
	ins := l.w.opts.Inspect
	if stepped && ins.ImageOffset != nil && ins.FencedBrokers != nil {
		if off := ins.ImageOffset(n.m); off > l.newestImage {
			l.newestImage = off
			l.fenced = ins.FencedBrokers(n.m, l.brokers, l.fenced)
		}
	}
	id := n.spec.ID
	if n.spec.Broker && ins.LeaseValid != nil && slices.Contains(l.fenced, id) && ins.LeaseValid(n.m, n.localNow()) {
		return "invariant:lease", fmt.Errorf("broker %d holds a valid lease while fenced in the newest committed metadata (offset %d)", id, l.newestImage)
	}
	if ins.Controller == nil || !n.spec.Voter || !stepped {
		return "", nil
	}
	l.seen = l.seen[:0]
	var active bool
	active, l.ids = ins.Controller(n.m, l.ids, l.note)
	last := &l.controllers[id-1]
	if !active {
		if last.active {
			// A controller that activates again hears every broker anew: what it saw
			// before says nothing about its next view.
			last.active = false
			// order-independent: deleting every key of one controller, whatever the order.
			for k := range l.unfenced {
				if k.controller == id {
					delete(l.unfenced, k)
				}
			}
		}
		return "", nil
	}
	if last.active && slices.Equal(last.brokers, l.seen) {
		return "", nil
	}
	last.active = true
	last.brokers, l.seen = l.seen, last.brokers
	now := n.localNow()
	for _, b := range last.brokers {
		k := fenceKey{id, b.ID, b.Epoch}
		heard, seen := l.unfenced[k]
		if !b.Fenced {
			l.unfenced[k] = b.LastHeartbeat
			continue
		}
		if !seen {
			continue
		}
		delete(l.unfenced, k)
		if b.ShuttingDown {
			continue
		}
		l.w.cov.Inc("check:fence-after-lease")
		if end := heard + l.leaseSpan; now <= end {
			return "invariant:fence", fmt.Errorf("controller %d fenced broker %d (epoch %d) %v after its last heartbeat, before the lease it granted could have ended (%v after it, with the clock drift allowed)",
				id, b.ID, b.Epoch, time.Duration(now-heard), time.Duration(l.leaseSpan))
		}
	}
	return l.checkReplaced(id, now)
}

// checkReplaced judges the registrations this controller showed unfenced and now
// replaced by a newer one of the same broker (a restarted broker re-registering): the
// step fenced them, and must have waited for their leases as a fencing does.
func (l *leaseInvariants) checkReplaced(id int32, now int64) (string, error) {
	var gone []fenceKey
	// order-independent: the keys found are sorted before anything depends on them.
	for k := range l.unfenced {
		if k.controller != id {
			continue
		}
		i := slices.IndexFunc(l.controllers[id-1].brokers, func(b ControllerBroker) bool { return b.ID == k.broker })
		if i >= 0 && l.controllers[id-1].brokers[i].Epoch != k.epoch {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b fenceKey) int { return cmp.Or(cmp.Compare(a.broker, b.broker), cmp.Compare(a.epoch, b.epoch)) })
	for _, k := range gone {
		heard := l.unfenced[k]
		delete(l.unfenced, k)
		l.w.cov.Inc("check:reregister-after-lease")
		if end := heard + l.leaseSpan; now <= end {
			return "invariant:fence", fmt.Errorf("controller %d replaced broker %d's registration (epoch %d) by a new one %v after its last heartbeat, before the lease it granted could have ended (%v after it, with the clock drift allowed)",
				id, k.broker, k.epoch, time.Duration(now-heard), time.Duration(l.leaseSpan))
		}
	}
	return "", nil
}
