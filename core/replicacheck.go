package core

import (
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
)

// replicaCheckStamp is what the replica set and the states given to it depend on:
// while it stays the same, CheckReplicas has nothing new to look at.
type replicaCheckStamp struct {
	offset                    int64
	hosted, creating, waiting int
}

// CheckReplicas compares the hosted replicas with what a sync of every partition would
// make of the image they were last brought in line with (syncReplicas visits only what
// each change touched): every partition the image places here is hosted, or waits for a
// creation slot while all are taken; every replica hosted is placed here, unless the
// broker is catching up on its metadata; each was last given the state the image and
// the configs say. It returns nil at once when nothing it depends on changed since its
// last call. The simulator calls it after every step of a broker.
func (n *Node) CheckReplicas() error {
	h := &n.replicas
	if !n.cfg.Broker || !h.syncedOnce {
		return nil
	}
	stamp := replicaCheckStamp{h.synced.Offset(), len(h.sorted), h.creating, len(h.waiting)}
	if stamp == h.checked {
		return nil
	}
	h.checked = stamp
	im := h.synced
	if im.Offset() != n.quorum.image.Offset() {
		return fmt.Errorf("replicas last synced with the image at offset %d, the node holds %d", im.Offset(), n.quorum.image.Offset())
	}
	settings := settingsCache{n: n, im: im}
	for _, tp := range im.PartitionsReplicatedOn(n.cfg.NodeID) {
		id := disk.PartitionLog(tp.Topic, tp.Partition)
		hr := h.byLog[id]
		switch {
		case hr == nil && h.waitingSet[id] && h.creating >= n.cfg.ReplicaCreatesMax:
		case hr == nil:
			return fmt.Errorf("replica %s: placed here at metadata offset %d, not hosted (%d creations under way, waiting: %v)", id, im.Offset(), h.creating, h.waitingSet[id])
		case hr.topicID != tp.TopicID:
			return fmt.Errorf("replica %s: hosted for topic id %x, the image's topic is %x", id, hr.topicID, tp.TopicID)
		default:
			if want := settings.state(tp); !want.Equal(hr.given) {
				return fmt.Errorf("replica %s: last given %+v, the image at offset %d says %+v", id, hr.given, im.Offset(), want)
			}
		}
	}
	if h.syncedCaughtUp {
		for _, hr := range h.sorted {
			if _, ok := n.wantedReplica(im, hr.id); !ok {
				return fmt.Errorf("replica %s: hosted, the image at offset %d does not place it here", hr.id, im.Offset())
			}
		}
	}
	return nil
}
