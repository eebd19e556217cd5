package kafka

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/group"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupCoordinator returns the coordinator of a group, or the code to answer with.
// needsID is set for the APIs Kafka refuses an empty group id with INVALID_GROUP_ID.
func groupCoordinator(b Broker, op acl.Operation, groupID string, needsID bool) (*group.Coordinator, int16) {
	if needsID && groupID == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	if code := b.View().CheckGroup(op, groupID); code != 0 {
		return nil, code
	}
	c, code := b.Coordinator(groupID)
	if code != 0 {
		return nil, code
	}
	if c == nil {
		panic("kafka: Broker.Coordinator returned no coordinator and no error")
	}
	return c, 0
}
