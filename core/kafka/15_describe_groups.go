package kafka

// DescribeGroups, key 15, versions 0-5.
//
// Deviations from Apache Kafka:
//   - Authorized operations (v3+) are not computed: -2147483648 whether asked or not.
//   - Members' client hosts are empty: the node does not see client addresses.
//
// As in Kafka up to v5, a group the coordinator does not know is answered Dead with no
// error (GROUP_ID_NOT_FOUND is v6+, not served); members carry metadata and assignment
// only while the group is Stable; each group is routed on its own, so one request may
// get NOT_COORDINATOR for some groups and answers for others.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups describes each group in request order.
func DescribeGroups(b Broker, req *kmsg.DescribeGroupsRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.SetVersion(req.GetVersion())
	for _, id := range req.Groups {
		d := describeGroup(b, id)
		if req.GetVersion() < 4 {
			for i := range d.Members {
				d.Members[i].InstanceID = nil // v4+ (KIP-345)
			}
		}
		resp.Groups = append(resp.Groups, d)
	}
	reply(resp)
}

func describeGroup(b Broker, id string) kmsg.DescribeGroupsResponseGroup {
	c, code := groupCoordinator(b, acl.OpDescribe, id, false)
	if code != 0 {
		d := kmsg.NewDescribeGroupsResponseGroup()
		d.Group, d.ErrorCode = id, code
		return d
	}
	return c.DescribeGroup(b.Now(), id)
}
