package kafka

// ListGroups, key 16, versions 0-4.
//
// Deviations from Apache Kafka: none in what is answered. As in Kafka, a broker lists the
// groups of the coordinators it runs (clients ask every broker), sorted by group id here;
// while one of them is loading (or failed to load) the response carries its code, and
// the groups of the others. v4 filters by state, case-insensitively. Group types (v5,
// KIP-848) are not served: every seedlog group is classic.

import (
	"cmp"
	"github.com/seedlog/seedlog/core/acl"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups lists the groups of every local coordinator.
func ListGroups(b Broker, req *kmsg.ListGroupsRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.SetVersion(req.GetVersion())
	var filter []string
	if req.GetVersion() >= 4 {
		filter = req.StatesFilter
	}
	// DESCRIBE on the cluster lists every group; otherwise those it may describe.
	v := b.View()
	all := v.CheckCluster(acl.OpDescribe) == 0
	if a := v.Access; a != nil && !a.Fresh {
		resp.ErrorCode = retryCode(acl.ResourceGroup)
		reply(resp)
		return
	}
	for _, c := range b.Groups() {
		code := c.Availability()
		if code != 0 {
			// A closed coordinator's groups are listed by the broker that took over.
			if code != kerr.NotCoordinator.Code && resp.ErrorCode == 0 {
				resp.ErrorCode = code
			}
			continue
		}
		for _, l := range c.ListGroups(b.Now(), filter) {
			if !all && !v.Allowed(acl.OpDescribe, acl.ResourceGroup, l.Group) {
				continue
			}
			l.GroupType = "" // v5+
			if req.GetVersion() < 4 {
				l.GroupState = ""
			}
			resp.Groups = append(resp.Groups, l)
		}
	}
	slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return cmp.Compare(a.Group, b.Group) })
	reply(resp)
}
