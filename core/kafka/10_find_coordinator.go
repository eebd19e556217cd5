package kafka

// FindCoordinator, key 10, versions 0-5.
//
// Deviations from Apache Kafka:
//   - The coordinator is found from the broker's metadata image, without a read barrier:
//     a client sent to a broker that just lost the group's partition gets NOT_COORDINATOR
//     there and asks again.
//
// As in Kafka, the first request for a group creates the group offsets topic
// (__consumer_offsets), and the first for a transactional id (key type 1) the
// transaction state topic (__transaction_state); each is answered
// COORDINATOR_NOT_AVAILABLE meanwhile. A group key needs DESCRIBE on the group, a
// transactional one DESCRIBE on the id; v4+ batches
// keys and answers each in request order; an unknown key type is INVALID_REQUEST.

import (
	"fmt"
	"github.com/seedlog/seedlog/core/acl"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator key types.
const (
	coordinatorGroup       int8 = 0
	coordinatorTransaction int8 = 1
)

// FindCoordinator locates the coordinator of each key and answers once all are found.
func FindCoordinator(b Broker, req *kmsg.FindCoordinatorRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.SetVersion(req.GetVersion())
	keys := req.CoordinatorKeys
	if req.GetVersion() < 4 {
		keys = []string{req.CoordinatorKey}
	}
	found := make([]kmsg.FindCoordinatorResponseCoordinator, len(keys))
	g := newGather(func() {
		shapeFindResponse(resp, found)
		reply(resp)
	})
	for i, key := range keys {
		out := &found[i]
		*out = kmsg.NewFindCoordinatorResponseCoordinator()
		out.Key, out.NodeID, out.Port = key, -1, -1
		if code, msg := findRefusal(req.CoordinatorType); code != 0 {
			out.ErrorCode, out.ErrorMessage = code, &msg
			continue
		}
		find, rt := b.FindCoordinator, acl.ResourceGroup
		if req.CoordinatorType == coordinatorTransaction {
			find, rt = b.FindTxnCoordinator, acl.ResourceTransactionalID
		}
		if code := b.View().Check(acl.OpDescribe, rt, key); code != 0 {
			out.ErrorCode = code
			continue
		}
		g.add()
		find(key, func(node int32, host string, port int32, code int16) {
			out.ErrorCode = code
			if code == 0 {
				out.NodeID, out.Host, out.Port = node, host, port
			}
			g.answered()
		})
	}
	g.close()
}

// findRefusal is the error every key of a request gets for its key type, if any.
func findRefusal(keyType int8) (int16, string) {
	switch keyType {
	case coordinatorGroup, coordinatorTransaction:
		return 0, ""
	}
	return kerr.InvalidRequest.Code, fmt.Sprintf("unknown coordinator key type %d", keyType)
}

// shapeFindResponse puts the answers where the version carries them: the one key's in
// the top-level fields before v4, the list from v4.
func shapeFindResponse(resp *kmsg.FindCoordinatorResponse, found []kmsg.FindCoordinatorResponseCoordinator) {
	if resp.GetVersion() >= 4 {
		resp.Coordinators = found
		return
	}
	f := found[0]
	resp.ErrorCode, resp.ErrorMessage = f.ErrorCode, f.ErrorMessage
	resp.NodeID, resp.Host, resp.Port = f.NodeID, f.Host, f.Port
}
