package kafka

// DescribeCluster, key 60, versions 0-2.
//
// Deviations from Apache Kafka: like Metadata, answered after a read barrier, so it is
// linearizable; ControllerID is the answering broker (it forwards admin requests); v1's
// EndpointType "controller" is not served (controllers are not reachable by clients).
// v2's IncludeFencedBrokers lists fenced brokers too, marked IsFenced, as Kafka does.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster lists the unfenced brokers.
func DescribeCluster(v View, req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.SetVersion(req.GetVersion())
	if req.EndpointType > 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return resp
	}
	resp.ClusterID = v.ClusterID
	resp.ControllerID = v.NodeID
	resp.EndpointType = 1
	resp.ClusterAuthorizedOperations = authorizedOperationsNone
	for _, b := range v.Image.Brokers() {
		l, ok := b.Endpoint(v.Listener)
		if (b.Fenced && !req.IncludeFencedBrokers) || !ok {
			continue
		}
		db := kmsg.DescribeClusterResponseBroker{NodeID: b.ID, Host: l.Host, Port: l.Port, IsFenced: b.Fenced}
		if b.Rack != "" {
			rack := b.Rack
			db.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, db)
	}
	return resp
}
