package kafka

// DeleteGroups, key 42, versions 0-2.
//
// Deviations from Apache Kafka: a group named twice in one request is deleted once, and
// each mention gets that outcome (Kafka answers it once). As in Kafka, only an Empty
// group can be deleted (NON_EMPTY_GROUP otherwise, GROUP_ID_NOT_FOUND for an unknown
// one), each group is routed to its own coordinator, and a group is answered once its
// tombstones are durable.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups deletes each group through its coordinator and answers, in request
// order, once every group has an outcome.
func DeleteGroups(b Broker, req *kmsg.DeleteGroupsRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.SetVersion(req.GetVersion())
	out := make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	first := map[string]int{} // group id -> index of its first mention
	g := newGather(func() {
		for i, id := range req.Groups {
			out[i].ErrorCode = out[first[id]].ErrorCode
		}
		resp.Groups = out
		reply(resp)
	})
	for i, id := range req.Groups {
		out[i] = kmsg.NewDeleteGroupsResponseGroup()
		out[i].Group = id
		if _, dup := first[id]; dup {
			continue
		}
		first[id] = i
		c, code := groupCoordinator(b, acl.OpDelete, id, false)
		if code != 0 {
			out[i].ErrorCode = code
			continue
		}
		g.add()
		c.DeleteGroup(b.Now(), id, func(code int16) {
			out[i].ErrorCode = code
			g.answered()
		})
	}
	g.close()
}
