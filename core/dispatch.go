package core

import (
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dispatchData routes the requests served by partitions and group coordinators. It
// returns false for a key without a handler.
func (n *Node) dispatchData(req Request, reply func(kmsg.Response)) bool {
	switch m := req.Msg.(type) {
	case *kmsg.ProduceRequest:
		kafka.Produce(n, m, reply)
	case *kmsg.FetchRequest:
		kafka.Fetch(n, m, reply)
	case *kmsg.ListOffsetsRequest:
		kafka.ListOffsets(n, m, reply)
	case *kmsg.OffsetForLeaderEpochRequest:
		kafka.OffsetForLeaderEpoch(n, m, reply)
	case *kmsg.DeleteRecordsRequest:
		kafka.DeleteRecords(n, m, reply)
	case *kmsg.DescribeProducersRequest:
		reply(kafka.DescribeProducers(n, m))
	case *kmsg.InitProducerIDRequest:
		kafka.InitProducerID(n, m, reply)
	case *kmsg.AddPartitionsToTxnRequest:
		kafka.AddPartitionsToTxn(n, m, reply)
	case *kmsg.AddOffsetsToTxnRequest:
		kafka.AddOffsetsToTxn(n, m, reply)
	case *kmsg.EndTxnRequest:
		kafka.EndTxn(n, m, reply)
	case *kmsg.TxnOffsetCommitRequest:
		kafka.TxnOffsetCommit(n, m, reply)
	case *kmsg.WriteTxnMarkersRequest:
		if n.cfg.Plants.On(plant.ClientMarkersAccepted) {
			// Planted bug: a client's markers decide other producers' transactions.
			n.writeMarkers(m, func(r *kmsg.WriteTxnMarkersResponse) { reply(r) })
			return true
		}
		reply(kafka.WriteTxnMarkers(m))
	case *kmsg.DescribeTransactionsRequest:
		reply(kafka.DescribeTransactions(n, m))
	case *kmsg.ListTransactionsRequest:
		reply(kafka.ListTransactions(n, m))
	case *kmsg.DescribeConfigsRequest:
		if n.cfg.Authorizer {
			// Authorized on an image a read barrier made current.
			n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.DescribeConfigs(v, m) })
			return true
		}
		reply(kafka.DescribeConfigs(n.view(), m))
	default:
		return n.dispatchGroup(req, reply)
	}
	return true
}

// dispatchGroup routes the requests served by group coordinators.
func (n *Node) dispatchGroup(req Request, reply func(kmsg.Response)) bool {
	switch m := req.Msg.(type) {
	case *kmsg.FindCoordinatorRequest:
		kafka.FindCoordinator(n, m, reply)
	case *kmsg.JoinGroupRequest:
		kafka.JoinGroup(n, m, req.ClientID, reply)
	case *kmsg.SyncGroupRequest:
		kafka.SyncGroup(n, m, reply)
	case *kmsg.HeartbeatRequest:
		kafka.Heartbeat(n, m, reply)
	case *kmsg.LeaveGroupRequest:
		kafka.LeaveGroup(n, m, reply)
	case *kmsg.OffsetCommitRequest:
		kafka.OffsetCommit(n, m, reply)
	case *kmsg.OffsetFetchRequest:
		kafka.OffsetFetch(n, m, reply)
	case *kmsg.DescribeGroupsRequest:
		kafka.DescribeGroups(n, m, reply)
	case *kmsg.ListGroupsRequest:
		kafka.ListGroups(n, m, reply)
	case *kmsg.DeleteGroupsRequest:
		kafka.DeleteGroups(n, m, reply)
	case *kmsg.OffsetDeleteRequest:
		kafka.OffsetDelete(n, m, reply)
	default:
		return false
	}
	return true
}
