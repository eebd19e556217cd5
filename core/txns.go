package core

import (
	"fmt"
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnTopic is the internal topic holding the transaction coordinators' state.
const TxnTopic = "__transaction_state"

// markerTimeout bounds one round of markers to one leader. The coordinator sends the
// partitions that did not answer again, so a leader that went away costs one timeout.
const markerTimeout = 5 * time.Second

// writeTxnMarkersKey is the Kafka key of WriteTxnMarkers, the one call brokers make to
// each other rather than to the controller.
const writeTxnMarkersKey = 27

// newTxnHost is the host of the transaction coordinators, one per __transaction_state
// partition this broker leads.
func newTxnHost() coordinatorHost[*txn.Coordinator] {
	return coordinatorHost[*txn.Coordinator]{
		topic:        TxnTopic,
		kind:         "transaction",
		label:        "transaction state",
		partitionFor: txn.PartitionFor,
		start: func(n *Node, now int64, part, epoch int32, log *internalLog) *txn.Coordinator {
			cfg := txn.DefaultConfig(part, epoch)
			cfg.MaxTimeout = n.cfg.TxnMaxTimeout
			cfg.IDExpiration = n.cfg.TxnIDExpiration
			cfg.NewProducerID = n.ProducerID
			cfg.SendMarkers = n.sendMarkers
			cfg.Plants = n.cfg.Plants
			cfg.Events = n.txnEvent
			return txn.NewCoordinator(now, cfg, log)
		},
		topicConfig: func(n *Node, live int) (int32, int16, map[string]string, bool) {
			rf, ok := liveReplication(live, n.cfg.Defaults.TxnTopicReplicationFactor)
			// Kafka's transaction.state.log.min.isr is 2: a coordinator's answer survives
			// the loss of any one replica.
			minISR := fmt.Sprint(min(2, rf))
			return n.cfg.Defaults.TxnTopicPartitions, rf,
				map[string]string{"cleanup.policy": "compact", "min.insync.replicas": minISR}, ok
		},
	}
}

// syncCoordinators starts the group and transaction coordinators of the internal
// partitions this broker newly leads and closes those it no longer leads.
func (n *Node) syncCoordinators(now int64) {
	n.groups.sync(n, now)
	n.txns.sync(n, now)
}

// txnEvent makes a note of a transaction coordinator's event.
func (n *Node) txnEvent(e txn.Event) {
	n.out.Notes = append(n.out.Notes, Note{Kind: e.Kind.String(), Text: e.String()})
}

// TxnCoordinator returns the transaction coordinator of txnID if this broker runs it.
func (n *Node) TxnCoordinator(txnID string) (*txn.Coordinator, int16) {
	return n.txns.coordinator(n, txnID)
}

// FindTxnCoordinator locates the coordinator broker of a transactional id.
func (n *Node) FindTxnCoordinator(txnID string, reply func(node int32, host string, port int32, code int16)) {
	n.txns.find(n, txnID, reply)
}

// TxnCoordinators lists this broker's transaction coordinators.
func (n *Node) TxnCoordinators() []*txn.Coordinator { return n.txns.all() }

// OffsetsPartition is the __consumer_offsets partition holding a group's offsets: the
// one a transaction that commits the group's offsets writes a marker to.
func (n *Node) OffsetsPartition(groupID string) txn.TopicPartition {
	parts := n.cfg.Defaults.OffsetsTopicPartitions
	if t, ok := n.quorum.image.Topic(OffsetsTopic); ok {
		parts = t.Partitions
	}
	return txn.TopicPartition{Topic: OffsetsTopic, Partition: group.PartitionFor(groupID, parts)}
}

// sendMarkers writes one ended transaction's markers: through this broker's own
// replicas where it leads, as a WriteTxnMarkers call to the leader elsewhere. done gets
// a code per partition, in m.Partitions' order.
func (n *Node) sendMarkers(now int64, m txn.MarkerRequest, done func([]int16)) {
	codes := make([]int16, len(m.Partitions))
	byLeader := map[int32][]int{}
	im := n.quorum.image
	for i, tp := range m.Partitions {
		t, ok := im.Topic(tp.Topic)
		if !ok || tp.Partition < 0 || tp.Partition >= t.Partitions {
			codes[i] = kerr.UnknownTopicOrPartition.Code
			continue
		}
		leader, _, ok := im.LeaderOf(t.ID, tp.Partition)
		if !ok || leader < 0 {
			codes[i] = kerr.NotLeaderForPartition.Code
			continue
		}
		byLeader[leader] = append(byLeader[leader], i)
	}
	pending := 1 // released below, so that an answer made at once cannot finish early
	finish := func() {
		if pending--; pending == 0 {
			done(codes)
		}
	}
	for _, leader := range sortedKeys(byLeader) {
		idx := byLeader[leader]
		req := markersRequest(m, idx)
		pending++
		n.rpc.callBroker(n, leader, req, markerTimeout, func(resp kmsg.Response, err error) {
			r, _ := resp.(*kmsg.WriteTxnMarkersResponse)
			for _, i := range idx {
				codes[i] = markerCode(r, err, m.Partitions[i])
			}
			finish()
		})
	}
	finish()
}

// markersRequest is the WriteTxnMarkers request for the partitions idx of m.
func markersRequest(m txn.MarkerRequest, idx []int) *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.SetVersion(1)
	if m.TransactionVersion >= 2 {
		req.SetVersion(2) // v2 carries the transaction version
	}
	mk := kmsg.NewWriteTxnMarkersRequestMarker()
	mk.ProducerID, mk.ProducerEpoch, mk.Committed, mk.CoordinatorEpoch = m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch
	mk.TransactionVersion = m.TransactionVersion
	for _, i := range idx {
		tp := m.Partitions[i]
		if k := len(mk.Topics); k == 0 || mk.Topics[k-1].Topic != tp.Topic {
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = tp.Topic
			mk.Topics = append(mk.Topics, t)
		}
		t := &mk.Topics[len(mk.Topics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
	req.Markers = append(req.Markers, mk)
	return req
}

// markerCode is a partition's outcome in a WriteTxnMarkers answer. A partition the
// answer leaves out did not get its marker.
func markerCode(r *kmsg.WriteTxnMarkersResponse, err error, tp txn.TopicPartition) int16 {
	if err != nil || r == nil || len(r.Markers) != 1 {
		return kerr.RequestTimedOut.Code
	}
	for _, t := range r.Markers[0].Topics {
		if t.Topic != tp.Topic {
			continue
		}
		for _, p := range t.Partitions {
			if p.Partition == tp.Partition {
				return p.ErrorCode
			}
		}
	}
	return kerr.RequestTimedOut.Code
}

// serveMarkerCall writes the markers another broker's transaction coordinator sent and
// answers with the outcome of each partition. Only the peer channel, where every sender
// proved it is a broker of the cluster, carries these calls.
func (n *Node) serveMarkerCall(from int32, m callMsg) {
	req, ok := m.req.(*kmsg.WriteTxnMarkersRequest)
	if !ok || !n.cfg.Broker {
		return
	}
	n.writeMarkers(req, func(resp *kmsg.WriteTxnMarkersResponse) {
		n.send(from, encodeAnswer(answerMsg{id: m.id, key: resp.Key(), version: resp.GetVersion(), body: resp.AppendTo(nil)}))
	})
}

// writeMarkers appends every marker of req to the partitions this broker leads and
// answers once each has an outcome. A marker durable in a __consumer_offsets partition
// also settles the transactional offset commits its group coordinator holds.
func (n *Node) writeMarkers(req *kmsg.WriteTxnMarkersRequest, reply func(*kmsg.WriteTxnMarkersResponse)) {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	resp.SetVersion(req.GetVersion())
	pending := 1
	finish := func() {
		if pending--; pending == 0 {
			reply(resp)
		}
	}
	resp.Markers = make([]kmsg.WriteTxnMarkersResponseMarker, len(req.Markers))
	for i, mk := range req.Markers {
		out := &resp.Markers[i]
		*out = kmsg.NewWriteTxnMarkersResponseMarker()
		out.ProducerID = mk.ProducerID
		out.Topics = make([]kmsg.WriteTxnMarkersResponseMarkerTopic, len(mk.Topics))
		for j, t := range mk.Topics {
			ot := &out.Topics[j]
			*ot = kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			ot.Topic = t.Topic
			ot.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			for k, p := range t.Partitions {
				op := &ot.Partitions[k]
				*op = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				op.Partition = p
				hr := n.replica(t.Topic, p)
				if hr == nil {
					op.ErrorCode = n.noReplicaCode(t.Topic, p)
					continue
				}
				pending++
				marker := partition.Marker{ProducerID: mk.ProducerID, ProducerEpoch: mk.ProducerEpoch,
					Commit: mk.Committed, CoordinatorEpoch: mk.CoordinatorEpoch, TransactionVersion: mk.TransactionVersion}
				topic := t.Topic
				n.withReplica(hr, func() {
					hr.r.WriteMarker(n.now, marker, markerTimeout, func(res partition.ProduceResult) {
						op.ErrorCode = res.Err
						if res.Err == 0 && topic == OffsetsTopic {
							if hc := n.groups.coords[p]; hc != nil {
								hc.c.CompleteTxn(n.now, marker.ProducerID, marker.Commit)
							}
						}
						finish()
					})
				})
			}
		}
	}
	finish()
}

// noReplicaCode is what a partition this broker holds no replica of answers.
func (n *Node) noReplicaCode(topic string, p int32) int16 {
	t, ok := n.quorum.image.Topic(topic)
	if !ok || p < 0 || p >= t.Partitions {
		return kerr.UnknownTopicOrPartition.Code
	}
	return kerr.NotLeaderForPartition.Code
}
