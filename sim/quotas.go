package sim

import (
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client quotas in the fault mix (DataConfig.QuotaRate): at the start of a run a quota
// client gives the producers' client ids, or the default client-id, a
// producer_byte_rate (and in half of those runs a request_percentage), and removes them
// when the liveness phase starts. The producers do not back off by themselves, so only
// the brokers' mutes hold them to the quotas; quotacheck.go checks that a muted
// connection is not served and that what a client id used stays within what the
// windowed rates allow.

// drawQuotas draws, from its own stream, whether a seed runs with a quota (a quarter of
// the seeds with producers), its rate, whether it is the default client-id's, and
// whether a request_percentage comes with it.
func drawQuotas(seed uint64, d *DataConfig) {
	rng := Stream(seed, streamQuota, 0)
	if !d.On() || len(d.Producers) == 0 || rng.IntN(4) != 0 {
		return
	}
	d.QuotaRate = float64(int64(2048) << rng.IntN(5)) // 2 to 32 KiB/s
	d.QuotaDefault = rng.IntN(2) == 0
	if rng.IntN(2) == 0 {
		d.QuotaRequestPercent = requestPercents[rng.IntN(len(requestPercents))]
	}
}

// requestPercents are the request_percentage quotas a run may set: with the simulated
// thread time of a request (requestThreadNanos), low enough that the producers go over
// them.
var requestPercents = []float64{0.05, 0.1, 0.2}

// requestThreadNanos is the simulated thread time of a request frame: a fixed cost and
// one per byte, with a spread drawn from the frame's content. The core counts it against
// request_percentage quotas as the node counts what it measures.
func requestThreadNanos(frame []byte) int64 {
	return 400_000 + 1000*int64(len(frame)) + int64(xxhash.Sum64(frame)%400_000)
}

// quotaSetter is the client that sets and removes the quota.
type quotaSetter struct {
	c       *Client
	entries []kmsg.AlterClientQuotasRequestEntry
	removed bool
}

func (w *World) startQuotas(producers []*producer) *quotaSetter {
	c := w.addClient(roleQuota)
	c.desc = "the quota client (it sets the producers' producer_byte_rate)"
	c.direct = true
	q := &quotaSetter{c: c}
	var names []*string
	if w.cfg.Data.QuotaDefault {
		names = []*string{nil}
	} else {
		for _, p := range producers {
			name := p.c.clientID()
			names = append(names, &name)
		}
	}
	for _, name := range names {
		en := kmsg.NewAlterClientQuotasRequestEntry()
		en.Entity = []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "client-id", Name: name}}
		en.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: metadata.QuotaProducerByteRate, Value: w.cfg.Data.QuotaRate}}
		if p := w.cfg.Data.QuotaRequestPercent; p > 0 {
			en.Ops = append(en.Ops, kmsg.AlterClientQuotasRequestEntryOp{Key: metadata.QuotaRequestPercentage, Value: p})
		}
		q.entries = append(q.entries, en)
	}
	q.alter(false)
	return q
}

// livenessStarted removes the quota: the liveness phase bounds how long the cluster
// takes to serve again, which a long throttle would stretch.
func (q *quotaSetter) livenessStarted() {
	if !q.removed {
		q.removed = true
		q.alter(true)
	}
}

// alter sends the quota (or its removal) until a broker acknowledges it.
func (q *quotaSetter) alter(remove bool) {
	c, w := q.c, q.c.w
	if w.failure != nil || q.removed != remove {
		return
	}
	req := kmsg.NewPtrAlterClientQuotasRequest()
	for _, en := range q.entries {
		if remove {
			ops := make([]kmsg.AlterClientQuotasRequestEntryOp, len(en.Ops))
			for i, op := range en.Ops {
				ops[i] = kmsg.AlterClientQuotasRequestEntryOp{Key: op.Key, Remove: true}
			}
			en.Ops = ops
		}
		req.Entries = append(req.Entries, en)
	}
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if !remove && q.removed {
			// The removal went out while this quota was on its way, and the controller
			// may apply this one last: remove it again, now that it has landed (or
			// will not).
			q.alter(true)
			return
		}
		done := err == nil
		if done {
			for _, e := range resp.(*kmsg.AlterClientQuotasResponse).Entries {
				done = done && e.ErrorCode == 0
			}
		}
		if !done {
			c.controller = -1
			c.later(opBackoff, func() { c.refreshMetadata(func() { q.alter(remove) }) })
			return
		}
		if remove {
			w.cov.Inc("quota:removed")
			c.later(opBackoff, q.verifyRemoved)
		} else {
			w.cov.Inc("quota:set")
		}
	})
}

// verifyRemoved looks, after the removal was acknowledged and then every second to the
// end of the run, for a quota in force: a set that failed at this client may still land
// after the removal (the broker it went through forwards it to the controller on its
// own), and is removed again.
func (q *quotaSetter) verifyRemoved() {
	c, w := q.c, q.c.w
	if w.failure != nil || w.phase == phaseEnd {
		return
	}
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	comp := kmsg.NewDescribeClientQuotasRequestComponent()
	comp.EntityType, comp.MatchType = "client-id", kmsg.QuotasMatchTypeAny
	if w.cfg.Data.QuotaDefault {
		comp.MatchType = kmsg.QuotasMatchTypeDefault
	}
	req.Components = append(req.Components, comp)
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if err != nil || resp.(*kmsg.DescribeClientQuotasResponse).ErrorCode != 0 {
			c.later(opBackoff, q.verifyRemoved)
			return
		}
		for _, e := range resp.(*kmsg.DescribeClientQuotasResponse).Entries {
			if len(e.Values) > 0 {
				w.cov.Inc("quota:removed-again")
				q.alter(true)
				return
			}
		}
		c.later(time.Second, q.verifyRemoved)
	})
}

// clientID is the client id the client's requests carry.
func (c *Client) clientID() string { return fmt.Sprintf("sim-client-%d", c.id) }

// quotaWindow is the span quotacheck.go measures what clients used over: the nodes'
// quota.window.num windows of quotaWindowSize (Kafka's defaults).
const (
	quotaWindow     = 11 * time.Second
	quotaWindowSize = time.Second
)
