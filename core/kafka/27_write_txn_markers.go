package kafka

// WriteTxnMarkers, key 27, versions 0-2.
//
// Version 2 carries each marker's transaction version; coordinators send it for the
// markers of a transaction-version-2 end (whose epoch they bumped), version 1 otherwise.
//
// Deviations from Apache Kafka:
//   - Transaction coordinators send this request to partition leaders over the peer
//     listener, where each sender proved it is a broker of the cluster (core/txns.go).
//     On a client listener every partition is answered CLUSTER_AUTHORIZATION_FAILED,
//     whatever the ACLs say: writing markers decides other producers' transactions.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WriteTxnMarkers refuses markers from a client.
func WriteTxnMarkers(req *kmsg.WriteTxnMarkersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	resp.SetVersion(req.GetVersion())
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}
