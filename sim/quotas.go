package sim

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client quotas in the fault mix (DataConfig.QuotaRate): at the start of a run a quota
// client gives the producers' client ids, or the default client-id, a
// producer_byte_rate, and removes it when the liveness phase starts. The producers do
// not back off by themselves, so only the brokers' mutes hold them to the rate;
// quotacheck.go checks that a muted connection is not served and that what a client id
// produced stays within what the windowed rate allows.

// drawQuotas draws, from its own stream, whether a seed runs with a quota (a quarter of
// the seeds with producers), its rate and whether it is the default client-id's.
func drawQuotas(seed uint64, d *DataConfig) {
	rng := Stream(seed, streamQuota, 0)
	if !d.On() || len(d.Producers) == 0 || rng.IntN(4) != 0 {
		return
	}
	d.QuotaRate = float64(int64(2048) << rng.IntN(5)) // 2 to 32 KiB/s
	d.QuotaDefault = rng.IntN(2) == 0
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
		en.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: "producer_byte_rate", Value: w.cfg.Data.QuotaRate}}
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
			en.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: "producer_byte_rate", Remove: true}}
		}
		req.Entries = append(req.Entries, en)
	}
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
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
		} else {
			w.cov.Inc("quota:set")
		}
	})
}

// clientID is the client id the client's requests carry.
func (c *Client) clientID() string { return fmt.Sprintf("sim-client-%d", c.id) }

// quotaWindow is the span quotacheck.go measures produced bytes over: the nodes'
// quota.window.num windows of quota.window.size (Kafka's defaults).
const quotaWindow = 11 * time.Second
