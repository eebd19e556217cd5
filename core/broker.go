package core

import (
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerListener names the listener registered when the configuration lists none.
const brokerListener = "PLAINTEXT"

// brokerState is the broker's standing with the active controller: its registration,
// its heartbeats and the lease they grant.
//
// The lease is what lets a deposed partition leader stop before a new one starts
// (DESIGN.md 4.3): the broker may lead only until LeaseDuration after it *sent* the last
// heartbeat the controller acknowledged unfenced, measured on its own clock; the
// controller fences it only after a session timeout long enough that, with the bounded
// clock drift, every such lease has ended (controller.LeaseSafe).
type brokerState struct {
	incarnation [16]byte
	epoch       int64 // -1 until registered
	registering bool
	registerAt  int64 // when to try registering again after a refusal
	heartbeat   bool  // a heartbeat is in flight
	nextBeat    int64 // when the next heartbeat is due
	reported    int64 // the metadata offset the last heartbeat reported
	fenced      bool
	leaseEnd    int64 // local time at which the lease lapses
	shutdown    bool  // controlled shutdown requested
	shutdownOK  bool  // the controller moved every leadership away
	// leaderless is when this node last saw the metadata quorum without a leader it
	// knows of, -1 while it knows one.
	leaderless int64
	shutdownAt int64 // when Shutdown was called
}

// shutdownGiveUp is how long, in election timeouts, a broker in controlled shutdown
// waits while the quorum has no leader before it stops anyway: the last broker of a
// cluster stopping one by one (its fellow voters gone) has no controller to move its
// leaderships, nor anywhere to move them. Stopping then is a crash as far as its data is
// concerned (everything acknowledged is durable), and it saves the wait for
// controlled.shutdown.timeout.ms.
const shutdownGiveUp = 3

func (n *Node) startBroker(now int64, rec disk.Recovered) {
	b := &n.broker
	for i := range b.incarnation {
		b.incarnation[i] = byte(n.rng.Uint32())
	}
	b.epoch, b.fenced, b.leaderless = -1, true, now
	n.startReplicas(now, rec)
	n.register()
}

func (n *Node) register() {
	b := &n.broker
	b.registering = true
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.SetVersion(0)
	req.BrokerID = n.cfg.NodeID
	req.ClusterID = n.cfg.ClusterID
	req.IncarnationID = b.incarnation
	req.Listeners = registrationListeners(n.cfg)
	if n.cfg.Rack != "" {
		req.Rack = &n.cfg.Rack
	}
	n.rpc.callControllerWithin(n, req, n.cfg.HeartbeatInterval, func(resp kmsg.Response, err error) {
		b.registering = false
		b.registerAt = n.now + int64(n.cfg.HeartbeatInterval)/4
		r, _ := resp.(*kmsg.BrokerRegistrationResponse)
		switch {
		case err != nil || r == nil:
			n.note("broker-register-retry", fmt.Sprint(err))
		case r.ErrorCode != 0:
			n.note("broker-register-refused", kerr.ErrorForCode(r.ErrorCode).Error())
		default:
			b.epoch = r.BrokerEpoch
			b.nextBeat = n.now
			n.note("broker-registered", fmt.Sprintf("broker %d epoch %d", n.cfg.NodeID, b.epoch))
		}
	})
}

func (n *Node) sendHeartbeat() {
	b := &n.broker
	b.heartbeat = true
	sentAt := n.now
	b.nextBeat = sentAt + int64(n.cfg.HeartbeatInterval)
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.SetVersion(0)
	req.BrokerID = n.cfg.NodeID
	req.BrokerEpoch = b.epoch
	req.CurrentMetadataOffset = n.quorum.image.Offset()
	b.reported = req.CurrentMetadataOffset
	req.WantShutdown = b.shutdown
	epoch := b.epoch
	n.rpc.callControllerWithin(n, req, n.cfg.HeartbeatInterval, func(resp kmsg.Response, err error) {
		b.heartbeat = false
		r, _ := resp.(*kmsg.BrokerHeartbeatResponse)
		if err != nil || r == nil || b.epoch != epoch {
			return
		}
		switch r.ErrorCode {
		case 0:
		case kerr.StaleBrokerEpoch.Code, kerr.BrokerIDNotRegistered.Code:
			// The controller lost or replaced the registration: register again.
			b.epoch, b.fenced = -1, true
			n.note("broker-reregister", kerr.ErrorForCode(r.ErrorCode).Error())
			return
		case kerr.OffsetNotAvailable.Code:
			// The metadata lags an ACL change or a leadership taken from this broker: no
			// lease until it is applied, which is a matter of milliseconds; ask again
			// soon rather than a whole interval later.
			b.nextBeat = min(b.nextBeat, n.now+int64(n.cfg.HeartbeatInterval)/8)
			n.note("broker-metadata-behind", fmt.Sprintf("metadata offset %d lags an ACL change or a leadership taken", req.CurrentMetadataOffset))
			return
		default:
			return
		}
		wasFenced := b.fenced
		b.fenced = r.IsFenced
		if !r.IsFenced && !b.shutdown {
			// A broker in controlled shutdown gave its lease up (Shutdown): the
			// controller moves its leaderships without waiting for a lease to end.
			b.leaseEnd = max(b.leaseEnd, sentAt+int64(n.cfg.LeaseDuration))
		}
		if wasFenced != b.fenced {
			n.note("broker-fenced", fmt.Sprintf("broker %d fenced=%v", n.cfg.NodeID, b.fenced))
		}
		b.shutdownOK = r.ShouldShutdown
		n.leaseChanged()
	})
}

// aclsApplied asks for a heartbeat at once when the image just took an ACL change the
// controller has not heard this broker apply: the controller acknowledges the change
// only once every broker holding a lease has applied it.
func (n *Node) aclsApplied() {
	b := &n.broker
	if n.cfg.Broker && b.epoch >= 0 && n.quorum.image.AclChangedAt() > b.reported {
		b.nextBeat = min(b.nextBeat, n.now)
	}
}

func (n *Node) tickBroker(now int64) {
	if !n.cfg.Broker {
		return
	}
	b := &n.broker
	switch {
	case b.epoch < 0 && !b.registering && now >= b.registerAt:
		n.register()
	case b.epoch >= 0 && !b.heartbeat && now >= b.nextBeat:
		n.sendHeartbeat()
	}
	n.tickReplicas(now)
}

func (n *Node) brokerDeadline() int64 {
	if !n.cfg.Broker {
		return NoDeadline
	}
	d := n.replicasDeadline()
	if b := &n.broker; b.epoch >= 0 && !b.heartbeat {
		d = min(d, b.nextBeat)
	} else if b.epoch < 0 && !b.registering {
		d = min(d, b.registerAt)
	}
	if n.broker.leaseEnd > n.now {
		d = min(d, n.broker.leaseEnd)
	}
	if b := &n.broker; b.shutdown && !b.shutdownOK && b.leaderless >= 0 && n.shutdownGiveUpAt() > n.now {
		d = min(d, n.shutdownGiveUpAt())
	}
	return d
}

// LeaseValid reports whether the broker may act as a partition leader at now.
func (n *Node) LeaseValid(now int64) bool {
	b := &n.broker
	return b.epoch >= 0 && !b.fenced && now < b.leaseEnd
}

// Shutdown asks the controller to move every leadership off this broker; ShutdownReady
// reports when that is done and the node may stop without making partitions unavailable.
//
// The controller moves the leaderships of a broker in controlled shutdown at once,
// without waiting for its lease to run out (core/controller), so the broker gives its
// lease up first: from now on it leads nothing, and no heartbeat answer gives the lease
// back. Its next heartbeat, which asks for the shutdown, is due at once.
func (n *Node) Shutdown() {
	b := &n.broker
	if b.shutdown || !n.cfg.Broker {
		b.shutdown = true
		return
	}
	b.shutdown, b.shutdownAt = true, n.now
	b.leaseEnd = min(b.leaseEnd, n.now)
	if !b.heartbeat {
		b.nextBeat = min(b.nextBeat, n.now)
	}
	n.note("broker-shutdown", fmt.Sprintf("broker %d gives its lease up and asks the controller to move its leaderships", n.cfg.NodeID))
}

// ShutdownReady reports whether a controlled shutdown completed: the controller moved
// every leadership away, or the quorum has had no leader for shutdownGiveUp election
// timeouts since the shutdown began.
func (n *Node) ShutdownReady() bool {
	b := &n.broker
	giveUp := b.shutdown && b.leaderless >= 0 && n.now >= n.shutdownGiveUpAt() && !n.cfg.Plants.On(plant.ShutdownWaitsForQuorum)
	return !n.cfg.Broker || b.shutdownOK || giveUp
}

// shutdownGiveUpAt is when a controlled shutdown stops waiting for a quorum leader.
func (n *Node) shutdownGiveUpAt() int64 {
	return max(n.broker.leaderless, n.broker.shutdownAt) + shutdownGiveUp*int64(n.cfg.Timing.ElectionTimeout)
}

// watchQuorumLeader notes when the quorum lost the last leader this node knew of.
func (n *Node) watchQuorumLeader() {
	b := &n.broker
	switch known := n.quorum.raft.Status().Leader >= 0; {
	case known:
		b.leaderless = -1
	case b.leaderless < 0:
		b.leaderless = n.now
	}
}

// metadataChanged reacts to a new committed image: the controller learns it, barriers
// waiting for it complete, and the broker's replicas follow it.
func (n *Node) metadataChanged(now int64) {
	n.ctrl.committed(n, n.quorum.image)
	n.rpc.settleBarriers(n)
	if n.cfg.Broker {
		n.syncReplicas(now)
		n.syncCoordinators(now)
	}
}

func registrationListeners(cfg Config) []kmsg.BrokerRegistrationRequestListener {
	ls := cfg.Listeners
	if len(ls) == 0 {
		ls = []Listener{{Name: brokerListener, Host: cfg.Host, Port: cfg.Port}}
	}
	out := make([]kmsg.BrokerRegistrationRequestListener, len(ls))
	for i, l := range ls {
		out[i] = kmsg.BrokerRegistrationRequestListener{Name: l.Name, Host: l.Host, Port: uint16(l.Port), SecurityProtocol: l.SecurityProtocol}
	}
	return out
}
