package kafka

// SyncGroup, key 14, versions 0-5.
//
// Deviations from Apache Kafka: none here; core/group documents the coordinator's (an
// assignment is handed out only once it is durable on the ISR, as in Kafka). As in
// Kafka, an empty group id is INVALID_GROUP_ID and a broker that does not coordinate the
// group answers NOT_COORDINATOR (or the coordinator's load/availability code).

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup routes a sync to the group's coordinator.
func SyncGroup(b Broker, req *kmsg.SyncGroupRequest, reply func(kmsg.Response)) {
	c, code := groupCoordinator(b, acl.OpRead, req.Group, true)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		reply(resp)
		return
	}
	c.SyncGroup(b.Now(), req, func(resp *kmsg.SyncGroupResponse) {
		resp.SetVersion(req.GetVersion())
		if req.GetVersion() < 5 {
			resp.ProtocolType, resp.Protocol = nil, nil // v5+ (KIP-559)
		}
		reply(resp)
	})
}
