package controller

import (
	"math"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// allocateProducerIDs hands a broker the next block of producer ids. Blocks come from
// one counter in the image that only moves up, so no two blocks overlap, across
// controller failovers included.
func (c *Controller) allocateProducerIDs(p Proposer, from int32, m *kmsg.AllocateProducerIDsRequest) kmsg.Response {
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	resp.Version = m.Version
	out, start := c.producerIDBlock(p, from, m)
	resp.ErrorCode = out.code
	if !out.failed() {
		resp.ProducerIDStart, resp.ProducerIDLen = start, int32(c.cfg.ProducerIDBlockSize)
	}
	return resp
}

func (c *Controller) producerIDBlock(p Proposer, from int32, m *kmsg.AllocateProducerIDsRequest) (outcome, int64) {
	if from != m.BrokerID {
		return fail(errClusterAuthorizationFailed, ""), 0
	}
	b, found := c.pending.Broker(m.BrokerID)
	switch {
	case !found:
		return fail(errBrokerIDNotRegistered, ""), 0
	case b.Epoch != m.BrokerEpoch:
		return fail(errStaleBrokerEpoch, ""), 0
	}
	start := c.pending.NextProducerID()
	if start > math.MaxInt64-c.cfg.ProducerIDBlockSize {
		return fail(errUnknownServerError, "producer ids exhausted"), 0
	}
	rec := metadata.ProducerIDs{BrokerID: b.ID, BrokerEpoch: b.Epoch, NextProducerID: start + c.cfg.ProducerIDBlockSize}
	if out := proposeOutcome(c.propose(p, []metadata.Record{rec})); out.failed() {
		return out, 0
	}
	return ok(), start
}
